"""report.json / junit.xml / report.jsonl: contract fields, cost, masking, journal, crash safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from generator.cli import main
from generator.models import Diagnostic, LLMUsage, TicketResult
from generator.outputs.report import JOURNAL, ReportWriter
from generator.safety.redact import Redactor

NEVER = 1e9  # render_every: only explicit flushes render, so tests see exactly what was journaled


def journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]


def test_each_record_is_journaled_at_once_and_rendered_in_selection_order(tmp_path):
    writer = ReportWriter(tmp_path, redactor=Redactor(["sk-secret-1"]), cost_per_1k_tokens=0.5, render_every=NEVER)
    writer.expect(["QA-2", "QA-1", "QA-3"])
    writer.record(
        TicketResult(key="QA-1", status="created", llm=LLMUsage(calls=2, prompt_tokens=1500, completion_tokens=500))
    )
    assert [e["key"] for e in journal(tmp_path)] == ["QA-1"]  # on disk before the next ticket ends
    writer.record(
        TicketResult(
            key="QA-2",
            status="failed",
            reason="LLM said sk-secret-1",
            diagnostics=[Diagnostic(message="No keyword with name 'X' found.", line=12)],
        )
    )
    writer.record(TicketResult(key="QA-3", status="interrupted", reason="not finished: the job was stopped"))
    assert journal(tmp_path)[1]["reason"] == "LLM said [MASKED]"
    writer.close()
    data = json.loads((tmp_path / "report.json").read_text())
    assert [t["key"] for t in data["tickets"]] == ["QA-2", "QA-1", "QA-3"]
    entry = data["tickets"][0]
    for field in (
        "key",
        "status",
        "reason",
        "test_path",
        "spec_path",
        "mr_url",
        "attempts",
        "diagnostics",
        "llm",
        "seconds",
        "truncated",
    ):
        assert field in entry
    assert entry["reason"] == "LLM said [MASKED]"
    assert data["summary"]["created"] == data["summary"]["failed"] == data["summary"]["interrupted"] == 1
    assert data["summary"]["cost"] == 1.0  # 2,000 tokens at 0.5 per 1k
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    failure = suite.find("testcase[@name='QA-2']/failure")
    assert failure is not None and "line 12" in failure.text
    assert suite.find("testcase[@name='QA-3']/error") is not None
    for name in ("junit.xml", JOURNAL):
        assert "sk-secret-1" not in (tmp_path / name).read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_recording_does_not_rewrite_the_report_each_time(tmp_path):
    """O(1) per ticket: a thousand records append a thousand lines and never re-render the report."""
    writer = ReportWriter(tmp_path, render_every=NEVER)
    writer.flush()
    before = (tmp_path / "report.json").stat()
    for n in range(1000):
        writer.record(TicketResult(key=f"QA-{n}", status="skipped", reason="already covered"))
    after = (tmp_path / "report.json").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(journal(tmp_path)) == 1000
    writer.close()
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["skipped"] == 1000


CRASHING_RUN = """
import os, sys
from pathlib import Path
from generator.models import TicketResult
from generator.outputs.report import ReportWriter
writer = ReportWriter(Path(sys.argv[1]), render_every=1e9)
writer.flush()
for key in ("QA-1", "QA-2"):
    writer.record(TicketResult(key=key, status="created", test_path=f"tests/{key}.robot"))
os._exit(9)  # like kill -9: no finally, no atexit, no final render
"""


def test_a_crashed_runs_journal_survives_and_merge_reports_renders_it(tmp_path, capsys):
    out = tmp_path / "crashed"
    done = subprocess.run([sys.executable, "-c", CRASHING_RUN, str(out)], cwd=Path(__file__).parents[1], check=False)
    assert done.returncode == 9
    assert json.loads((out / "report.json").read_text())["tickets"] == []  # valid, just behind
    with (out / JOURNAL).open("a") as handle:
        handle.write('{"key": "QA-3", "status": "cre')  # a line torn by the crash
    assert main(["merge-reports", str(out / JOURNAL), "-o", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert [t["key"] for t in merged["tickets"]] == ["QA-1", "QA-2"]
    assert merged["tickets"][1]["test_path"] == "tests/QA-2.robot"
    assert "2 ticket(s)" in capsys.readouterr().out
    assert os.path.isfile(tmp_path / "merged" / "junit.xml")
