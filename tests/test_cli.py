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


def test_demo_runs_offline_and_its_tests_pass_dryrun_by_hand(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "generator", "demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "generated" / "report.json").read_text())
    assert [t["key"] for t in report["tickets"]] == ["QA-101", "QA-102", "QA-103", "QA-104"]
    assert {t["status"] for t in report["tickets"]} == {"created"}
    assert report["summary"]["llm"]["calls"] == 0
    assert report["summary"]["steps_mapped_share"] is not None
    repo = tmp_path / "shop-tests"
    for t in report["tickets"]:
        assert (repo / t["test_path"]).is_file()
        assert (tmp_path / "generated" / t["spec_path"]).is_file()
        assert f"{t['key']}: test {repo / t['test_path']}" in done.stdout
    assert "git diff --cached" in done.stdout and "+*** Test Cases ***" in done.stdout
    command = re.search(r"Check by hand:\s+cd (\S+) && (.*)", done.stdout)
    assert command and command.group(1) == str(repo)
    hand = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--output",
            "NONE",
            "--log",
            "NONE",
            "--report",
            "NONE",
            *command.group(2).split()[3:],
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert hand.returncode == 0, hand.stdout[-2000:]
    assert "0 failed" in hand.stdout


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
