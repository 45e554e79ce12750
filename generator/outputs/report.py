"""report.json and junit.xml, with an append-only journal so a crash loses nothing done.

Every finished ticket is appended at once, as one JSON line, to `report.jsonl` (O(1) per
ticket, readable after a kill -9); `report.json` and `junit.xml` are rendered from memory at
the end and in between at a bounded rate, so a 4,000-ticket backlog costs a few renders instead
of 4,000 rewrites of an ever larger file. Both are replaced atomically: always valid.

Field names of report.json are a public contract (see DESIGN.md): tools outside this
repo read them. `merge_reports` joins the shards of a `parallel: N` job, and also renders
the journal a crashed run left behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from generator.models import LLMUsage, TicketResult
from generator.safety.redact import Redactor

JOURNAL = "report.jsonl"
#: Seconds between two renders of report.json/junit.xml while tickets keep finishing.
RENDER_EVERY = 5.0
#: A render may take at most this share of the run's time (a huge report renders less often).
_RENDER_SHARE = 0.1
_STATUSES = ("created", "updated", "skipped", "failed", "interrupted", "drifted")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def summarize(results: Iterable[TicketResult], *, cost_per_1k_tokens: float | None = None) -> dict[str, Any]:
    results = list(results)
    counts = Counter(r.status for r in results)
    usage = LLMUsage(
        calls=sum(r.llm.calls for r in results),
        prompt_tokens=sum(r.llm.prompt_tokens for r in results),
        completion_tokens=sum(r.llm.completion_tokens for r in results),
    )
    steps_total = sum(r.steps_total for r in results)
    steps_mapped = sum(r.steps_mapped for r in results)
    summary: dict[str, Any] = {
        "tickets": len(results),
        **{status: counts.get(status, 0) for status in _STATUSES},
        "llm": usage.model_dump(),
        "seconds": round(sum(r.seconds for r in results), 3),
        "steps_total": steps_total,
        "steps_mapped": steps_mapped,
        "steps_mapped_share": round(steps_mapped / steps_total, 3) if steps_total else None,
        "steps_guessed_arguments": sum(r.steps_guessed_arguments for r in results),
        # Of the tickets with a test written: complete ones verify every step, the others end in Skip/Fail.
        "complete": sum(r.complete for r in results if r.tests_total),
        "incomplete": sum(not r.complete for r in results if r.tests_total),
    }
    if cost_per_1k_tokens is not None:
        summary["cost"] = round(usage.total_tokens / 1000 * cost_per_1k_tokens, 4)
    return summary


class ReportWriter:
    """Keeps the run's results in selection order; journals each at once, renders the files at a bounded rate.

    Each ticket's JSON entry and JUnit testcase are rendered once, when it is recorded, so
    a render only joins strings; renders happen at most every `render_every` seconds and take
    at most a tenth of the run's time, so the total cost stays linear in the number of tickets.
    """

    def __init__(
        self,
        output_dir: Path,
        *,
        redactor: Redactor | None = None,
        cost_per_1k_tokens: float | None = None,
        render_every: float = RENDER_EVERY,
    ) -> None:
        self.output_dir = output_dir
        self.redact = redactor or Redactor()
        self.cost_per_1k_tokens = cost_per_1k_tokens
        self.render_every = render_every
        self.results: dict[str, TicketResult] = {}
        self.order: dict[str, int] = {}
        self._json: dict[str, str] = {}
        self._junit: dict[str, str] = {}
        self._journal: TextIO | None = None
        self._rendered_at = time.monotonic()
        self._render_seconds = 0.0

    def expect(self, keys: Iterable[str]) -> None:
        """Report tickets in selection order, whichever finishes first."""
        self.order = {key: i for i, key in enumerate(keys)}

    def record(self, result: TicketResult) -> None:
        """Journal the result now (it survives a crash), render the files if one is due."""
        line = self.add(result)
        if self._journal is None:  # one journal per run: the first record starts it afresh
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._journal = (self.output_dir / JOURNAL).open("w", encoding="utf-8")
        self._journal.write(line + "\n")
        self._journal.flush()
        waited = time.monotonic() - self._rendered_at
        if waited >= max(self.render_every, self._render_seconds / _RENDER_SHARE):
            self.flush()

    def add(self, result: TicketResult) -> str:
        """Render one ticket's entries (without rewriting the files); returns its journal line."""
        self.results[result.key] = result
        line = self.redact(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))
        entry = json.dumps(json.loads(line), indent=2, ensure_ascii=False)
        self._json[result.key] = textwrap.indent(entry, "    ")
        self._junit[result.key] = self.redact(_testcase(result))
        return line

    def close(self) -> None:
        """Render the final files and end the journal (the run is over, or was interrupted)."""
        self.flush()
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def flush(self) -> None:
        """Render report.json and junit.xml now, each replaced atomically."""
        started = time.monotonic()
        results = sorted(self.results.values(), key=lambda r: self.order.get(r.key, len(self.order)))
        summary = json.dumps(summarize(results, cost_per_1k_tokens=self.cost_per_1k_tokens), indent=2)
        tickets = ",\n".join(self._json[r.key] for r in results)
        body = f'{{\n  "tickets": [\n{tickets}\n  ],\n  "summary": {textwrap.indent(summary, "  ").lstrip()}\n}}\n'
        _atomic_write(self.output_dir / "report.json", body)
        _atomic_write(
            self.output_dir / "junit.xml", _junit_document(results, "".join(self._junit[r.key] for r in results))
        )
        self._rendered_at = time.monotonic()
        self._render_seconds = self._rendered_at - started


