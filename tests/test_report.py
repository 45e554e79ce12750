"""report.json / junit.xml: contract fields, cost, masking, rewrite after every ticket."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from generator.models import Diagnostic, LLMUsage, TicketResult
from generator.redact import Redactor
from generator.report import ReportWriter


def test_every_record_rewrites_both_files_in_selection_order(tmp_path):
    writer = ReportWriter(tmp_path, redactor=Redactor(["sk-secret-1"]), cost_per_1k_tokens=0.5)
    writer.expect(["QA-2", "QA-1"])
    writer.record(
        TicketResult(key="QA-1", status="created", llm=LLMUsage(calls=2, prompt_tokens=1500, completion_tokens=500))
    )
    first = json.loads((tmp_path / "report.json").read_text())
    assert [t["key"] for t in first["tickets"]] == ["QA-1"]  # on disk before the next ticket starts
    writer.record(
        TicketResult(
            key="QA-2",
            status="failed",
            reason="LLM said sk-secret-1",
            diagnostics=[Diagnostic(message="No keyword with name 'X' found.", line=12)],
        )
    )
    data = json.loads((tmp_path / "report.json").read_text())
    assert [t["key"] for t in data["tickets"]] == ["QA-2", "QA-1"]
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
    ):
        assert field in entry
    assert entry["reason"] == "LLM said [MASKED]"
    assert data["summary"]["created"] == 1 and data["summary"]["failed"] == 1
    assert data["summary"]["cost"] == 1.0  # 2,000 tokens at 0.5 per 1k
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find("testcase[@name='QA-2']/failure")
    assert failure is not None and "line 12" in failure.text
    assert "sk-secret-1" not in (tmp_path / "junit.xml").read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files
