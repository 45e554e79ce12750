"""Every choice of the offline writer backed by evidence: arguments from the ticket or an example,
imports the file needs to run, the folder of the most similar suites of the ticket's area.

The fixture repo `tests/data/repos/api_lines` has the shape of a large public API suite: two
mirror product lines (`tests/api/b2b`, `tests/api/b2c`), a browser suite about the same orders
(`tests/ui/orders`), and a resource calling `Create Session` that does not import the HTTP
library: only the suites that import it do. Runs are the real thing (CLI, `robot --dryrun`).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from generator.cli import main
from generator.models import ExampleTest, Keyword, KeywordInventory, Ticket
from generator.plan.placement import area_of
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import format_call
from generator.write.evidence import Evidence, guessed_steps, is_guessed

REPOS = Path(__file__).resolve().parent / "data" / "repos"

pytestmark = pytest.mark.usefixtures("clean_env", "own_cache")


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _run(tmp_path: Path, key: str) -> tuple[dict, str]:
    repo = tmp_path / "repo"
    shutil.copytree(REPOS / "api_lines", repo, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"
    argv = ["run", "--llm", "offline", "--tickets-dir", str(REPOS / "tickets"), "--keys", key, "--repo", str(repo)]
    assert main([*argv, "--output-dir", str(out)]) == 0
    [entry] = json.loads((out / "report.json").read_text(encoding="utf-8"))["tickets"]
    return entry, (repo / entry["test_path"]).read_text(encoding="utf-8")


def test_a_resource_leaning_on_its_importers_library_gets_that_library_imported(tmp_path: Path) -> None:
    entry, text = _run(tmp_path, "ORD-1")

    # Without `Library .../HttpLibrary.py` the kept `Suite Setup    Open API Sessions` fails the
    # dryrun with "No keyword with name 'Create Session' found", which no repair can fix.
    assert entry["status"] == "created", entry["reason"]
    assert entry["test_path"].startswith("tests/api/b2b/")
    assert re.search(r"^Library +\.\./\.\./\.\./libraries/HttpLibrary\.py$", text, re.MULTILINE), text
    assert re.search(r"^Suite Setup +Open API Sessions$", text, re.MULTILINE), text
    assert entry["steps_guessed_arguments"] == 0


def test_an_api_ticket_goes_to_its_product_lines_api_folder_named_from_the_ticket(tmp_path: Path) -> None:
    entry, text = _run(tmp_path, "ORD-2")

    # The order page's UI suite shares "order" and "status" with the ticket; its area does not.
    assert entry["status"] == "created", entry["reason"]
    assert entry["test_path"].startswith("tests/api/b2c/"), entry["test_path"]
    assert "UI suite setup" not in text
    assert "\nShipped Order Status Of B2C Client\n" in text
    assert "    When Send GET request to:    /b2c/orders/2\n" in text


def test_area_is_read_from_words_and_url_paths() -> None:
    assert area_of('When a GET request is sent to "/b2c/orders/2"') == "api"
    assert area_of("the user clicks the order link on the page") == "ui"
    assert area_of("the order is shipped") is None


# --------------------------------------------------------------------------- arguments

GET = Keyword(name="GET", args=["@{args}", "&{kwargs}"], owner="RequestsLibrary", owner_kind="library")
SEND = Keyword(
    name="Send GET request and return status code:",
    args=["${url}", "${timeout}=10"],
    owner="resources/api.resource",
    doc="Sends an HTTP GET request to the url and returns the status code.",
)
TEMPLATE = Keyword(name="An ${auth} HTTP GET request to ${uri}", args=[], owner="resources/api.resource", embedded=True)


@pytest.fixture
def matcher() -> KeywordMatcher:
    return KeywordMatcher(KeywordInventory(keywords=[GET, SEND, TEMPLATE], resources=["resources/api.resource"]))


def test_an_acronym_of_the_sentence_is_never_an_argument(matcher: KeywordMatcher) -> None:
    mapping = matcher.match('When an HTTP GET request is sent to "/customer-access" and the status code returned')

    assert "HTTP" not in mapping.args
    assert matcher.match("Then the order status is CANCELLED").args in ([], ["CANCELLED"])


def test_an_embedded_template_is_filled_from_the_steps_words(matcher: KeywordMatcher) -> None:
    mapping = matcher.match('When an authenticated HTTP GET request to "/customers"')

    assert format_call(mapping) == "When An authenticated HTTP GET request to /customers"
    assert matcher.embedded_args("An authenticated HTTP GET request to /customers") == ["authenticated", "/customers"]


SUITE = """\
*** Test Cases ***
Fetch
    GET    HTTP    /customer-access
    GET    /customer-access
    An authenticated HTTP GET request to /customers
    An unknown HTTP GET request to /customers
    Send GET request and return status code:    ${BASE}/x
    Send GET request and return status code:    ${ELSEWHERE}/x
"""


def test_arguments_neither_the_ticket_nor_an_example_holds_are_counted(matcher: KeywordMatcher) -> None:
    ticket = Ticket(
        key="API-1",
        summary="Customer access",
        acceptance_criteria=['When an authenticated HTTP GET request is sent to "/customer-access" and /customers'],
    )
    example = ExampleTest(path="tests/api/a.robot", text="*** Test Cases ***\nA\n    GET    ${BASE}/x\n")
    evidence = Evidence.of(ticket, [example], ["${TIMEOUT}"])

    guessed = guessed_steps(SUITE, evidence, matcher)

    assert guessed == [
        "GET    HTTP    /customer-access",
        "An unknown HTTP GET request to /customers",
        "Send GET request and return status code:    ${ELSEWHERE}/x",
    ]
    # A test's own variables are no guess; a number variable is its number.
    own = "*** Test Cases ***\nT\n    ${resp} =    GET    /customer-access\n    Should Be Equal    ${resp.status_code}    ${200}\n"
    assert guessed_steps(own, evidence, matcher) == ["Should Be Equal    ${resp.status_code}    ${200}"]
    assert guessed_steps(own.replace("${200}", "${TRUE}"), evidence, matcher) == []
    # The offline writer asks the same before writing a step, and writes a gap instead.
    assert is_guessed("When GET    HTTP    /customer-access", evidence, matcher)
    assert not is_guessed("When GET    /customer-access", evidence, matcher)
