"""Retrieval on a small fixture repo: a wrapper resource over a library, a deprecated keyword,
a UI library the API folder never uses, and tests that show which keywords a folder calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.gather.repo import index_suites
from generator.keywords import build_inventory
from generator.matcher import KeywordMatcher
from generator.retrieval import Retriever

LIB = '''
def status_should_be(expected_status, response=None):
    """Fail unless the response has the expected HTTP status."""


def get_request(alias, uri):
    """*DEPRECATED* Use GET On Session instead. Send a GET request and return the reply."""


def get_on_session(alias, uri):
    """Send a GET request on a session and return the reply."""
'''

UI = '''
def page_should_contain(text):
    """Verify that the page shows the text of the reply status."""
'''

RESOURCE = """*** Settings ***
Library    ../libraries/ApiLib.py
Library    ../libraries/UiLib.py

*** Keywords ***
Response status code should be:
    [Arguments]    ${code}
    [Documentation]    Checks the HTTP status code of the last reply.
    Status Should Be    ${code}

Send GET request to
    [Arguments]    ${path}
    [Documentation]    Fetches a resource of the API by its path and keeps the reply.
    GET On Session    api    ${path}
"""

SUITE = """*** Settings ***
Resource    ../../resources/api.resource

*** Test Cases ***
Orders Are Listed
    Send GET request to    /orders
    Response status code should be:    200
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "libraries").mkdir()
    (tmp_path / "libraries" / "ApiLib.py").write_text(LIB, encoding="utf-8")
    (tmp_path / "libraries" / "UiLib.py").write_text(UI, encoding="utf-8")
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "api.resource").write_text(RESOURCE, encoding="utf-8")
    (tmp_path / "tests" / "orders").mkdir(parents=True)
    (tmp_path / "tests" / "orders" / "orders.robot").write_text(SUITE, encoding="utf-8")
    return tmp_path


def _retriever(repo: Path) -> Retriever:
    return Retriever(build_inventory(repo, tests_dir="tests"), index_suites(repo, "tests"))


STEP = 'Then the HTTP status of the reply is "200"'


def test_the_repos_wrapper_is_called_not_the_library_keyword_it_wraps(repo: Path) -> None:
    retriever = _retriever(repo)
    assert retriever.rank(STEP, area="tests/orders")[0][0].name == "Response status code should be:"
    [mapping] = retriever.match_case([STEP], area="tests/orders")
    assert (mapping.keyword, mapping.args) == ("Response status code should be:", ["200"])
    # The names alone choose the library keyword: that is what the ranking fixes.
    plain = KeywordMatcher(build_inventory(repo, tests_dir="tests")).match_case([STEP])[0]
    assert plain.keyword != "Response status code should be:"


def test_a_deprecated_keyword_is_never_offered(repo: Path) -> None:
    retriever = _retriever(repo)
    step = "When a GET request is sent for the reply"
    offered = retriever.relevant([step], area="tests/orders") + [k for k, _ in retriever.search("Get Request")]
    assert "Get Request" not in {k.name for k in offered}
    assert "Get On Session" in {k.name for k, _ in retriever.rank(step)}


def test_a_library_the_folder_never_uses_ranks_below_one_it_does(repo: Path) -> None:
    ranked = [k.name for k, _ in _retriever(repo).rank("the reply status is shown", area="tests/orders")]
    assert ranked.index("Response status code should be:") < ranked.index("Page Should Contain")


def test_the_writer_list_is_short_and_holds_what_the_steps_need(repo: Path) -> None:
    steps = ['When the API resource "/orders" is fetched by path', STEP]
    names = [k.name for k in _retriever(repo).relevant(steps, area="tests/orders")]
    assert {"Send GET request to", "Response status code should be:"} <= set(names)
    assert len(names) <= 6
