"""The smaller commands as a user types them: demo, validate, keywords."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from generator.cli import main

CLEAN_ENV = {
    k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_", "GITLAB_", "OUTPUT_DIR"))
}


GOLDEN_CLOSING = Path(__file__).parent / "golden" / "demo_closing.txt"


def test_demo_runs_offline_and_ends_with_what_happened_and_what_next(tmp_path: Path):
    """The demo's closing block is compared with tests/golden/demo_closing.txt (the temporary
    folder and the robot path shown as <workdir> and <robot>); its robot command is then run as a
    newcomer would paste it. `UPDATE_GOLDEN=1 pytest tests/test_cli.py -k demo` rewrites the file."""
    done = subprocess.run(
        [sys.executable, "-m", "generator", "demo"],
        capture_output=True,
        text=True,
        env=CLEAN_ENV | {"TMPDIR": str(tmp_path)},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (workdir,) = tmp_path.glob("jira2robot-demo-*")
    report = json.loads((workdir / "generated" / "report.json").read_text())
    assert [t["key"] for t in report["tickets"]] == ["QA-101", "QA-102", "QA-103", "QA-104"]
    assert {t["status"] for t in report["tickets"]} == {"created"}
    assert report["summary"]["llm"]["calls"] == 0
    repo = workdir / "shop-tests"
    for t in report["tickets"]:
        assert (repo / t["test_path"]).is_file()
        assert (workdir / "generated" / t["spec_path"]).is_file()
        (line,) = [line for line in done.stdout.splitlines() if line.startswith(f"  {t['key']} ")]
        assert line.count(t["test_path"]) == 1  # the summary names each file once
    assert "+*** Test Cases ***" not in done.stdout  # the diff is a --stat, not 150 raw lines
    # QA-101's two Gherkin scenarios span 12 lines: two criteria, not twelve.
    assert "[QA-101] planner (offline): 2 test case(s), one per acceptance criterion (12 line(s))" in done.stdout

    robot = str(Path(sys.executable).parent / "robot")
    closing = done.stdout[done.stdout.index("── What happened") :]
    shown = closing.replace(str(workdir), "<workdir>").replace(robot, "<robot>")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_CLOSING.write_text(shown, encoding="utf-8")
    assert shown == GOLDEN_CLOSING.read_text(encoding="utf-8")

    command = re.search(r"^  (cd \S+ && \S+/robot .*)$", closing, re.M).group(1)
    hand = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=300, env=CLEAN_ENV)
    assert hand.returncode == 0, hand.stdout[-2000:]
    skipped = sum(t["tests_incomplete"] for t in report["tickets"])
    assert re.search(rf"^\d+ tests, \d+ passed, 0 failed, {skipped} skipped$", hand.stdout, re.M), hand.stdout[-800:]
    assert f"{skipped} test case(s) end in Skip" in closing


def test_validate_command_reports_diagnostics_with_lines(sample_repo: Path, capsys):
    good = sample_repo / "tests" / "login" / "login_basic.robot"
    bad = sample_repo / "tests" / "login" / "broken.robot"
    bad.write_text(
        "*** Settings ***\nResource    ../../resources/shop.resource\nLibrary    OperatingSystem\n\n"
        "*** Test Cases ***\nBroken\n    No Such Keyword Here    x\n"
    )
    assert main(["validate", str(good), "--repo", str(sample_repo)]) == 0
    assert "tests/login/login_basic.robot: OK" in capsys.readouterr().out
    assert main(["validate", "tests/login/broken.robot", "--repo", str(sample_repo), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)[0]
    assert result["ok"] is False
    assert any(
        d["source"] == "import" and d["line"] == 3 and "OperatingSystem" in d["message"] for d in result["diagnostics"]
    )
    before = sorted(p.relative_to(sample_repo) for p in sample_repo.rglob("*"))
    bad.write_text(bad.read_text().replace("Library    OperatingSystem\n", ""))
    assert main(["validate", "tests/login/broken.robot", "--repo", str(sample_repo)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"error\s+tests/login/broken.robot:6 \[dryrun\] No keyword with name 'No Such Keyword Here'", out)
    after = sorted(p.relative_to(sample_repo) for p in sample_repo.rglob("*"))
    assert after == before  # dryrun left nothing behind in the repo


def test_validate_missing_file_is_usage_error(sample_repo: Path, capsys):
    assert main(["validate", "tests/nope.robot", "--repo", str(sample_repo)]) == 2
    assert "tests/nope.robot: no such file" in capsys.readouterr().err


def test_keywords_command(sample_repo: Path, capsys):
    assert main(["keywords", "--repo", str(sample_repo), "--json"]) == 0
    inventory = json.loads(capsys.readouterr().out)
    names = {k["name"] for k in inventory["keywords"]}
    assert {"Open Shop Session", "Login As", 'The user "${user}" has an account'} <= names
    assert "resources/shop.resource" in inventory["resources"]
    assert main(["keywords", "--repo", str(sample_repo)]) == 0
    text = capsys.readouterr().out
    assert "Login As" in text and re.search(r"\d+ keywords; imports in use", text)
