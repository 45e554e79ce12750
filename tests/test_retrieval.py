"""Retrieval on a small fixture repo: a wrapper resource over a library, a deprecated keyword,
a UI library the API folder never uses, and tests that show which keywords a folder calls."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from generator.cli import main
from generator.gather.repo import index_suites
from generator.models import SpecMeta, SpecRF, SpecTestCase, TestSpec, Ticket
from generator.retrieval.examples import find_examples
from generator.retrieval.inventory import build_inventory
from generator.retrieval.rank import Retriever
from generator.retrieval.render import format_call
from generator.write.prompts import writer_messages
from generator.write.repo_tools import must_read
from tests.servers.fake_openai import Text
from tests.test_run_e2e import GOOD_PATH, GOOD_ROBOT, llm_args, spec_json

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


def _suite(tests: dict[str, list[str]], resource: str = "../../resources/api.resource") -> str:
    body = "".join(f"{name}\n" + "".join(f"    {step}\n" for step in steps) + "\n" for name, steps in tests.items())
    return f"*** Settings ***\nResource    {resource}\n\n*** Test Cases ***\n{body}"


def _ticket(summary: str, criteria: list[str], components: list[str]) -> Ticket:
    return Ticket(key="QA-1", summary=summary, acceptance_criteria=criteria, components=components)


def test_examples_are_test_cases_not_the_top_of_a_big_suite(tmp_path: Path) -> None:
    filler = {f"Filler test {n}": [f"Log    unrelated step {n}"] * 8 for n in range(200)}
    wanted = {"Refund Is Paid Back": ["Send GET request to    /refunds/1", "Response status code should be:    200"]}
    (tmp_path / "tests" / "billing").mkdir(parents=True)
    (tmp_path / "tests" / "billing" / "billing.robot").write_text(_suite({**filler, **wanted}), encoding="utf-8")
    [example] = find_examples(index_suites(tmp_path, "tests"), _ticket("Refund paid back", [], []), limit=1)
    assert "Refund Is Paid Back" in example.text and "Resource    ../../resources/api.resource" in example.text
    assert "Filler test 0\n" not in example.text
    assert len(example.text) < 2000


def test_a_mirror_folders_copy_is_not_shown_twice_and_the_components_folder_wins(tmp_path: Path) -> None:
    tests = {"Order Is Listed": ["Send GET request to    /orders"], "Order Is Removed": ["Log    remove"]}
    other = {"Invoice Is Listed": ["Send GET request to    /invoices"]}
    for line in ("product_a", "product_b"):
        (tmp_path / "tests" / line / "orders").mkdir(parents=True)
        (tmp_path / "tests" / line / "orders" / "orders.robot").write_text(_suite(tests), encoding="utf-8")
    (tmp_path / "tests" / "product_b" / "invoices").mkdir()
    (tmp_path / "tests" / "product_b" / "invoices" / "invoices.robot").write_text(_suite(other), encoding="utf-8")
    ticket = _ticket("Order listed", ["the order is listed"], ["product_b", "orders"])
    examples = find_examples(index_suites(tmp_path, "tests"), ticket, limit=2)
    assert [e.path for e in examples] == [
        "tests/product_b/orders/orders.robot",
        "tests/product_b/invoices/invoices.robot",
    ]


def test_the_plans_must_read_files_reach_the_writer_confined_and_within_budget(tmp_path: Path) -> None:
    (tmp_path / "doc").mkdir()
    (tmp_path / "doc" / "api.md").write_text("Use the wrapper keywords.\n", encoding="utf-8")
    (tmp_path / "doc" / "big.md").write_text("x" * 5000, encoding="utf-8")
    (tmp_path / "doc" / "convention.md").write_text("the convention", encoding="utf-8")
    (tmp_path / ".env").write_text("TOKEN=secret", encoding="utf-8")
    (tmp_path.parent / "outside.md").write_text("outside", encoding="utf-8")
    asked = ["doc/api.md", "../outside.md", ".env", "doc/convention.md", "doc/missing.md", "doc/big.md"]
    files = must_read(tmp_path, asked, skip=["doc/convention.md"], limit=1000)
    assert [path for path, _ in files] == ["doc/api.md", "doc/big.md"]
    assert sum(len(text) for _, text in files) < 1100 and "read_file 'doc/big.md'" in files[1][1]
    spec = TestSpec(
        meta=SpecMeta(jira_key="QA-1", title="t"),
        rf=SpecRF(target_path="tests/a.robot", test_cases=[SpecTestCase(name="T", steps=["s"])]),
    )
    prompt = writer_messages(spec, _ticket("t", [], []), "", [], [], [], files=files)[1]["content"]
    assert '<file path="doc/api.md">\nUse the wrapper keywords.\n</file>' in prompt


def test_templated_tests_call_their_template_and_a_suites_own_keywords_count_as_usage(tmp_path: Path) -> None:
    text = """*** Settings ***
