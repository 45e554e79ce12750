"""robocop in the loop: format every generated file, lint it, and hold it to the repo's own standard.

Through robocop's Python API (its `ConfigManager`, `RobocopLinter.run_check` and formatter
classes — the same calls its own MCP tools make), not a CLI subprocess: a generated file is
formatted and linted in-process in milliseconds, and the diagnostics come back as objects.

The bar is the repo's own: issues per 100 lines over its existing suites, measured once per
run. A team whose hand-written suites carry 20 issues per 100 lines does not need generated
files at 0, and a team at 0 would reject a generated file at 5. The repo's robocop configuration
(`robocop.toml`, `robot.toml` or `[tool.robocop]` in `pyproject.toml` at its root) is used for
both formatting and linting, so rules the team disabled stay disabled.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from robocop import __version__ as ROBOCOP_VERSION
from robocop.config.manager import ConfigManager
from robocop.config.parser import load_toml_file, read_toml_config
from robocop.config.schema import RawConfig, RawFormatterConfig, RawLinterConfig
from robocop.formatter import disablers
from robocop.linter import reports as robocop_reports
from robocop.linter.runner import RobocopLinter
from robocop.migrate_config import migrate_deprecated_configs
from robocop.runtime.resolver import ConfigResolver
from robocop.source_file import SourceFile, StatementLinesCollector
from robot.api import get_model

from generator.gather import cache
from generator.models import Diagnostic

CONFIG_FILES = ("robocop.toml", "robot.toml", "pyproject.toml")
#: Suites linted to measure the repo's rate: spread by a hash of their path, enough for a stable mean.
SAMPLE_SUITES = 200
#: Lint diagnostics sent back to a writer at most (the worst lines first would need ranking; the
#: first ones are enough to show the model what the repo's linter wants).
MAX_SENT = 30


_REPORTS_DIR = Path(robocop_reports.__file__).resolve().parent
#: robocop's own pattern for characters not allowed in names (`[\.\?]`), a decimal point excepted.
_NOT_IN_NAME = r"(?<!\d)\.|\.(?!\d)|\?"
#: Part of every cached count's key: a change to how a suite is counted invalidates them.
_LINT_CODE = "lint-count-1"


@contextmanager
def _no_stray_modules() -> Iterator[None]:
    """robocop 9 imports its report modules from their files under top-level names (`gitlab`,
    `sarif`, ...): `gitlab` would then shadow python-gitlab for the rest of the process (the
    GitLab publisher fails with "'gitlab' is not a package"). Put back what was there before."""
    saved = dict(sys.modules)
    try:
        yield
    finally:
        for name, module in list(sys.modules.items()):
            where = getattr(module, "__file__", None)
            if "." not in name and where and Path(where).resolve().parent == _REPORTS_DIR:
                if name in saved:
                    sys.modules[name] = saved[name]
                else:
                    del sys.modules[name]


def find_config(repo: Path, scratch: Path) -> Path | None:
    """The repo's robocop configuration file, if it has one with a robocop section; else a legacy
    robotidy configuration (`robotidy.toml`, `[tool.robotidy]` in `pyproject.toml`) converted by
    robocop's own migration into `scratch` (the repo is never written to)."""
    for name in CONFIG_FILES:
        path = repo / name
        if path.is_file() and read_toml_config(path):
            return path
    for name in ("robotidy.toml", "pyproject.toml"):
        path = repo / name
        if path.is_file() and "tool" in (legacy := load_toml_file(path)) and "robotidy" in legacy["tool"]:
            copy = scratch / name
            shutil.copyfile(path, copy)
            with contextlib.redirect_stdout(io.StringIO()):
                migrate_deprecated_configs(copy)
            migrated = scratch / f"{copy.stem}_migrated.toml"
            return migrated if migrated.is_file() else None
    return None


@dataclass
class LintResult:
    issues: list[Diagnostic]
    lines: int

    @property
    def per_100_lines(self) -> float:
        return 100.0 * len(self.issues) / max(self.lines, 1)


def _lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


