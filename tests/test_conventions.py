"""House style of generated tests: names, slugs, wrapped documentation, the convention doc's
rules, and honest gaps (`Skip`/`Fail`) whichever writer wrote the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import get_model
from robot.utils.escaping import unescape

from generator.cli import main
from generator.models import Conventions
from generator.plan.conventions import build_conventions, file_name, file_slug, parse_convention, wrapped_setting
from generator.plan.conventions import test_name as make_name
from generator.write.gaps import measure, seal_incomplete
from tests.conftest import DATA, PAGES, offline_args
from tests.servers.fake_openai import Text

SAMPLE_DOC = (DATA / "sample_repo" / "doc" / "convention.md").read_text(encoding="utf-8")


def test_test_names_are_short_title_case_without_rejected_characters() -> None:
    taken: set[str] = set()
    name = make_name("Then the cart total is 35.98 (10 % off 39.98)", 8, taken)
    assert name == "Cart Total Is 35.98"  # the amount as the ticket writes it, not another number
    long = 'Checking out with a valid card is refused with the message "Please log in to checkout"'
    assert make_name(long, 8, taken) == "Checking Out With Valid Card Is Refused"
    assert make_name("Is the account locked?", 8, taken) == "Is Account Locked"
    assert make_name("Cart total is 35.98", 8, taken) == "Cart Total Is 35.98 2"  # unique in the suite
    assert "?" not in name and "." not in name.replace("35.98", "")


def test_slugs_stop_at_word_boundaries() -> None:
    assert file_slug("Show product variants in the cart variant picker", 5) == "show_product_variants_in_cart"
    assert file_slug("Apply a discount code in the cart", 4) == "apply_discount_code"  # not ..._in
    assert file_name("QA-7", "Cancel an order", Conventions(key_case="upper", file_separator="-")) == (
        "QA-7-cancel-order.robot"
    )


def test_documentation_is_wrapped_between_words_under_the_limit() -> None:
    text = "Given the user " + "supercalifragilistic " * 12 + "# not a comment ... ${x}"
    lines = wrapped_setting("[Documentation]", text, "    ", 80)
    assert len(lines) > 2 and all(len(line) <= 80 for line in lines)
    assert all(line.startswith("    ...    ") for line in lines[1:])
    source = "*** Test Cases ***\nT\n" + "\n".join(lines) + "\n    No Operation\n"
    test = get_model(source).sections[0].body[0]
    doc = unescape(test.body[0].value.replace("\n", " "))
    assert doc == " ".join(text.split())  # RF reads back the exact words: none cut, nothing evaluated


def test_convention_doc_rules_win_over_defaults_and_config_over_both() -> None:
    rules = parse_convention(SAMPLE_DOC)
    assert rules["slug_max_words"] == 5
    assert rules["missing_marker"] == "# MISSING KEYWORD: "
    assert rules["key_case"] == "lower" and rules["file_separator"] == "_"
    assert "wip" in rules["incomplete_tags"]
    doc = "Test names have at most 4 words.\nFiles: `<jira-key>-<slug>.robot`\nGaps: `# TODO step: <step>`"
    conventions = build_conventions(doc, {"incomplete": "fail"})
    assert (conventions.name_max_words, conventions.key_case, conventions.file_separator) == (4, "as-is", "-")
    assert conventions.missing_marker == "# TODO step: " and conventions.incomplete == "fail"
    assert build_conventions(doc, {"name_max_words": 6}).name_max_words == 6


def test_llm_output_with_a_gap_is_sealed_and_measured() -> None:
    """A model that leaves a marker but forgets the Skip, or asserts nothing, still never passes."""
    text = (
        "*** Test Cases ***\nLocked\n    [Tags]    QA-1\n    Given Login As    a\n"
        "    # MISSING KEYWORD: Then the account is locked\n\nOnly Setup\n    Given Login As    b\n"
        "\nChecks\n    Given Login As    c\n    Then Account Should Be Locked    c\n"
    )
    sealed = seal_incomplete(text, Conventions(incomplete="fail"))
    assert "    [Tags]    QA-1    jira2robot:incomplete" in sealed
    assert "    Fail    Incomplete (jira2robot): 1 step(s) without a keyword: Then the account is locked" in sealed
    assert "    Fail    Incomplete (jira2robot): no step checks the expected outcome" in sealed
    gaps = measure(sealed, "# MISSING KEYWORD: ")
    assert [c.name for c in gaps.incomplete] == ["Locked", "Only Setup"] and gaps.missing_steps == [
        "Then the account is locked"
    ]
    assert seal_incomplete(sealed, Conventions(incomplete="fail")) == sealed  # sealing twice changes nothing


def test_unmappable_step_with_fail_configured_fails_the_real_run(tmp_path: Path, sample_repo: Path) -> None:
    """`incomplete: fail` in .jira2robot.yml: the generated test is red in a real run, named by its gap."""
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "QA-900.yaml").write_text(
        "key: QA-900\nsummary: Guest sees the moon\ncomponents: [cart]\nacceptance_criteria: |\n"
        '  Given the user "zed" is logged in\n  Then the moon is made of cheese\n',
        encoding="utf-8",
    )
    config = sample_repo / ".jira2robot.yml"
    config.write_text(config.read_text(encoding="utf-8") + "incomplete: fail\n", encoding="utf-8")
    out = tmp_path / "out"
    args = offline_args(sample_repo, out)
    args[args.index("--tickets-dir") + 1] = str(tickets)
    assert main(["run", "--keys", "QA-900", *args, "--pages-dir", str(PAGES)]) == 0
    entry = json.loads((out / "report.json").read_text())["tickets"][0]
    assert entry["complete"] is False and entry["steps_mapped"] == 1 and entry["steps_total"] == 2
    written = (sample_repo / entry["test_path"]).read_text()
    assert "# MISSING KEYWORD: Then the moon is made of cheese" in written
    done = subprocess.run(
        [sys.executable, "-m", "robot", "-v", "ENV:demo", "--pythonpath", "libraries", "--output", "NONE",
         "--log", "NONE", "--report", "NONE", entry["test_path"]],
        cwd=sample_repo, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "1 test, 0 passed, 1 failed" in done.stdout, done.stdout
    assert "Incomplete (jira2robot): 1 step(s) without a keyword: Then the moon is made of cheese" in done.stdout


def test_llm_file_with_a_gap_is_reported_incomplete(llm, atlassian, sample_repo: Path, tmp_path: Path) -> None:
    """The LLM writer's file is measured like the offline one: its marker counts as a missing
    step, the test is sealed with Skip, and report.json says so."""
    from tests.test_run_e2e import GOOD_PATH, GOOD_ROBOT, llm_args, report, run_cli, spec_json

    gap = GOOD_ROBOT.replace(
        '    Then Failed Login Count Of "alice" Should Be "1"\n', "    # MISSING KEYWORD: Then the account is locked\n"
    )
    assert gap != GOOD_ROBOT
    llm.script(Text(spec_json()), Text(gap))
    assert run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, tmp_path / "out")) == 0
    entry = report(tmp_path / "out")["tickets"][0]
    assert entry["complete"] is False and entry["tests_incomplete"] == 1
    assert entry["steps_mapped"] == entry["steps_total"] - 1
    assert entry["open_questions"] == ["No existing keyword for step: Then the account is locked"]
    written = (sample_repo / GOOD_PATH).read_text()
    assert "Skip    Incomplete (jira2robot): 1 step(s) without a keyword: Then the account is locked" in written
    assert report(tmp_path / "out")["summary"]["incomplete"] == 1
    # The writer was told the repo's way: marker, tags and ending, and only the imports it needs.
    writer = llm.requests[1]["messages"]
    assert (
        "# MISSING KEYWORD: <step>" in writer[0]["content"] and "wip    jira2robot:incomplete" in writer[0]["content"]
    )
    imports = writer[1]["content"].split("Imports for these keywords", 1)[1].split("\n\n", 1)[0]
    assert "- Resource    ../../resources/shop.resource" in imports
    assert "login.resource" not in imports and "cart.resource" not in imports


def test_convention_doc_is_capped_with_a_note_in_the_writer_prompt() -> None:
    from generator.plan.prompt_blocks import MAX_CONVENTION_CHARS, conventions_block

    doc = "rule number one applies here\n" * 1000
    block = conventions_block(doc)
    assert f"[truncated: {MAX_CONVENTION_CHARS} of {len(doc)} characters]" in block
    assert len(block) < MAX_CONVENTION_CHARS + 200
    assert "short rule" in conventions_block("short rule") and "truncated" not in conventions_block("short rule")


def test_llm_writer_on_a_repo_without_a_common_resource(llm, atlassian, sample_repo: Path, tmp_path: Path) -> None:
    """A repo whose suites import no resource (libraries only, like RobotDemo) still gets a prompt."""
    from tests.test_run_e2e import GOOD_ROBOT, llm_args, report, run_cli, spec_json

    for suite in (sample_repo / "tests").rglob("*.robot"):
        suite.write_text(suite.read_text().replace("Resource", "Library    Collections\n# Resource"))
    llm.script(Text(spec_json()), Text(GOOD_ROBOT))
    run_cli("--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, tmp_path / "out"))
    entry = report(tmp_path / "out")["tickets"][0]
    assert "internal error" not in entry["reason"], entry["reason"]
    # The writer was asked (its file imports shop.resource, which no suite of this repo imports
    # any more: the allow-list refuses it and the repairs follow, issue #18).
    assert len(llm.requests) >= 2 and "WRITER" in llm.requests[1]["messages"][0]["content"]


def test_planner_folder_hints_are_ranked_by_relevance() -> None:
    from generator.models import ExampleTest, KeywordInventory, RepoContext, Ticket, TicketContext
    from generator.plan.llm import ranked_folders

    folders = [f"area_{i:03d}" for i in range(100)] + ["payments/refunds", "zeta"]
    repo = RepoContext(root=".", tests_dir="tests", convention_path="", inventory=KeywordInventory(), folders=folders)
    ticket = Ticket(key="QA-1", summary="Refunds of card payments", components=["zeta"])
    ctx = TicketContext(ticket=ticket, repo=repo, examples=[ExampleTest(path="tests/zeta/x.robot", text="")])
    assert ranked_folders(ctx, 3) == ["zeta", "payments/refunds", "area_000"]


@pytest.mark.parametrize("room", [5, 7, 13, 40])
def test_a_word_longer_than_a_line_is_split_without_breaking_an_escape(room: int) -> None:
    from robot.variables import contains_variable

    from generator.plan.conventions import fit_words
    from generator.validate.trust import escape_cell

    word = escape_cell("${{__import__('os').system('id')}}\\%{GITLAB_TOKEN}@{x}&{y}" * 3)
    pieces = fit_words(f"short {word} end", room).split(" ")
    assert "".join(pieces) == f"short{word}end"
    for piece in pieces:
        assert len(piece) <= max(room, 1) and not contains_variable(piece), piece
