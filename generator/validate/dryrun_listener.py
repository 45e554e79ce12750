"""The listener loaded into each `robot --dryrun` process (kept free of heavy imports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from robot.api.interfaces import ListenerV3

#: RF 7 reports every step to listeners; RF 6.1 (a repo's own interpreter may run it) only tests.
_BODY_ITEMS_REPORTED = hasattr(ListenerV3, "end_body_item")


class DryrunLineRecorder(ListenerV3):
    """Listener run inside the `robot --dryrun` process to learn the line of every failing step.

    RF 7's output.xml keeps line numbers for tests only, and matching keyword names back to
    the text is ambiguous (the same keyword on several lines, FOR/IF bodies, local
    keywords). The running model knows each step's source and line, and result ids are
    the same ones ExecutionResult reads back, so a `{result id: line}` map for the items of
    the file under test is exact. Robot imports it by path (`--listener <this file>:<json path>`),
    so the repo's own interpreter needs nothing of this tool installed. It lives in its own
    module importing only the standard library and Robot's API, because every dryrun process
    imports it: pulling in pydantic and anyio there cost a third of each dryrun.
    """

    def __init__(self, path: str):
        self._path = Path(path)
        self._source: Path | None = None
        self._lines: dict[str, int] = {}

    def start_suite(self, data: Any, result: Any) -> None:
        if self._source is None:
            self._source = data.source

    def start_test(self, data: Any, result: Any) -> None:
        """RF 6.x calls no `end_body_item`: the test's own steps are mapped by position instead,
        the way result ids number them (setup first, then the body, then the teardown)."""
        if _BODY_ITEMS_REPORTED:
            return
        steps = [*([data.setup] if data.setup else []), *data.body, *([data.teardown] if data.teardown else [])]
        for index, step in enumerate(steps, 1):
            if getattr(step, "lineno", None):
                self._lines[f"{result.id}-k{index}"] = step.lineno

    def end_body_item(self, data: Any, result: Any) -> None:
        source = getattr(data, "source", None)
        if result.id and data.lineno and source is not None and source == self._source:
            self._lines[result.id] = data.lineno

    def close(self) -> None:
        self._path.write_text(json.dumps(self._lines), encoding="utf-8")


#: RF takes the class named like the module when a listener is given by path.
dryrun_listener = DryrunLineRecorder