class RepoLint:
    """Formatter, linter and the repo's own issue rate, for one run over one repo."""

    def __init__(
        self, repo: Path, tests_dir: str, *, cache_dir: Path | None = None, ignore: Sequence[str] = ()
    ) -> None:
        """`ignore`: rules the repo's convention contradicts (`could-be-test-tags` where the
        convention document asks every test for its own `[Tags]`)."""
        self.repo = repo
        self.tests_dir = tests_dir
        self._cache_dir = cache_dir
        self._scratch = tempfile.TemporaryDirectory(prefix="jira2robot-lint-")
        self.config_path = find_config(repo, Path(self._scratch.name))
        # Without a configuration of its own, robocop would lower-case tags (`QA-101` -> `qa-101`),
        # contradicting the convention docs that spell the Jira key as Jira does, and would take
        # the decimal point of an amount in a name (`Cart Total Is 35.98`) for punctuation.
        self._defaults = None if self.config_path else ["NormalizeTags.normalize_case=False"]
        self._configure = None if self.config_path else [f"not-allowed-char-in-name.pattern={_NOT_IN_NAME}"]
        self._ignore = list(ignore) or None
        self._rate: float | None = None

    def _manager(self, source: Path, *, formatter: bool) -> ConfigManager:
        raw = RawConfig(
            linter=RawLinterConfig(return_result=True, configure=self._configure, ignore=self._ignore),
            formatter=RawFormatterConfig(overwrite=False, return_result=True, configure=self._defaults)
            if formatter
            else None,
            silent=True,
        )
        return ConfigManager(
            sources=[str(source)], config=self.config_path, root=self.repo, overwrite_config=raw,
            ignore_git_dir=True,
        )  # fmt: skip

    def _scratch_file(self, text: str, target_path: str) -> Path:
        folder = Path(self._scratch.name) / "files"
        folder.mkdir(exist_ok=True)
        path = folder / Path(target_path).name
        path.write_text(text, encoding="utf-8")
        return path

    def format(self, text: str, target_path: str) -> str:
        """`text` as robocop's formatter writes it with the repo's configuration."""
        path = self._scratch_file(text, target_path)
        config = self._manager(path, formatter=True).default_config
        resolved = ConfigResolver(load_formatters=True).resolve_config(config)
        model = get_model(str(path))
        finder = disablers.RegisterDisablers(config.formatter.start_line, config.formatter.end_line)
        finder.visit(model)
        for name, formatter in resolved.formatters.items():
            formatter.disablers = finder.disablers
            if not finder.disablers.is_disabled_in_file(name):
                formatter.visit(model)
        return StatementLinesCollector(model).text

    def lint_file(self, path: Path) -> LintResult:
        manager = self._manager(path, formatter=False)
        with _no_stray_modules():
            linter = RobocopLinter(manager)
        found = linter.run_check(SourceFile(path=path, config=manager.default_config))
        issues = [
            Diagnostic(
                severity="warning",
                message=f"{d.rule.rule_id} {d.rule.name}: {d.message}",
                line=d.range.start.line,
                source="lint",
            )
            for d in sorted(found, key=lambda d: (d.range.start.line, d.rule.rule_id))
        ]
        return LintResult(issues, _lines(path.read_text(encoding="utf-8", errors="replace")))

    def lint(self, text: str, target_path: str) -> LintResult:
        return self.lint_file(self._scratch_file(text, target_path))

    def _counts(self, suite: str) -> tuple[int, int]:
        """(issues, lines) of one suite, from the cache when its bytes, the configuration and
        robocop are those it was counted with: robocop over 200 suites is most of a warm run's
        time on a large repo, and a suite's count changes only when the suite does."""
        path = self.repo / suite
        try:
            data = path.read_bytes()
        except OSError:
            return 0, 0
        config = self.config_path.read_bytes() if self.config_path else b""
        settings = str([self._defaults, self._configure, self._ignore])
        key = cache.content_key([_LINT_CODE, ROBOCOP_VERSION, config, settings, data])
        entry = cache.entry_path("lint", key, self._cache_dir)
        if (known := cache.read(entry)) is not None:
            with contextlib.suppress(ValueError, TypeError):
                issues, lines = json.loads(known)
                return int(issues), int(lines)
        result = self.lint_file(path)
        cache.write(entry, json.dumps([len(result.issues), result.lines]))
        return len(result.issues), result.lines

    def repo_rate(self, suites: Sequence[str]) -> float:
        """Issues per 100 lines over (a spread sample of) the repo's suites; computed once per
        run, each suite's count once per content (`_counts`)."""
        if self._rate is None:
            # Sampled by a hash of the path, not every n-th: one suite added to a thousand then
            # changes one member of the sample, not all of them (and all their cached counts).
            sample = sorted(suites, key=lambda s: hashlib.sha256(s.encode()).hexdigest())[:SAMPLE_SUITES]
            counts = [self._counts(s) for s in sample]
            lines = sum(n for _, n in counts)
            self._rate = 100.0 * sum(i for i, _ in counts) / lines if lines else 0.0
        return self._rate

    def gate(self, result: LintResult, rate: float) -> list[Diagnostic]:
        """Errors to send back when the file is worse than the repo; none when it is not.

        Issues come whole: a 14-line file at the repo's 19.7 per 100 lines may have 3 (2.76
        rounded up), or a short file following the house style to the letter (the repo's own
        embedded-call casing) would fail where a longer one would not."""
        if len(result.issues) <= math.ceil(rate * result.lines / 100 - 1e-9):
            return []
        head = Diagnostic(
            severity="error",
            source="lint",
            message=f"robocop: {len(result.issues)} issue(s) in {result.lines} lines "
            f"({result.per_100_lines:.1f} per 100 lines) where the repo's own suites have {rate:.1f}; fix these",
        )
        return [head, *(d.model_copy(update={"severity": "error"}) for d in result.issues[:MAX_SENT])]

    def close(self) -> None:
        self._scratch.cleanup()
