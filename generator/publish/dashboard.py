"""The dashboard issue: one GitLab issue every run keeps current, after Renovate's dependency dashboard.

It lists every Jira ticket jira2robot has seen, with its last status, merge request, open
questions and, for failures, the reason. A failed ticket gets a "retry" checkbox and a ticket
whose MR a reviewer closed gets a "recreate" checkbox: ticking one (GitLab task lists edit the
description in place) asks the next run to process that ticket again, the way Renovate's
dashboard asks for a rebase.

What the tickets were is kept in the issue itself (base64 JSON in a hidden marker), so the
dashboard needs no other storage and survives runs on different runners. The issue is the bot's
block only, rendered with the MR description's neutralisation: ticket and model text never
becomes markup, mentions, references or quick actions. A run reads the checkboxes at its
start and rewrites the block at its end, merging into the freshest copy it can read, so a box
ticked meanwhile, or a shard's entries, are not lost.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from generator.gather.drift import ORPHAN_PREFIX
from generator.models import TicketResult
from generator.publish.markdown import (
    BLOCK_END,
    BLOCK_START,
    code,
    inline,
    merge_block,
    neutralise_quick_actions,
    safe_url,
)

TITLE = "jira2robot dashboard"
_KEY = r"[A-Z][A-Z0-9_]*-\d+"
_BOX = re.compile(
    rf"^- \[(?P<mark>[ xX])\] <!-- jira2robot:(?P<action>retry|recreate|regenerate|remove)=(?P<key>{_KEY}) -->", re.M
)
_STATE = re.compile(r"<!-- jira2robot:state=(?P<data>[A-Za-z0-9+/=]*) -->")
_MR_IID = re.compile(r"/merge_requests/(\d+)$")
_REASON_MAX = 300
_QUESTIONS_KEPT = 5
_QUESTIONS_SHOWN = 3
CLOSED_PREFIX = "closed MR !"  # the start of the publisher's reason for a closed, not recreated MR

Call = Callable[..., Awaitable[Any]]


class Entry(BaseModel):
    """What the dashboard remembers of one ticket: its last outcome."""

    status: str
    reason: str = ""
    mr_url: str | None = None
    open_questions: list[str] = Field(default_factory=list)
    #: Criteria recorded for a covering suite without provenance (fingerprint → text): its drift baseline.
    baseline: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, result: TicketResult) -> Entry:
        return cls(
            status=result.status,
            reason=result.reason[:_REASON_MAX],
            mr_url=result.mr_url,
            open_questions=[q[:_REASON_MAX] for q in result.open_questions[:_QUESTIONS_KEPT]],
            baseline={fp: text[:_REASON_MAX] for fp, text in (result.drift.baseline if result.drift else {}).items()},
        )

    @property
    def closed(self) -> bool:
        return self.status == "skipped" and self.reason.startswith(CLOSED_PREFIX)

    @property
    def orphaned(self) -> bool:
        return self.status == "skipped" and self.reason.startswith(ORPHAN_PREFIX)


@dataclass
class Requests:
    """Tickets whose box a human ticked: process again (retry) or replace the closed MR (recreate)."""

    retry: set[str] = field(default_factory=set)
    recreate: set[str] = field(default_factory=set)
    #: Drifted tickets to regenerate now (drift handled even on a run with drift off).
    regenerate: set[str] = field(default_factory=set)
    #: Orphaned tests whose removal MR a person asked for.
    remove: set[str] = field(default_factory=set)

    @property
    def keys(self) -> list[str]:
        return sorted(self.retry | self.recreate | self.regenerate | self.remove)


def read_requests(description: str | None) -> Requests:
    """The ticked boxes of the bot's block (boxes a human pasted outside it do not count)."""
    text = description or ""
    start, end = text.find(BLOCK_START), text.rfind(BLOCK_END)
    asked = Requests()
    if start < 0 or end < start:
        return asked
    for box in _BOX.finditer(text, start, end):
        if box["mark"] in "xX":
            getattr(asked, box["action"]).add(box["key"])
    return asked


