"""Criteria fingerprints, the update plan, and the drift text reviewers read (golden files)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from generator.config.repo_file import ConfigError
from generator.config.settings import build_settings
from generator.gather.criteria import case_criteria, diff, fingerprint, fingerprints, normalise
from generator.gather.drift import ORPHAN_PREFIX, UpdatePlan, keep_cases, plan_update
from generator.models import CriteriaDrift, CriterionChange, TicketResult
from generator.publish import AUTHOR_EMAIL
from generator.publish.dashboard import Requests, merge_state, read_requests, render_dashboard
from generator.publish.describe import render_mr_description
from generator.publish.drift_text import render_removal
from generator.publish.history import edited_by_people
from generator.write.provenance import stamp
from tests.test_publish_gitlab import assert_golden, inputs

HOSTILE = "the total shows <b>VAT</b> @all #12\n/close"


def test_markup_and_spacing_are_not_drift_but_words_and_values_are() -> None:
    plain = "the user sees the login page"
    for variant in ("the user sees the *login page*", "the  user sees the {{login page}}.", "the user sees the _login_ page",
                    "the user sees the [login page|https://x.example]", "the user sees the <b>login</b>&nbsp;page"):  # fmt: skip
        assert fingerprint(variant) == fingerprint(plain), variant
    assert fingerprint('the code "VIP20" is rejected') != fingerprint('the code "vip20" is rejected')
    assert fingerprint("the user sees the logout page") != fingerprint(plain)
    assert normalise("  *Given*   a `user`  ") == "Given a user"


def test_an_edit_is_paired_with_the_criterion_it_resembles_and_plans_the_smallest_change() -> None:
    old = fingerprints(["login works with a valid password", "a wrong password is refused", "lockout after three"])
    new = fingerprints(["login works with a valid password and shows home", "lockout after three", "counter resets"])
    change = diff(old, new)
    assert [(e.old, e.new) for e in change.edited] == [
        ("login works with a valid password", "login works with a valid password and shows home")
    ]
    assert list(change.added.values()) == ["counter resets"]
    assert list(change.removed.values()) == ["a wrong password is refused"]
    fp = {text: key for key, text in {**old, **new}.items()}
    cases = {
        "Valid": [fp["login works with a valid password"]],
        "Wrong": [fp["a wrong password is refused"]],
        "Both": [fp["a wrong password is refused"], fp["lockout after three"]],
        "Lockout": [fp["lockout after three"]],
    }
    plan = plan_update(cases, change, new)
    assert (plan.rewritten, plan.removed, plan.gone) == (["Valid", "Both"], ["Wrong"], ["Valid", "Wrong", "Both"])
    assert plan.regenerate == list(new.values())  # the edited one, the lockout of "Both", the new one
    assert plan.replaced_by["Valid"] == [fp["login works with a valid password and shows home"]]


def test_stamped_provenance_round_trips_and_escapes_ticket_text() -> None:
    suite = "*** Settings ***\nTest Tags    QA-1\n\n*** Test Cases ***\nT\n    Log    x\n"
    criteria = fingerprints(["a ${variable} and # hash", "plain"])
    text = stamp(suite, "QA-1", criteria, {"T": list(criteria)})
    assert "\\${variable}" in text and "Metadata     Jira Ticket    QA-1" in text  # aligned with Test Tags
    assert case_criteria(text) == {"T": list(criteria)}
    assert stamp(text, "QA-1", criteria, {"T": list(criteria)}) == text


def drifted() -> CriteriaDrift:
    return CriteriaDrift(
        state="drifted",
        test_path="tests/login/qa-1_login.robot",
        edited=[CriterionChange(old="the user can log in", new=HOSTILE)],
        added=["a successful login resets the counter"],
        removed=["a wrong password is refused @team"],
        tests_rewritten=["Login Works"],
        tests_removed=["Wrong Password `Is` Refused"],
        tests_kept=["Guest Checkout"],
    )


def test_update_mr_description_shows_the_criteria_diff_golden() -> None:
    ticket, spec, test, validation, result = inputs()
    result = result.model_copy(update={"status": "drifted", "drift": drifted()})
    text = render_mr_description(ticket, spec, test, validation, result, title_hash="0123456789abcdef")
    assert_golden("mr_description_drift.md", text)
    assert "@all" not in text and "<b>" not in text and not [x for x in text.splitlines() if x.startswith("/")]


def dashboard_results() -> list[TicketResult]:
    return [
        TicketResult(
            key="QA-5",
            status="drifted",
            reason="criteria changed since tests/login/qa-5.robot was written (1 edited); draft MR !7 created",
            mr_url="https://gitlab.example.com/qa/shop-tests/-/merge_requests/7",
            drift=drifted(),
        ),
        TicketResult(
            key="QA-6",
            status="skipped",
            reason=f"{ORPHAN_PREFIX}tests/cart/qa-6.robot: QA-6 was closed as Won't Do",
            drift=CriteriaDrift(state="orphaned", test_path="tests/cart/qa-6.robot"),
        ),
        TicketResult(
            key="QA-8",
            status="skipped",
            reason="already covered by tests/qa-8.robot (tagged QA-8); it records no criteria: baseline now",
            drift=CriteriaDrift(state="baseline", test_path="tests/qa-8.robot", baseline=fingerprints([HOSTILE])),
        ),
    ]


def test_dashboard_drift_and_orphan_sections_golden() -> None:
    state = merge_state({}, dashboard_results())
    text = render_dashboard(state, still_asked=Requests(remove={"QA-6"}))
    assert_golden("dashboard_drift.md", text)
    assert read_requests(text) == Requests(remove={"QA-6"})
    assert state["QA-8"].baseline == fingerprints([HOSTILE]) and "@all" not in text


def test_removal_mr_description_golden() -> None:
    reason = f"{ORPHAN_PREFIX}tests/cart/qa-6.robot: QA-6 was moved to SHOP-9"
    assert_golden("mr_removal.md", render_removal("QA-6", ["tests/cart/qa-6.robot"], reason, run_id="run0001"))


def test_drift_is_on_for_backlog_runs_unless_turned_off(tmp_path: Path) -> None:
    env = {"CI_PROJECT_DIR": str(tmp_path), "JIRA_MCP_URL": "http://127.0.0.1:9/mcp", "JIRA2ROBOT_LLM": "offline"}
    assert build_settings({"jql": "project = QA"}, env).drift_on
    assert not build_settings({"keys": "QA-1"}, env).drift_on  # a covered key stays a start-up-cost decision
    assert build_settings({"keys": "QA-1", "drift": True}, env).drift_on
    assert not build_settings({"jql": "project = QA", "drift": False}, env).drift_on
    assert not build_settings({"jql": "project = QA"}, {**env, "JIRA2ROBOT_DRIFT": "false"}).drift_on
    with pytest.raises(ConfigError, match="JIRA2ROBOT_DRIFT: expected true or false"):
        build_settings({"jql": "project = QA"}, {**env, "JIRA2ROBOT_DRIFT": "sometimes"})


def test_cases_people_edited_since_the_bots_commit_are_told_apart_in_real_git(tmp_path: Path) -> None:
    suite = "*** Test Cases ***\nFirst\n    Log    one\n\nSecond\n    Log    two\n\nThird\n    Log    three\n"
    path = tmp_path / "tests" / "qa-1.robot"
    path.parent.mkdir()
    git = ["git", "-C", str(tmp_path), "-c", "user.name=Alice", "-c", "user.email=alice@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    assert edited_by_people(tmp_path, "tests/qa-1.robot", suite, ["First"]) == []  # no history: nothing to tell
    path.write_text(suite, encoding="utf-8")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bot", f"--author=jira2robot <{AUTHOR_EMAIL}>"], check=True)
    edited = suite.replace("    Log    two\n", "    Log    two, checked by Alice\n")
    path.write_text(edited, encoding="utf-8")
    subprocess.run([*git, "commit", "-qam", "review"], check=True)
    assert edited_by_people(tmp_path, "tests/qa-1.robot", edited, ["First", "Second", "Gone"]) == ["Second"]
    plan = keep_cases(
        UpdatePlan(gone=["First", "Second"], rewritten=["First", "Second"], replaced_by={"Second": ["a"]}), ["Second"]
    )
    assert (plan.gone, plan.rewritten, plan.replaced_by) == (["First"], ["First"], {})