def _testcase(r: TicketResult) -> str:
    case = ET.Element("testcase", classname="jira2robot", name=r.key, time=f"{r.seconds:.3f}")
    detail = "\n".join(f"{d.severity} line {d.line if d.line is not None else '-'}: {d.message}" for d in r.diagnostics)
    if r.status == "failed":
        ET.SubElement(case, "failure", message=r.reason or "failed").text = detail or r.reason
    elif r.status == "interrupted":
        ET.SubElement(case, "error", message=r.reason or "interrupted")
    elif r.status == "skipped":
        ET.SubElement(case, "skipped", message=r.reason or "skipped")
    else:
        ET.SubElement(case, "system-out").text = f"{r.status}: {r.test_path or ''} {r.mr_url or ''}".strip()
    return "    " + ET.tostring(case, encoding="unicode") + "\n"


def _junit_document(results: list[TicketResult], cases: str) -> str:
    """One testcase per ticket: GitLab shows them in the pipeline's Tests tab."""
    counts = Counter(r.status for r in results)
    suite = ET.Element(
        "testsuite",
        name="jira2robot",
        tests=str(len(results)),
        failures=str(counts.get("failed", 0)),
        errors=str(counts.get("interrupted", 0)),
        skipped=str(counts.get("skipped", 0)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    head = ET.tostring(suite, encoding="unicode").removesuffix(" />")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  {head}>\n{cases}  </testsuite>\n</testsuites>\n'


def _entries(path: Path) -> list[dict[str, Any]]:
    """The ticket entries of a report.json, or of a journal (a torn last line, from a crash, is dropped)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".jsonl":
        return json.loads(text).get("tickets", [])
    entries = []
    for line in text.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def merge_reports(paths: Iterable[Path], output_dir: Path) -> list[TicketResult]:
    """Join shard reports or journals; a key seen twice keeps the last entry (re-runs win)."""
    merged: dict[str, TicketResult] = {}
    for path in paths:
        for entry in _entries(path):
            result = TicketResult.model_validate(entry)
            merged[result.key] = result
    results = sorted(merged.values(), key=lambda r: r.key)
    writer = ReportWriter(output_dir)
    for result in results:
        writer.add(result)
    writer.flush()
    return results