def read_state(description: str | None) -> dict[str, Entry]:
    """The tickets recorded by earlier runs; an unreadable state starts afresh rather than failing."""
    found = list(_STATE.finditer(description or ""))
    if not found:
        return {}
    try:
        raw = json.loads(base64.b64decode(found[-1]["data"], validate=True))
        return {key: Entry.model_validate(entry) for key, entry in raw.items() if re.fullmatch(_KEY, key)}
    except (binascii.Error, ValueError, ValidationError, AttributeError):
        return {}


def merge_state(state: dict[str, Entry], results: Iterable[TicketResult]) -> dict[str, Entry]:
    """This run's outcomes over the recorded ones (a ticket not seen this run keeps its entry).

    A result without an MR link (e.g. skipped before publishing) keeps the link recorded earlier.
    """
    merged = dict(state)
    for result in results:
        if re.fullmatch(_KEY, result.key):
            entry = Entry.of(result)
            if entry.mr_url is None and result.key in state:
                entry.mr_url = state[result.key].mr_url
            if not entry.baseline and result.key in state:  # a baseline stays until the suite records criteria
                entry.baseline = state[result.key].baseline
            merged[result.key] = entry
    return dict(sorted(merged.items()))


def _mr_link(url: str | None) -> str:
    safe = safe_url(url) if url else None
    if safe is None:
        return "—"
    iid = _MR_IID.search(safe)
    return f"[MR {iid.group(1)}]({safe})" if iid else f"[MR]({safe})"


def _questions(entry: Entry) -> str:
    shown = [inline(q) for q in entry.open_questions[:_QUESTIONS_SHOWN]]
    more = len(entry.open_questions) - _QUESTIONS_SHOWN
    return "<br>".join(shown + ([f"_… {more} more_"] if more > 0 else [])) or "—"


def render_dashboard(state: dict[str, Entry], *, still_asked: Requests | None = None) -> str:
    """The bot's block of the dashboard issue; boxes in `still_asked` stay ticked (not handled yet)."""
    asked = still_asked or Requests()
    failed = [(key, e) for key, e in state.items() if e.status == "failed"]
    closed = [(key, e) for key, e in state.items() if e.closed]
    lines = [
        BLOCK_START,
        "## jira2robot dashboard",
        "",
        "Every Jira ticket jira2robot has seen, with its last outcome. Tick a box to ask the next run "
        "to process that ticket again.",
        "",
        "### Failed: tick to retry",
        *(
            f"- [{'x' if key in asked.retry else ' '}] <!-- jira2robot:retry={key} --> {code(key)}: {inline(e.reason)}"
            for key, e in failed
        ),
        *([] if failed else ["_none_"]),
        "",
        "### Merge request closed: tick to recreate",
        *(
            f"- [{'x' if key in asked.recreate else ' '}] <!-- jira2robot:recreate={key} --> "
            f"{code(key)}: {_mr_link(e.mr_url)} was closed by a reviewer"
            for key, e in closed
        ),
        *([] if closed else ["_none_"]),
        "",
        *_drift_sections(state, asked),
        "### All tickets",
        "| Ticket | Status | Merge request | Open questions | Reason |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {code(key)} | {e.status} | {_mr_link(e.mr_url)} | {_questions(e)} | {inline(e.reason) or '—'} |"
            for key, e in state.items()
        ),
        "",
        "_Kept up to date by jira2robot on every run; text outside this block is yours._",
        "",
        f"<!-- jira2robot:state={_encode(state)} -->",
        BLOCK_END,
    ]
    return neutralise_quick_actions("\n".join(lines)) + "\n"


