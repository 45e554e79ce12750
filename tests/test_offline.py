"""The offline planner's step splitting, and the demo tickets end to end through real `robot`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import get_model
from robot.parsing.model.blocks import TestCase as RobotTestCase
from robot.parsing.model.statements import Documentation, KeywordCall, Tags
from robot.running import TestSuiteBuilder as SuiteBuilder  # not a test class for pytest

from generator.models import GeneratedTest, TestSpec, Ticket, TicketResult, ValidationResult
from generator.plan.offline import cases_from_criteria
from generator.publish.describe import render_mr_description
from generator.retrieval.inventory import build_inventory
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import PLACEHOLDER_MESSAGE

# --------------------------------------------------------------------------- criteria -> cases


def test_gherkin_scenarios_are_one_case_each() -> None:
    criteria = [
        "Scenario: account locked after three failures",
        'Given the user "alice" has an account',
        'When "alice" enters a wrong password 3 times',
        'Then the account "alice" is locked',
        "Scenario: a successful login resets the counter",
        'Given the user "bob" has an account',
        'Then the account "bob" is still active',
    ]
    assert cases_from_criteria(criteria) == [
        (
            "account locked after three failures",
            [
                'Given the user "alice" has an account',
                'When "alice" enters a wrong password 3 times',
                'Then the account "alice" is locked',
            ],
            criteria[:4],
        ),
        (
            "a successful login resets the counter",
            ['Given the user "bob" has an account', 'Then the account "bob" is still active'],
            criteria[4:],
        ),
    ]


def test_given_after_an_outcome_starts_the_next_case_titled_by_its_outcome() -> None:
    criteria = [
        "Given a guest user",
        "When the guest checks out",
        "Then the checkout is refused",
        "Given a logged-in user",
        "When the user checks out",
        "Then an order is placed",
    ]
    cases = cases_from_criteria(criteria)
    assert [(title, steps) for title, steps, _ in cases] == [
        ("Then the checkout is refused", criteria[:3]),
        ("Then an order is placed", criteria[3:]),
    ]


def test_one_line_gherkin_bullet_is_split_into_its_clauses() -> None:
    line = (
        'Given the user "nina" is logged in, and the cart contains 2 "Blue T-Shirt", '
        'when she applies the discount code "WELCOME10", then the cart total is 35.98 (10 % off 39.98).'
    )
    assert cases_from_criteria([line]) == [
        (
            "Then the cart total is 35.98 (10 % off 39.98)",
            [
                'Given the user "nina" is logged in',
                'And the cart contains 2 "Blue T-Shirt"',
                'When she applies the discount code "WELCOME10"',
                "Then the cart total is 35.98 (10 % off 39.98)",
            ],
            [line],
        )
    ]


def test_label_before_the_gherkin_clauses_names_the_case() -> None:
    line = 'Expired code: given a cart with 1 "Mug"; then the code "SUMMER2023" is rejected'
    assert cases_from_criteria([line]) == [
        ("Expired code", ['Given a cart with 1 "Mug"', 'Then the code "SUMMER2023" is rejected'], [line])
    ]


def test_colon_inside_a_gherkin_line_splits_clauses_not_a_label() -> None:
    line = 'Given an order that has shipped: then cancelling it fails with "Order already shipped"'
    assert cases_from_criteria([line])[0][:2] == (
        'Then cancelling it fails with "Order already shipped"',
        ["Given an order that has shipped", 'Then cancelling it fails with "Order already shipped"'],
    )


def test_bullets_of_gherkin_lines_are_separate_cases() -> None:
    criteria = ["Given a cart, when a code is applied, then the total drops", "Given a cart, then no code is set"]
    cases = cases_from_criteria(criteria)
    assert [steps for _, steps, _ in cases] == [
        ["Given a cart", "When a code is applied", "Then the total drops"],
        ["Given a cart", "Then no code is set"],
    ]
    assert [covers for _, _, covers in cases] == [[criteria[0]], [criteria[1]]]


def test_clauses_split_only_outside_quotes_and_before_gherkin_words() -> None:
    line = 'Given the note "salt, and pepper: then serve" is saved, and then the note is shown when opened'
    assert cases_from_criteria([line])[0][1] == [
        'Given the note "salt, and pepper: then serve" is saved',
        # "and then" keeps the step's phase; "when opened" inside a clause is no new step.
        "Then the note is shown when opened",
    ]


def test_plain_bullets_keep_their_own_rules() -> None:
    cases = cases_from_criteria(
        [
            "The code is applied; the total drops",
            "The user pays, then the order is placed",
            'An order that has already shipped cannot be cancelled: the message is "Order already shipped"',
        ]
    )
    assert [steps for _, steps, _ in cases] == [
        ["The code is applied", "the total drops"],
        ["The user pays", "then the order is placed"],
        # "X: Y" without Gherkin words: the part before the colon is no step of its own.
        ['An order that has already shipped cannot be cancelled: the message is "Order already shipped"'],
    ]


# --------------------------------------------------------------------------- the demo tickets, end to end


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`jira2robot demo` on the bundled tickets QA-101..QA-104, offline, as a user runs it."""
    workdir = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_"))}
    done = subprocess.run(
        [sys.executable, "-m", "generator", "demo", "--workdir", str(workdir), "--keys", "QA-101,QA-102,QA-103,QA-104"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return workdir


def _calls(robot_file: Path) -> list[str]:
    calls = []
    for section in get_model(robot_file).sections:
        for block in section.body:
            if isinstance(block, RobotTestCase):
                calls += ["    ".join([n.keyword, *n.args]) for n in block.body if isinstance(n, KeywordCall)]
    return calls


GOLDEN = Path(__file__).parent / "golden"
MISSING = "# MISSING KEYWORD: "


def _missing(robot_file: Path) -> list[str]:
    return [line.strip() for line in robot_file.read_text(encoding="utf-8").splitlines() if MISSING in line]


def test_demo_tickets_map_most_steps_to_existing_resource_keywords(demo: Path) -> None:
    report = json.loads((demo / "generated" / "report.json").read_text(encoding="utf-8"))
    tickets = {t["key"]: t for t in report["tickets"]}
    assert {t["status"] for t in tickets.values()} == {"created"}
    summary = report["summary"]
    assert summary["steps_mapped"] / summary["steps_total"] >= 0.8, summary

    repo = demo / "shop-tests"
    matcher = KeywordMatcher(build_inventory(repo, cache_dir=demo / "cache"))
    lines = {key: _calls(repo / t["test_path"]) for key, t in tickets.items()}
    for key, calls in lines.items():
        steps = [c for c in calls if not c.startswith("Skip    ")]
        gaps = _missing(repo / tickets[key]["test_path"])
        # Console, report and file agree: every step is a call or a marker, and the report counts the calls.
        assert len(steps) + len(gaps) == tickets[key]["steps_total"]
        assert len(steps) == tickets[key]["steps_mapped"]
        for call in steps:
            keyword = matcher.lookup(call.split("    ", 1)[0])  # no invented keyword, no library called directly
            assert keyword is not None and keyword.owner_kind == "resource", (key, call)
    assert 'Then Account "alice" Should Be Locked' in lines["QA-101"]
    assert 'And Failed Login Count Of "bob" Should Be "0"' in lines["QA-101"]
    assert 'And The cart contains "1" of "Coffee Mug"' in lines["QA-104"]
    assert (
        "Then Discount Code Should Be Rejected With Message    VIP20    Only one discount code per order"
        in (lines["QA-102"])
    )
    # The realistic gaps are the convention's marker comments, not passing Log lines.
    gaps = [g for t in tickets.values() for g in _missing(repo / t["test_path"])]
    assert any("email" in g for g in gaps) and any("redirected to the login page" in g for g in gaps)
    assert not any(PLACEHOLDER_MESSAGE in c for calls in lines.values() for c in calls)
    assert not [c for c in lines["QA-101"] if c.startswith("And Login As    alice")]


def test_demo_output_matches_the_golden_files(demo: Path) -> None:
    """What a reviewer sees in the MR, reviewed in this repo's diff (tests/golden/*.robot).
    `UPDATE_GOLDEN=1 pytest tests/test_offline.py` rewrites them after an intended change."""
    report = json.loads((demo / "generated" / "report.json").read_text(encoding="utf-8"))
    for ticket in report["tickets"]:
        written = (demo / "shop-tests" / ticket["test_path"]).read_text(encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") == "1":
            (GOLDEN / Path(ticket["test_path"]).name).write_text(written, encoding="utf-8")
        assert written == (GOLDEN / Path(ticket["test_path"]).name).read_text(encoding="utf-8"), ticket["key"]


def test_incomplete_tests_are_tagged_and_reported(demo: Path) -> None:
    report = json.loads((demo / "generated" / "report.json").read_text(encoding="utf-8"))
    for ticket in report["tickets"]:
        text = (demo / "shop-tests" / ticket["test_path"]).read_text(encoding="utf-8")
        cases = text.split("*** Test Cases ***", 1)[1].split("\n\n")
        incomplete = [c for c in cases if MISSING in c or "Skip    " in c]
        assert ticket["tests_incomplete"] == len(incomplete) >= 1
        assert ticket["complete"] is False
        # Tagged (on the test, or on the suite's Test Tags when every test is incomplete: RF's own
        # model tells which tests carry the tags), and ending in Skip naming the missing steps.
        suite = SuiteBuilder().build(demo / "shop-tests" / ticket["test_path"])
        tagged = {t.name for t in suite.tests if "jira2robot:incomplete" in t.tags and "wip" in t.tags}
        assert len(tagged) == len(incomplete), (tagged, text)
        for case in incomplete:
            assert case.strip().splitlines()[0].strip() in tagged, case
            steps = [line.strip() for line in case.strip().splitlines()]
            [at] = [i for i, line in enumerate(steps) if line.startswith("Skip    Incomplete (jira2robot): ")]
            first_gap = next((i for i, line in enumerate(steps) if line.startswith(MISSING)), len(steps))
            assert at == first_gap - 1, case  # the test stops at its first gap (or ends there)
            last = steps[at]
            for gap in [line.strip()[len(MISSING) :] for line in case.splitlines() if MISSING in line][:1]:
                assert gap[:30] in last
    assert report["summary"]["complete"] == 0 and report["summary"]["incomplete"] == 4


def test_demo_tests_pass_robot_dryrun_and_a_real_run(demo: Path) -> None:
    """Dryrun proves the keywords and argument counts; the real run on the sample repo's
    in-memory shop proves the mapped steps do what the criteria say, and that every test
    with a missing step is SKIPPED, never PASS."""
    repo = demo / "shop-tests"
    report = json.loads((demo / "generated" / "report.json").read_text(encoding="utf-8"))
    paths = [t["test_path"] for t in report["tickets"]]
    incomplete = sum(t["tests_incomplete"] for t in report["tickets"])
    assert incomplete >= 4
    base = [sys.executable, "-m", "robot", "-v", "ENV:demo", "--pythonpath", "libraries"]
    quiet = ["--output", "NONE", "--log", "NONE", "--report", "NONE"]
    for mode in (["--dryrun"], []):
        done = subprocess.run(
            [*base, *mode, *quiet, *paths], cwd=repo, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        if mode:
            assert "14 tests, 14 passed, 0 failed" in done.stdout, done.stdout
        else:
            assert f"14 tests, {14 - incomplete} passed, 0 failed, {incomplete} skipped" in done.stdout, done.stdout
    # Control: the same dryrun rejects a call that resolves to nothing.
    broken = repo / Path(paths[0]).with_name("broken_control.robot")
    broken.write_text((repo / paths[0]).read_text(encoding="utf-8") + "    Then Keyword That Does Not Exist\n")
    done = subprocess.run(
        [*base, "--dryrun", *quiet, str(broken)], cwd=repo, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 1, done.stdout


def test_sample_repos_conventions_give_each_test_its_tags_and_one_documentation_line(demo: Path) -> None:
    """The sample repo's convention doc shows `[Tags]    QA-101    login` as every test's rule,
    and its tests document themselves in one line: the generated file does the same, keeps
    every condition of a criterion (as a step or a gap) and a ticket's amount as written."""
    report = json.loads((demo / "generated" / "report.json").read_text(encoding="utf-8"))
    texts = {t["key"]: (demo / "shop-tests" / t["test_path"]).read_text(encoding="utf-8") for t in report["tickets"]}
    for key, text in texts.items():
        model = get_model(text)
        assert "Test Tags" not in text, key
        for case in model.sections[-1].body:
            tags = [n for n in case.body if isinstance(n, Tags)]
            docs = [n for n in case.body if isinstance(n, Documentation)]
            assert tags and key in tags[0].values, (key, case.name)
            assert docs and docs[0].lineno == docs[0].end_lineno, (key, case.name)
    assert "\nCart Total Is 35.98\n" in texts["QA-102"]
    assert re.search(r"# MISSING KEYWORD: Given the user \"rita\" is logged in with an empty cart", texts["QA-102"])
    assert re.search(r"# MISSING KEYWORD: Then the full amount is refunded to the card used", texts["QA-103"])
    assert all(t["steps_guessed_arguments"] == 0 for t in report["tickets"])


def test_mr_description_lists_open_questions_first(demo: Path) -> None:
    """The description of QA-104's MR against tests/golden/qa-104.mr.md: the incomplete verdict and
    the open questions come before anything else, with the same numbers as report.json."""
    out = demo / "generated"
    entry = next(t for t in json.loads((out / "report.json").read_text())["tickets"] if t["key"] == "QA-104")
    result = TicketResult.model_validate(entry)
    spec = TestSpec.model_validate_json((out / "QA-104" / "spec.json").read_text())
    text = (demo / "shop-tests" / entry["test_path"]).read_text()
    test = GeneratedTest(target_path=entry["test_path"], text=text)
    ticket = Ticket(key="QA-104", summary=spec.meta.title)
    description = render_mr_description(ticket, spec, test, ValidationResult(ok=True), result)
    if os.environ.get("UPDATE_GOLDEN") == "1":  # after a deliberate change; the diff is the review
        (GOLDEN / "qa-104.mr.md").write_text(description, encoding="utf-8")
    assert description == (GOLDEN / "qa-104.mr.md").read_text(encoding="utf-8")
    head = description.split("### Sources")[0]
    assert "Incomplete" in head and "redirected to the login page" in head
    assert f"{entry['steps_mapped']}/{entry['steps_total']} steps" in head
