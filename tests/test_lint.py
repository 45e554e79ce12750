"""robocop in the loop: the repo's own configuration and rate, and the gate in a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from robocop.linter.runner import RobocopLinter
from robocop.source_file import SourceFile

from generator.models import Diagnostic
from generator.validate.lint import LintResult, RepoLint
from tests.servers.fake_openai import Text
from tests.test_run_e2e import GOOD_PATH, GOOD_ROBOT, llm_args, report, run_cli, spec_json

SUITES = ["tests/cart/cart_add_remove.robot", "tests/login/login_basic.robot", "tests/orders/order_checkout.robot"]
# Valid for the dryrun, but written the way robocop flags: overlong lines, a `.` in the test name.
SLOPPY = GOOD_ROBOT.replace(
    "Account Is Locked After Three Failures", "Account is locked. After three failures."
).replace("Three wrong passwords lock the account.", "Three wrong passwords lock the account. " + "Really. " * 20)


def test_gate_holds_a_file_to_the_repos_own_rate(sample_repo: Path) -> None:
    lint = RepoLint(sample_repo, "tests")
    rate = lint.repo_rate(SUITES)
    assert rate > 0  # the sample's suites have issues of their own (wrong-case embedded calls)
    clean = lint.lint(lint.format(GOOD_ROBOT, GOOD_PATH), GOOD_PATH)
    assert lint.gate(clean, rate) == []
    sloppy = lint.lint(SLOPPY, GOOD_PATH)
    gate = lint.gate(sloppy, rate)
    assert gate and gate[0].severity == "error" and gate[0].source == "lint"
    messages = " ".join(d.message for d in gate)
    assert "line-too-long" in messages and "not-allowed-char-in-name" in messages


def test_repo_rate_lints_each_suite_once_per_content(
    sample_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """robocop over a sample of the suites was most of a warm run on a large repo: a suite is
    linted again only when its bytes (or the configuration) change, in any later run."""
    linted: list[str] = []
    real = RobocopLinter.run_check

    def counting(self: RobocopLinter, source: SourceFile) -> list:
        linted.append(Path(source.path).name)
        return real(self, source)

    monkeypatch.setattr(RobocopLinter, "run_check", counting)
    cache = tmp_path / "cache"
    first = RepoLint(sample_repo, "tests", cache_dir=cache).repo_rate(SUITES)
    assert len(linted) == len(SUITES)

    assert RepoLint(sample_repo, "tests", cache_dir=cache).repo_rate(SUITES) == first
    assert len(linted) == len(SUITES)  # the next run lints nothing

    changed = sample_repo / SUITES[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n\n", encoding="utf-8")
    RepoLint(sample_repo, "tests", cache_dir=cache).repo_rate(SUITES)
    assert linted[len(SUITES) :] == [Path(SUITES[0]).name]


def test_gate_counts_whole_issues_for_a_short_file(sample_repo: Path) -> None:
    """3 issues in a 14-line file following the house style exactly are the repo's 19.7 per 100
    lines rounded up to whole issues, not a file worse than the repo's."""
    issue = Diagnostic(severity="warning", message="NAME18 wrong-case-in-keyword-call", source="lint")
    lint = RepoLint(sample_repo, "tests")
    assert lint.gate(LintResult([issue] * 3, 14), 19.7) == []
    assert lint.gate(LintResult([issue] * 4, 14), 19.7)


def test_repo_robocop_configuration_is_used(sample_repo: Path) -> None:
    """A repo that allows long lines and disables the name rule gets neither reported."""
    default = RepoLint(sample_repo, "tests").lint(SLOPPY, GOOD_PATH)
    assert any("line-too-long" in d.message for d in default.issues)
    (sample_repo / "robocop.toml").write_text(
        '[lint]\nignore = ["not-allowed-char-in-name"]\nconfigure = ["line-too-long.line_length=400"]\n'
        "[format]\nspace_count = 2\n",
        encoding="utf-8",
    )
    lint = RepoLint(sample_repo, "tests")
    assert lint.config_path == sample_repo / "robocop.toml"
    issues = " ".join(d.message for d in lint.lint(SLOPPY, GOOD_PATH).issues)
    assert "line-too-long" not in issues and "not-allowed-char-in-name" not in issues


def test_lint_issues_go_back_to_the_writer(llm, atlassian, sample_repo: Path, tmp_path: Path) -> None:
    """Dryrun-valid but worse than the repo: the issues are sent back like dryrun errors."""
    out = tmp_path / "out"
    llm.script(Text(spec_json()), Text(SLOPPY), Text(GOOD_ROBOT))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 0
    entry = report(out)["tickets"][0]
    assert entry["status"] == "created" and entry["attempts"] == 2
    repair = llm.requests[2]["messages"]
    assert len(repair) == 2  # the rules and one request: not the whole first context again
    assert "line-too-long" in repair[-1]["content"] and "<ticket" not in repair[-1]["content"]


def test_gate_fails_the_ticket_after_the_last_attempt(llm, atlassian, sample_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    llm.script(Text(spec_json()), Text(SLOPPY), Text(SLOPPY.replace("Really.", "Truly.")), Text(SLOPPY))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, out)) == 1
    entry = json.loads((out / "report.json").read_text())["tickets"][0]
    assert entry["status"] == "failed" and entry["reason"].startswith("robocop gate still failing")
    assert any("line-too-long" in d["message"] for d in entry["diagnostics"])
    assert not (sample_repo / GOOD_PATH).exists()


def test_keywords_used_names_library_keywords_too(sample_repo: Path) -> None:
    from generator.retrieval.inventory import build_inventory
    from generator.retrieval.matcher import KeywordMatcher
    from generator.run.steps import keywords_used

    matcher = KeywordMatcher(build_inventory(sample_repo, pythonpath=["libraries"], cache_dir=sample_repo / ".c"))
    text = GOOD_ROBOT + "    Reset Shop\n    Log    done\n"
    used = keywords_used(text, matcher)
    assert "Reset Shop" in used  # ShopLibrary's: the repo's Python library
    assert 'The user "${user}" has an account' in used
    assert "Log" not in used  # BuiltIn is Robot Framework's, not the repo's


def test_linting_leaves_python_gitlab_importable(sample_repo: Path) -> None:
    """robocop loads its `gitlab` report as a top-level module; the GitLab publisher imported
    after a lint must still get python-gitlab."""
    import importlib
    import sys

    before = sys.modules.get("gitlab")  # python-gitlab, or nothing yet
    RepoLint(sample_repo, "tests").lint(GOOD_ROBOT, GOOD_PATH)
    assert sys.modules.get("gitlab") is before
    assert importlib.import_module("gitlab.exceptions").GitlabError


def test_legacy_robotidy_configuration_is_migrated_not_written(sample_repo: Path) -> None:
    (sample_repo / "robotidy.toml").write_text("[tool.robotidy]\nspacecount = 2\n", encoding="utf-8")
    lint = RepoLint(sample_repo, "tests")
    assert lint.config_path is not None and not lint.config_path.is_relative_to(sample_repo)
    assert "\nSuite Setup     Open Shop Session\n" in lint.format(GOOD_ROBOT, GOOD_PATH)  # 2-space separators
    assert sorted(p.name for p in sample_repo.iterdir() if p.name.startswith("robotidy")) == ["robotidy.toml"]