def _drift_sections(state: dict[str, Entry], asked: Requests) -> list[str]:
    """Drifted tickets (tick: regenerate now) and orphaned tests (tick: open a removal MR); shown when any."""
    drifted = [(key, e) for key, e in state.items() if e.status == "drifted"]
    orphans = [(key, e) for key, e in state.items() if e.orphaned]
    lines: list[str] = []
    if drifted:
        lines += [
            "### Changed since their tests were written: tick to regenerate now",
            *(
                f"- [{'x' if key in asked.regenerate else ' '}] <!-- jira2robot:regenerate={key} --> "
                f"{code(key)}: {_mr_link(e.mr_url)} {inline(e.reason)}"
                for key, e in drifted
            ),
            "",
        ]
    if orphans:
        lines += [
            "### Orphaned tests (ticket deleted, moved or closed as won't do): tick to open a removal MR",
            *(
                f"- [{'x' if key in asked.remove else ' '}] <!-- jira2robot:remove={key} --> "
                f"{code(key)}: {inline(e.reason.removeprefix(ORPHAN_PREFIX))}"
                for key, e in orphans
            ),
            "",
            "_Nothing is removed until its box is ticked; the removal is a draft merge request to review._",
            "",
        ]
    return lines


def _encode(state: dict[str, Entry]) -> str:
    # An empty baseline is left out: the state of a run without drift reads as it always did.
    data = json.dumps(
        {key: entry.model_dump(exclude=set() if entry.baseline else {"baseline"}) for key, entry in state.items()},
        separators=(",", ":"),
    )
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


class DashboardIssue:
    """The dashboard issue of one project, found by its title and the first MR label."""

    def __init__(self, project: Any, call: Call, label: str, *, redact: Callable[[str], str]) -> None:
        self._project = project
        self._call = call
        self._label = label
        self._redact = redact
        self.state: dict[str, Entry] = {}

    async def _find(self) -> Any | None:
        issues = await self._call(
            "reading the dashboard issue",
            self._project.issues.list,
            labels=[self._label],
            search=TITLE,
            state="opened",
            get_all=True,
        )
        mine = [issue for issue in issues if issue.title == TITLE]
        return min(mine, key=lambda issue: issue.iid) if mine else None

    async def read(self) -> Requests:
        """The boxes ticked since the last run (what earlier runs recorded is kept in `state`)."""
        issue = await self._find()
        self.state = read_state(issue.description) if issue is not None else {}
        return read_requests(issue.description) if issue is not None else Requests()

    async def write(self, results: Iterable[TicketResult], *, handled: set[str], asked: Requests) -> str:
        """Merge this run's outcomes into the freshest copy of the issue; returns its URL.

        `handled`: the tickets this run really processed; ticked boxes of the others stay ticked.
        """
        issue = await self._find()
        current = issue.description if issue is not None else ""
        fresh = read_requests(current)  # boxes ticked while this run was working stay ticked
        still = Requests(
            retry=(asked.retry | fresh.retry) - handled,
            recreate=(asked.recreate | fresh.recreate) - handled,
            regenerate=(asked.regenerate | fresh.regenerate) - handled,
            remove=(asked.remove | fresh.remove) - handled,
        )
        state = read_state(current)
        # A ticket this run did not handle (held back by the limits) keeps its recorded outcome.
        outcomes = [r for r in results if r.key in handled or r.key not in state]
        merged = merge_state(state, outcomes)
        # Masked before encoding: the hidden state then holds no secret in any form, and the final
        # pass over the whole block (which also masks base64 forms) leaves it intact.
        clean = {key: Entry.model_validate_json(self._redact(e.model_dump_json())) for key, e in merged.items()}
        block = self._redact(render_dashboard(clean, still_asked=still))
        if issue is None:
            created = await self._call(
                "opening the dashboard issue",
                self._project.issues.create,
                {"title": TITLE, "labels": [self._label], "description": block},
            )
            return created.web_url
        description = merge_block(current, block)
        if description != current:
            await self._call(
                f"updating the dashboard issue #{issue.iid}",
                self._project.issues.update,
                issue.iid,
                {"description": description},
            )
        return issue.web_url
