"""Two repo shapes for the reconstruction bench, generated at bench time (no public code committed).

- `api`: a large API suite. A wrapper resource (`Response status code should be:` over a
  RequestsLibrary-like Python library), a deprecated library keyword, UI and database libraries
  imported elsewhere in the repo, domain resources, and two product lines whose folders hold
  near-copies of the same suites (10-70k characters each).
- `ui`: a small web-login suite in the shape of robotframework/WebDemo: one resource of page
  keywords over a SeleniumLibrary-like library, two suites at the root of the tests folder.

Each test step is also given as a paraphrase (`paraphrase`), written the way a tester would state
it in a ticket, never with the keyword's words in order: the bench's tickets use those. Words
go through `SYNONYMS`; ALL-CAPS words (HTTP methods, acronyms) stay, as a ticket keeps them.
"""

from __future__ import annotations

import random
from pathlib import Path

API_LIB = '''\
"""A RequestsLibrary-like library."""


def create_session(alias, url):
    """Create an HTTP session to a server."""


def get_on_session(alias, url, expected_status=None):
    """Send a GET request on a session."""


def post_on_session(alias, url, json=None):
    """Send a POST request on a session."""


def delete_on_session(alias, url):
    """Send a DELETE request on a session."""


def status_should_be(expected_status, response=None):
    """Fail unless the response has the expected HTTP status."""


def get_request(alias, uri):
    """*DEPRECATED* Use GET On Session instead. Send a GET request."""


def request_should_be_successful(response=None):
    """Fail unless the status is 2xx."""
'''

UI_LIB = '''\
"""A SeleniumLibrary-like library."""


def open_browser(url, browser="chrome"):
    """Open a new browser at the URL."""


def close_browser():
    """Close the current browser."""


def input_text(locator, text):
    """Type text into the text field identified by the locator."""


def click_button(locator):
    """Click the button identified by the locator."""


def click_element(locator):
    """Click the element identified by the locator."""


def title_should_be(title):
    """Verify that the current page title equals the title."""


def page_should_contain(text):
    """Verify that the page contains the text."""


def location_should_be(url):
    """Verify that the current URL is exactly the url."""
'''

DB_LIB = '''\
"""A database library."""


def connect_to_database(dbname):
    """Connect to the database."""


def query(statement):
    """Run a SQL query and return its rows."""


def row_count_should_be(statement, count):
    """Verify the number of rows a query returns."""


def table_must_exist(table):
    """Verify the table exists."""
'''

API_COMMON = """\
*** Settings ***
Documentation     Shared API keywords: sessions, requests, response checks.
Library           ../libraries/ApiLib.py

*** Keywords ***
Open API session
    [Documentation]    Connects to the service under test as the default client.
    Create Session    api    http://localhost

Send GET request to
    [Arguments]    ${path}
    [Documentation]    Fetches a resource of the API by its path and keeps the reply.
    ${resp}=    GET On Session    api    ${path}
    Set Test Variable    ${RESPONSE}    ${resp}

Send POST request to
    [Arguments]    ${path}    ${body}
    [Documentation]    Submits a JSON payload to a path of the API and keeps the reply.
    ${resp}=    POST On Session    api    ${path}    json=${body}
    Set Test Variable    ${RESPONSE}    ${resp}

Send DELETE request to
    [Arguments]    ${path}
    [Documentation]    Removes a resource of the API by its path.
    ${resp}=    DELETE On Session    api    ${path}
    Set Test Variable    ${RESPONSE}    ${resp}

Response status code should be:
    [Arguments]    ${code}
    [Documentation]    Checks the HTTP status code of the last reply.
    Status Should Be    ${code}    ${RESPONSE}

Response body should contain field
    [Arguments]    ${field}
    [Documentation]    Checks the JSON of the last reply has the attribute.
    Log    ${field}

Response field should equal
    [Arguments]    ${field}    ${value}
    [Documentation]    Checks an attribute of the last reply's JSON has the value.
    Log    ${field} ${value}

Authenticate as
    [Arguments]    ${user}
    [Documentation]    Logs the client in with the credentials of a user and stores the token.
    Log    ${user}

Response time should be below
    [Arguments]    ${ms}
    [Documentation]    Checks the latency of the last reply in milliseconds.
    Log    ${ms}
"""

UI_COMMON = """\
*** Settings ***
Documentation     Browser keywords of the admin console.
Library           ../libraries/UiLib.py
Library           ../libraries/DbLib.py

*** Keywords ***
Open admin console
    [Documentation]    Starts a browser on the administration console.
    Open Browser    http://localhost/admin

Admin page should show
    [Arguments]    ${text}
    [Documentation]    Checks the administration screen displays the text.
    Page Should Contain    ${text}

Database table should have rows
    [Arguments]    ${table}    ${count}
    [Documentation]    Counts the records stored in a table.
    Row Count Should Be    SELECT * FROM ${table}    ${count}
"""

