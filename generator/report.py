"""report.json and junit.xml, rewritten after every ticket so a crash loses nothing done.

Field names of report.json are a public contract (see DESIGN.md): tools outside this
repo read them. `merge_reports` joins the shards of a `parallel: N` job.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from generator.models import LLMUsage, TicketResult
from generator.redact import Redactor


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
        **{status: counts.get(status, 0) for status in ("created", "updated", "skipped", "failed")},
        "llm": usage.model_dump(),
        "seconds": round(sum(r.seconds for r in results), 3),
        "steps_total": steps_total,
        "steps_mapped": steps_mapped,
        "steps_mapped_share": round(steps_mapped / steps_total, 3) if steps_total else None,
    }
    if cost_per_1k_tokens is not None:
        summary["cost"] = round(usage.total_tokens / 1000 * cost_per_1k_tokens, 4)
    return summary


class ReportWriter:
    """Keeps the run's results in selection order and rewrites both files on every change.

    Each ticket's JSON entry and JUnit testcase are rendered once, when it is recorded, so
    a rewrite only joins strings: a backlog of 1,000 skipped tickets costs O(n), not O(n²).
    """

    def __init__(
        self, output_dir: Path, *, redactor: Redactor | None = None, cost_per_1k_tokens: float | None = None
    ) -> None:
        self.output_dir = output_dir
        self.redact = redactor or Redactor()
        self.cost_per_1k_tokens = cost_per_1k_tokens
        self.results: dict[str, TicketResult] = {}
        self.order: dict[str, int] = {}
        self._json: dict[str, str] = {}
        self._junit: dict[str, str] = {}

    def expect(self, keys: Iterable[str]) -> None:
        """Report tickets in selection order, whichever finishes first."""
        self.order = {key: i for i, key in enumerate(keys)}

    def record(self, result: TicketResult) -> None:
        self.add(result)
        self.flush()

    def add(self, result: TicketResult) -> None:
        """Render one ticket's entries (without rewriting the files)."""
        self.results[result.key] = result
        entry = json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False)
        self._json[result.key] = self.redact(textwrap.indent(entry, "    "))
        self._junit[result.key] = self.redact(_testcase(result))

    def flush(self) -> None:
        results = sorted(self.results.values(), key=lambda r: self.order.get(r.key, len(self.order)))
        summary = json.dumps(summarize(results, cost_per_1k_tokens=self.cost_per_1k_tokens), indent=2)
        tickets = ",\n".join(self._json[r.key] for r in results)
        body = f'{{\n  "tickets": [\n{tickets}\n  ],\n  "summary": {textwrap.indent(summary, "  ").lstrip()}\n}}\n'
        _atomic_write(self.output_dir / "report.json", body)
        _atomic_write(
            self.output_dir / "junit.xml", _junit_document(results, "".join(self._junit[r.key] for r in results))
        )


def _testcase(r: TicketResult) -> str:
    case = ET.Element("testcase", classname="jira2robot", name=r.key, time=f"{r.seconds:.3f}")
    detail = "\n".join(f"{d.severity} line {d.line if d.line is not None else '-'}: {d.message}" for d in r.diagnostics)
    if r.status == "failed":
        ET.SubElement(case, "failure", message=r.reason or "failed").text = detail or r.reason
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
        skipped=str(counts.get("skipped", 0)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    head = ET.tostring(suite, encoding="unicode").removesuffix(" />")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  {head}>\n{cases}  </testsuite>\n</testsuites>\n'


def merge_reports(paths: Iterable[Path], output_dir: Path) -> list[TicketResult]:
    """Join shard reports; a key seen twice keeps the last shard's entry (re-runs win)."""
    merged: dict[str, TicketResult] = {}
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data.get("tickets", []):
            result = TicketResult.model_validate(entry)
            merged[result.key] = result
    results = sorted(merged.values(), key=lambda r: r.key)
    writer = ReportWriter(output_dir)
    for result in results:
        writer.add(result)
    writer.flush()
    return results