Test Template    Login With Invalid Credentials Should Fail

*** Test Cases ***
Invalid Username    invalid    mode
Own Template
    [Template]    Other Template
    a    b

*** Keywords ***
Browser Is Opened
    Open Browser To Login Page
    Input Username    demo
"""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "x.robot").write_text(text, encoding="utf-8")
    for _ in range(2):  # built from the parse, then served from the cache
        [suite] = index_suites(tmp_path, "tests", cache_dir=tmp_path / "cache")
        doc = suite.doc
        assert doc is not None
        assert [c.calls for c in doc.cases] == [("Login With Invalid Credentials Should Fail",), ("Other Template",)]
        assert [c.calls for c in doc.local] == [("Open Browser To Login Page", "Input Username")]
        assert [c.text for c in doc.cases][1] == "Own Template\n    [Template]    Other Template\n    a    b"


LOGIN = """*** Keywords ***
Input Password
    [Arguments]    ${password}
    [Documentation]    Types the password into the login form.
    Log    ${password}

Submit Credentials
    [Documentation]    Presses the login button.
    Log    submit

Accept Terms
    [Documentation]    Ticks the box that accepts the terms of the form.
    Log    terms
"""


def _login_repo(root: Path, resource: str, tests: dict[str, list[str]]) -> Retriever:
    """A repo of one login resource and one suite calling it; its retriever."""
    (root / "resources").mkdir()
    (root / "resources" / "login.resource").write_text(resource, encoding="utf-8")
    (root / "tests").mkdir()
    (root / "tests" / "login.robot").write_text(_suite(tests, "../resources/login.resource"), encoding="utf-8")
    return Retriever(build_inventory(root, tests_dir="tests"), index_suites(root, "tests"))


def test_a_step_no_name_fits_takes_the_keyword_the_folders_tests_call_next(tmp_path: Path) -> None:
    steps = ["Input Password    mode", "Submit Credentials"]
    retriever = _login_repo(tmp_path, LOGIN, {f"Login {n}": steps for n in range(3)})
    case = ['When the user types the password "mode"', "And the user confirms the login form"]
    assert [m.keyword for m in retriever.match_case(case, area="tests")] == ["Input Password", "Submit Credentials"]
    # Without the tests showing what comes next, the form's words point elsewhere.
    alone = Retriever(build_inventory(tmp_path, tests_dir="tests"), [])
    assert alone.match_case(case, area="tests")[1].keyword != "Submit Credentials"


SCREENS = """*** Keywords ***
Open Browser To Login Page
    [Documentation]    Starts a browser on the login screen.
    Log    open

Login Should Have Failed
    [Documentation]    Checks the error screen is shown after a refused login.
    Log    failed

Welcome Page Should Be Open
    [Documentation]    Checks the welcome screen is shown after a successful login.
    Log    welcome