#: Domain -> (noun, plural, attribute names).
DOMAINS = {
    "orders": ("order", "orders", ("status", "total", "currency")),
    "customers": ("customer", "customers", ("email", "name", "tier")),
    "products": ("product", "products", ("price", "sku", "stock")),
    "invoices": ("invoice", "invoices", ("amount", "due", "paid")),
    "shipments": ("shipment", "shipments", ("carrier", "weight", "eta")),
    "payments": ("payment", "payments", ("method", "amount", "state")),
    "users": ("user", "users", ("role", "login", "locale")),
    "coupons": ("coupon", "coupons", ("code", "discount", "expiry")),
}

#: Synonyms a tester uses instead of the keyword's words (the paraphraser's table).
SYNONYMS = {
    "response": "reply", "status": "HTTP status", "code": "", "send": "issue", "request": "call",
    "get": "fetch", "post": "submit", "delete": "remove", "open": "start", "session": "connection",
    "body": "payload", "field": "attribute", "contain": "include", "should": "", "be": "is",
    "equal": "equals", "authenticate": "log in", "create": "add", "time": "latency", "below": "under",
    "page": "screen", "input": "type", "username": "user name", "password": "secret",
    "submit": "confirm", "credentials": "login form", "welcome": "home", "login": "sign-in",
    "have": "has", "failed": "been refused", "browser": "web browser", "to": "", "for": "of",
    "exist": "is present", "by": "through", "with": "using",
}  # fmt: skip


def paraphrase(keyword: str, args: list[str], rng: random.Random) -> str:
    """A step as a ticket states it: synonyms, values quoted, sometimes reordered as prose."""
    words = [w for w in keyword.rstrip(":").replace("_", " ").split()]
    prefix = words.pop(0).capitalize() if words and words[0].lower() in {"given", "when", "then", "and"} else ""
    # A tester writes protocol terms and acronyms as they are ("a DELETE request", "the JSON"):
    # ALL-CAPS words are kept, everything else goes through the synonyms.
    swapped = [w if len(w) > 1 and w.isupper() else SYNONYMS.get(w.lower(), w.lower()) for w in words]
    text = " ".join(w for w in swapped if w)
    values = " ".join(f'"{a}"' for a in args if not a.startswith("${"))
    sentence = f"{values} is what {text} gives" if rng.random() < 0.5 and values else f"the {text} {values}".strip()
    return f"{prefix} {sentence}".strip() if prefix else sentence[:1].upper() + sentence[1:]


def _domain_resource(domain: str, noun: str, plural: str, attrs: tuple[str, ...]) -> str:
    lines = [
        "*** Settings ***",
        f"Documentation     Keywords of the {plural} API.",
        "Resource          api_common.resource",
        "",
        "*** Keywords ***",
        f"Create {noun} with",
        "    [Arguments]    ${data}",
        f"    [Documentation]    Adds a new {noun} through the {plural} endpoint.",
        f"    Send POST request to    /{plural}    ${{data}}",
        "",
        f"Fetch {noun}",
        "    [Arguments]    ${id}",
        f"    [Documentation]    Reads one {noun} by its identifier.",
        f"    Send GET request to    /{plural}/${{id}}",
        "",
        f"Remove {noun}",
        "    [Arguments]    ${id}",
        f"    [Documentation]    Deletes one {noun}.",
        f"    Send DELETE request to    /{plural}/${{id}}",
        "",
        f"List {plural}",
        f"    [Documentation]    Reads every {noun}.",
        f"    Send GET request to    /{plural}",
    ]
    for attr in attrs:
        lines += [
            "",
            f"{noun.capitalize()} {attr} should be",
            "    [Arguments]    ${expected}",
            f"    [Documentation]    Checks the {attr} of the {noun} in the last reply.",
            f"    Response field should equal    {attr}    ${{expected}}",
        ]
    return "\n".join(lines) + "\n"


def _api_test(domain: str, noun: str, plural: str, attrs: tuple[str, ...], i: int, rng: random.Random) -> list[str]:
    """One test: keyword calls with their arguments (cells)."""
    attr = rng.choice(attrs)
    steps = [["Open API session"], ["Authenticate as", rng.choice(["alice", "bob", "admin"])]]
    kind = i % 4
    if kind == 0:
        steps += [[f"Create {noun} with", f"{{'{attr}': '{i}'}}"], ["Response status code should be:", "201"]]
        steps += [["Response body should contain field", "id"]]
    elif kind == 1:
        steps += [[f"Fetch {noun}", str(100 + i)], ["Response status code should be:", "200"]]
        steps += [[f"{noun.capitalize()} {attr} should be", f"v{i}"]]
    elif kind == 2:
        steps += [[f"Remove {noun}", str(100 + i)], ["Response status code should be:", "204"]]
    else:
        steps += [
            [f"List {plural}"],
            ["Response status code should be:", "200"],
            ["Response time should be below", "500"],
        ]
    return steps


