"""Cleaning of model output: the quirks real models produce, one per test."""

from __future__ import annotations

import pytest

from generator.clients.llm.text import extract_json_object, strip_fences, strip_reasoning
from generator.safety.redact import MASK, Redactor

# --------------------------------------------------------------------------- strip_reasoning


@pytest.mark.parametrize(
    "raw",
    [
        "[THINK]plan the spec\nstep 2[/THINK]ANSWER",
        "<think>\nlet me think\n</think>\nANSWER",
        "<thinking>a</thinking>ANSWER",
        "<THINK>upper case</THINK>ANSWER",
        "[think]lower case[/think]ANSWER",
    ],
)
def test_strip_reasoning_removes_complete_blocks(raw: str) -> None:
    assert strip_reasoning(raw).strip() == "ANSWER"


def test_strip_reasoning_removes_several_blocks_anywhere() -> None:
    raw = "<think>one</think>A [THINK]two[/THINK]B"
    assert strip_reasoning(raw) == "A B"


def test_dangling_closing_tag_drops_everything_before_it() -> None:
    # Servers whose chat template injects "<think>" only return the closing tag.
    assert strip_reasoning("reasoning without opening\n</think>\nANSWER").strip() == "ANSWER"


def test_nested_blocks_leave_no_reasoning() -> None:
    assert strip_reasoning("<think>a <think>b</think> c</think>ANSWER") == "ANSWER"


def test_unterminated_opening_block_at_start_means_no_answer() -> None:
    assert strip_reasoning("  [THINK] still reasoning when the tokens ran out") == ""


def test_text_without_reasoning_is_unchanged() -> None:
    text = "*** Test Cases ***\nA Test\n    Log    think about <this>\n"
    assert strip_reasoning(text) == text


# --------------------------------------------------------------------------- strip_fences


def test_strip_fences_returns_robot_block_content() -> None:
    raw = "Here is the file:\n```robotframework\n*** Test Cases ***\nT\n    Log    x\n```\nDone."
    assert strip_fences(raw) == "*** Test Cases ***\nT\n    Log    x"


def test_strip_fences_picks_the_largest_block() -> None:
    raw = "Example:\n```\nLog  x\n```\nFile:\n```robot\n*** Settings ***\nLibrary    Collections\n\n*** Test Cases ***\nT\n    Log    y\n```"
    assert strip_fences(raw).startswith("*** Settings ***")
    assert strip_fences(raw).endswith("Log    y")


def test_strip_fences_handles_tildes_and_unterminated_fence() -> None:
    assert strip_fences("~~~robot\n*** Test Cases ***\n~~~") == "*** Test Cases ***"
    # The model was cut off before the closing fence: the content still counts.
    assert strip_fences("```robot\n*** Test Cases ***\nT\n    No Operation\n") == (
        "*** Test Cases ***\nT\n    No Operation"
    )


def test_strip_fences_keeps_first_line_indentation_and_drops_reasoning() -> None:
    raw = "<think>```python\nprint(1)\n```</think>\n```\n    Indented Line\n```"
    assert strip_fences(raw) == "    Indented Line"


def test_strip_fences_without_fence_returns_stripped_text() -> None:
    assert strip_fences("\n  *** Test Cases ***\nT\n  \n") == "*** Test Cases ***\nT"


# --------------------------------------------------------------------------- extract_json_object


def test_extract_plain_json() -> None:
    assert extract_json_object(' {"a": 1} ') == {"a": 1}


def test_extract_from_json_fence_after_reasoning() -> None:
    raw = '[THINK]maybe {"draft": true}[/THINK]\nSure:\n```json\n{"meta": {"jira_key": "A-1"}}\n```'
    assert extract_json_object(raw) == {"meta": {"jira_key": "A-1"}}


def test_extract_from_prose_with_braces_inside_strings() -> None:
    raw = 'The spec {see below} is:\n{"steps": ["Given a } brace", "When {x}"], "n": 2}\nThanks!'
    assert extract_json_object(raw) == {"steps": ["Given a } brace", "When {x}"], "n": 2}


def test_extract_skips_fenced_non_json_block() -> None:
    raw = '```robot\n*** Test Cases ***\n```\n{"ok": true}'
    assert extract_json_object(raw) == {"ok": True}


def test_extract_ignores_a_top_level_list_but_finds_the_object_inside() -> None:
    assert extract_json_object('[{"a": 1}]') == {"a": 1}


@pytest.mark.parametrize(
    ("raw", "expected_in_message"),
    [
        ("", "empty"),
        ("<think>only reasoning</think>", "empty"),
        ("no json here at all", "not valid JSON"),
        ('{"a": 1, "b": ', "not valid JSON"),
        ("[1, 2]", "list, not an object"),
    ],
)
def test_extract_failure_says_what_was_wrong(raw: str, expected_in_message: str) -> None:
    with pytest.raises(ValueError) as info:
        extract_json_object(raw)
    assert expected_in_message in str(info.value)


def test_extract_failure_quotes_only_the_first_200_chars() -> None:
    raw = "x" * 150 + "TAIL" * 100
    with pytest.raises(ValueError) as info:
        extract_json_object(raw)
    message = str(info.value)
    assert "x" * 150 in message
    assert "TAIL" * 20 not in message


# --------------------------------------------------------------------------- redact


def test_redact_masks_every_occurrence() -> None:
    text = "token glpat-123456 used, again glpat-123456; key sk-abcd"
    assert Redactor(["glpat-123456", "sk-abcd"])(text) == f"token {MASK} used, again {MASK}; key {MASK}"


def test_redact_ignores_short_and_empty_values() -> None:
    assert Redactor(["abc", "", None])("a abc b") == "a abc b"


def test_redact_masks_longer_secret_whole_when_it_contains_a_shorter_one() -> None:
    assert Redactor(["secret", "secret-long-value"])("secret-long-value") == MASK