"""


def test_a_step_whose_best_keyword_another_step_took_also_offers_one_no_test_calls_yet(tmp_path: Path) -> None:
    retriever = _login_repo(tmp_path, SCREENS, {"Refused": ["Open Browser To Login Page", "Login Should Have Failed"]})
    # "start" and "screen" point to the login page, which the first step already claims; only
    # "screen" links the second step to either check, and only the failed one is ever called.
    steps = ["The web browser starts on the sign-in screen", "The home screen starts"]
    assert retriever.rank(steps[1], area="tests")[0][0].name == "Open Browser To Login Page"
    assert "Welcome Page Should Be Open" in {k.name for k in retriever.relevant(steps, area="tests")}
    assert "Welcome Page Should Be Open" not in {k.name for k in retriever.relevant(steps[1:], area="tests")}


def test_once_the_target_folder_is_known_a_sibling_comes_before_a_mirror_folders_copy(tmp_path: Path) -> None:
    tests = {"Order Is Listed": ["Send GET request to    /orders"], "Order Is Removed": ["Log    remove"]}
    for line in ("product_a", "product_b"):  # product_a sorts first: it wins a tie
        (tmp_path / "tests" / line / "orders").mkdir(parents=True)
        (tmp_path / "tests" / line / "orders" / "orders.robot").write_text(_suite(tests), encoding="utf-8")
    audit = {"Audit Log Is Kept": ["Log    audit"]}
    (tmp_path / "tests" / "product_b" / "orders" / "audit.robot").write_text(_suite(audit), encoding="utf-8")
    listing = {"Every Order Invoice Is Listed": ["Send GET request to    /invoices"]}
    (tmp_path / "tests" / "product_a" / "invoices").mkdir()
    (tmp_path / "tests" / "product_a" / "invoices" / "listing.robot").write_text(_suite(listing), encoding="utf-8")
    suites = index_suites(tmp_path, "tests")
    ticket = _ticket("Order listed", ["every order is listed"], ["orders"])  # names the domain only
    blind = [e.path for e in find_examples(suites, ticket, limit=2)]
    assert blind == ["tests/product_a/invoices/listing.robot", "tests/product_a/orders/orders.robot"]
    examples = find_examples(suites, ticket, limit=2, target="tests/product_b/orders/qa-1.robot")
    # The sibling first; the second slot is the most similar elsewhere, not the other sibling.
    assert [e.path for e in examples] == [
        "tests/product_b/orders/orders.robot",
        "tests/product_a/invoices/listing.robot",
    ]


@pytest.mark.usefixtures("clean_env")
def test_a_run_parses_each_suite_once_and_a_warm_run_none(
    llm,
    atlassian,
    sample_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    robot_parses: list[tuple[object, bool]],
) -> None:
    """The suite index and retrieval (ranking, examples) share one parse, cached with the index."""
    texts = {p.read_text(encoding="utf-8"): p for p in (sample_repo / "tests").rglob("*.robot")}

    def parsed() -> Counter[Path]:
        """The sample's suites parsed with their tokens (as the index does) since the last clear."""
        return Counter(texts[s] for s, data_only in robot_parses if isinstance(s, str) and not data_only and s in texts)

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for run in ("cold", "warm"):
        llm.script(Text(spec_json()), Text(GOOD_ROBOT))
        (sample_repo / GOOD_PATH).unlink(missing_ok=True)
        assert main(["run", "--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, tmp_path / run)]) == 0
        if run == "cold":
            assert parsed() and set(parsed().values()) == {1}, parsed()
            assert set(parsed()) == set(texts.values())
            robot_parses.clear()
    assert not parsed(), parsed()


def test_builtin_keywords_are_offered_only_when_a_step_calls_one_by_name(repo: Path) -> None:
    retriever = _retriever(repo)
    assert any(k.owner == "BuiltIn" for k, _ in retriever.rank("the two values should be equal", area="tests/orders"))
    offered = retriever.relevant(["the two values should be equal"], area="tests/orders")
    assert not [k.name for k in offered if k.owner == "BuiltIn"]
    named = retriever.relevant(["Should Be Equal    a    b"], area="tests/orders")
    assert "Should Be Equal" in [k.name for k in named if k.owner == "BuiltIn"]


TEMPLATED = """*** Settings ***
Test Template    Login With Invalid Credentials Should Fail

*** Test Cases ***
Invalid Password    demo    wrong

*** Keywords ***
Login With Invalid Credentials Should Fail
    [Arguments]    ${user}    ${password}
    Type The Credentials    ${user}    ${password}
    Log    failed

Type The Credentials
    [Arguments]    ${user}    ${password}
    Log    ${user} ${password}

Unrelated Helper
    Log    never called by the case
"""


def test_an_example_case_comes_with_the_suites_own_keywords_it_calls(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "invalid.robot").write_text(TEMPLATED, encoding="utf-8")
    ticket = _ticket("Invalid password", ["a wrong password is refused"], [])
    [example] = find_examples(index_suites(tmp_path, "tests"), ticket, limit=1)
    assert "*** Keywords ***\nLogin With Invalid Credentials Should Fail\n" in example.text
    assert "\nType The Credentials\n    [Arguments]" in example.text  # called by the template
    assert "Unrelated Helper" not in example.text


@pytest.mark.usefixtures("clean_env")
def test_the_writers_first_example_is_a_suite_of_the_folder_the_plan_chose(llm, atlassian, sample_repo: Path, tmp_path):
    target = "tests/orders/qa-101_login_lockout.robot"  # not where the ticket's words point
    llm.script(Text(spec_json(target=target)), Text(GOOD_ROBOT))
    assert main(["run", "--keys", "QA-101", *llm_args(llm, atlassian, sample_repo, tmp_path / "out")]) == 0
    planner, writer = (json.dumps(llm.requests[n]["messages"]) for n in (0, 1))
    assert "tests/orders/" not in planner  # the ticket alone: login examples
    examples = writer.split("Similar existing tests:")[1]
    assert examples.startswith("\\n--- tests/orders/order_checkout.robot ---")


HTTP = """*** Keywords ***
GET On Session
    [Arguments]    ${alias}    ${url}
    [Documentation]    Sends a GET request on a session.
    Log    get

DELETE On Session
    [Arguments]    ${alias}    ${url}
    [Documentation]    Sends a DELETE request on a session.
    Log    delete

Create Session
    [Arguments]    ${alias}    ${url}
    Log    create

Close All Sessions
    Log    close
"""


HTTP_CALLS = [f"{kw}    api    /" for kw in ("Create Session", "GET On Session", "GET On Session", "DELETE On Session")]


def test_an_all_caps_http_method_in_a_step_names_the_keyword(tmp_path: Path) -> None:
    # `DELETE` reads as a value (code-like ALL-CAPS word) yet is the word the step turns on;
    # without it the step's other words fit GET as well, which the tests call more.
    retriever = _login_repo(tmp_path, HTTP, {"Listed": HTTP_CALLS})
    assert retriever.rank('The DELETE request on the session "/anything"')[0][0].name == "DELETE On Session"


def test_a_paraphrased_verb_finds_a_keyword_without_documentation(tmp_path: Path) -> None:
    retriever = _login_repo(tmp_path, HTTP, {"Listed": HTTP_CALLS})
    # "add" is how a ticket says `Create`; "removes" how it says `DELETE`.
    assert retriever.rank('The test adds a session "api"')[0][0].name == "Create Session"
    assert retriever.rank("The client removes the record on the session")[0][0].name == "DELETE On Session"
    assert retriever.covers(retriever.lookup("Create Session"), 'The test adds a session "api"')


def test_a_step_leaves_out_the_session_the_folders_tests_always_pass(tmp_path: Path) -> None:
    calls = [
        "Create Session    api    /",
        "DELETE On Session    ${SESSION}    /a",
        "DELETE On Session    ${SESSION}    /b",
    ]
    retriever = _login_repo(tmp_path, HTTP, {"Removed": calls})
    step = 'When the DELETE request on the session is sent to "/anything"'
    [mapping] = retriever.match_case([step], area="tests")
    assert (mapping.keyword, mapping.args, mapping.step) == ("DELETE On Session", ["${SESSION}", "/anything"], step)
    assert format_call(mapping) == "When DELETE On Session    ${SESSION}    /anything"
    # A step naming its own session keeps it; a literal the tests pass is their own data.
    named = retriever.match_case(['When the DELETE request on the session "mine" is sent to "/x"'], area="tests")
    assert named[0].args == ["mine", "/x"]
    (tmp_path / "once").mkdir()
    others = ["DELETE On Session    other    /b", "DELETE On Session    other    /c"]
    once = _login_repo(tmp_path / "once", HTTP, {"Removed": calls[:2] + others})
    assert once.match_case([step], area="tests")[0].keyword != "DELETE On Session"


def test_a_gherkin_suites_calls_count_as_usage_of_the_keywords_they_run(tmp_path: Path) -> None:
    tests = {"Welcome": ["Given open browser to login page", "Then welcome page should be open"]}
    retriever = _login_repo(tmp_path, SCREENS, tests)
    # Both checks' docs fit the step alike; the tests' `Then welcome page should be open` says
    # which one this folder calls.
    ranked = [k.name for k, _ in retriever.rank("the screen is shown after the login", area="tests")]
    assert ranked[0] == "Welcome Page Should Be Open"