def _suite(doc: str, resources: list[str], tests: list[tuple[str, list[list[str]], str]]) -> str:
    lines = ["*** Settings ***", f"Documentation     {doc}"]
    lines += [f"Resource          {r}" for r in resources]
    lines += ["", "*** Test Cases ***"]
    for name, steps, tag in tests:
        lines += [name, f"    [Documentation]    {name}.", f"    [Tags]    {tag}"]
        lines += ["    " + "    ".join(cells) for cells in steps]
        lines.append("")
    return "\n".join(lines)


def make_api_repo(root: Path, *, seed: int = 7) -> Path:
    """The large API shape: 8 domains x 2 product lines x 3 suites, 20-120 tests per suite."""
    rng = random.Random(seed)
    (root / "libraries").mkdir(parents=True)
    (root / "resources").mkdir()
    (root / "libraries" / "ApiLib.py").write_text(API_LIB, encoding="utf-8")
    (root / "libraries" / "UiLib.py").write_text(UI_LIB, encoding="utf-8")
    (root / "libraries" / "DbLib.py").write_text(DB_LIB, encoding="utf-8")
    (root / "resources" / "api_common.resource").write_text(API_COMMON, encoding="utf-8")
    (root / "resources" / "ui_common.resource").write_text(UI_COMMON, encoding="utf-8")
    for domain, (noun, plural, attrs) in DOMAINS.items():
        (root / "resources" / f"{domain}.resource").write_text(_domain_resource(domain, noun, plural, attrs), "utf-8")
    for line in ("product_a", "product_b"):
        for domain, (noun, plural, attrs) in DOMAINS.items():
            folder = root / "tests" / line / domain
            folder.mkdir(parents=True)
            for s, flavour in enumerate(("smoke", "regression", "negative")):
                count = (20, 120, 45)[s] + rng.randrange(5)
                tests = [
                    (f"{flavour.capitalize()} {noun} case {i}", _api_test(domain, noun, plural, attrs, i, rng), domain)
                    for i in range(count)
                ]
                resources = ["../../../resources/api_common.resource", f"../../../resources/{domain}.resource"]
                (folder / f"{domain}_{flavour}.robot").write_text(
                    _suite(f"{flavour} tests of {plural}.", resources, tests), "utf-8"
                )
    admin = root / "tests" / "admin_ui"
    admin.mkdir()
    ui_tests = [(f"Admin sees {p}", [["Open admin console"], ["Admin page should show", p]], "ui") for p in DOMAINS]
    (admin / "admin_console.robot").write_text(
        _suite("Admin UI.", ["../../resources/ui_common.resource"], ui_tests), "utf-8"
    )
    return root


LOGIN_RESOURCE = """\
*** Settings ***
Documentation     Page keywords of the login application.
Library           ../libraries/UiLib.py

*** Variables ***
${VALID USER}     demo
${VALID PASSWORD}    mode

*** Keywords ***
Open Browser To Login Page
    [Documentation]    Starts a browser on the login screen.
    Open Browser    http://localhost:7272
    Title Should Be    Login Page

Go To Login Page
    [Documentation]    Returns to the login screen.
    Open Browser    http://localhost:7272

Input Username
    [Arguments]    ${username}
    [Documentation]    Types the user name into the login form.
    Input Text    username_field    ${username}

Input Password
    [Arguments]    ${password}
    [Documentation]    Types the password into the login form.
    Input Text    password_field    ${password}

Submit Credentials
    [Documentation]    Presses the login button.
    Click Button    login_button

Welcome Page Should Be Open
    [Documentation]    Checks the welcome screen is shown after a successful login.
    Location Should Be    http://localhost:7272/welcome.html

Login Should Have Failed
    [Documentation]    Checks the error screen is shown after a refused login.
    Location Should Be    http://localhost:7272/error.html
"""


def make_ui_repo(root: Path, *, seed: int = 11) -> Path:
    """The small UI shape: WebDemo-like, suites at the top of the tests folder."""
    rng = random.Random(seed)
    (root / "libraries").mkdir(parents=True)
    (root / "resources").mkdir()
    (root / "tests").mkdir()
    (root / "libraries" / "UiLib.py").write_text(UI_LIB, encoding="utf-8")
    (root / "resources" / "login.resource").write_text(LOGIN_RESOURCE, encoding="utf-8")
    users = ["demo", "invalid", "", "alice", "bob"]
    valid = [
        (
            f"Valid Login {i}",
            [["Open Browser To Login Page"], ["Input Username", "demo"], ["Input Password", "mode"],
             ["Submit Credentials"], ["Welcome Page Should Be Open"], ["Close Browser"]],
            "login",
        )
        for i in range(3)
    ]  # fmt: skip
    invalid = [
        (
            f"Invalid Login {i}",
            [["Go To Login Page"], ["Input Username", rng.choice(users)], ["Input Password", f"pw{i}"],
             ["Submit Credentials"], ["Login Should Have Failed"]],
            "login",
        )
        for i in range(6)
    ]  # fmt: skip
    res = ["../resources/login.resource"]
    (root / "tests" / "valid_login.robot").write_text(_suite("A valid login.", res, valid), "utf-8")
    (root / "tests" / "invalid_login.robot").write_text(_suite("Invalid logins.", res, invalid), "utf-8")
    return root
