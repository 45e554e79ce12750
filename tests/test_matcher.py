"""Step-to-keyword matching on a real inventory, checked with RF's parser and real `robot` runs."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import get_model
from robot.parsing.model.statements import KeywordCall

from generator.models import Keyword, KeywordInventory, StepMapping
from generator.retrieval.inventory import build_inventory
from generator.retrieval.matcher import KeywordMatcher
from generator.retrieval.render import escape_cell, format_call
from generator.retrieval.words import split_bdd_prefix
from generator.standin.files import SAMPLE_REPO_DIR
from tests.test_keywords import write_fixture_repo

EXTRA_RESOURCE = """\
*** Keywords ***
Search Catalogue For
    [Documentation]    Searches the catalogue for a title.
    [Arguments]    ${title}
    Log    ${title}

Pay With Card
    [Documentation]    Pays the order with a credit card.
    [Arguments]    ${card_number}    ${amount}
    Log    ${card_number} ${amount}

The order ${anything}
    [Documentation]    Catch-all order check.
    Log    ${anything}

The order "${id}" is shipped
    [Documentation]    Checks the shipment of an order.
    Log    ${id}
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_fixture_repo(tmp_path_factory.mktemp("matcher") / "repo")
    (root / "resources" / "extra.resource").write_text(EXTRA_RESOURCE, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def inventory(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> KeywordInventory:
    return build_inventory(repo, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def matcher(inventory: KeywordInventory) -> KeywordMatcher:
    return KeywordMatcher(inventory)


# --------------------------------------------------------------------------- exact


@pytest.mark.parametrize(
    ("step", "line"),
    [
        ("Given Open Shop", "Given Open Shop"),
        ("when open_shop", "when Open Shop"),
        ("And  OPEN   shop", "And Open Shop"),
        ("Open Shop", "Open Shop"),
    ],
)
def test_exact_match_strips_bdd_prefix_and_normalises(matcher: KeywordMatcher, step: str, line: str) -> None:
    mapping = matcher.match(step)
    assert (mapping.how, mapping.keyword, mapping.args, mapping.score) == ("exact", "Open Shop", [], 1.0)
    assert format_call(mapping) == line


def test_exact_match_with_quoted_values_as_arguments(matcher: KeywordMatcher) -> None:
    mapping = matcher.match('When Login As "alice" "s3cret"')
    assert (mapping.how, mapping.keyword, mapping.args) == ("exact", "Login As", ["alice", "s3cret"])
    assert format_call(mapping) == "When Login As    alice    s3cret"


def test_step_already_in_robot_syntax(matcher: KeywordMatcher) -> None:
    mapping = matcher.match("Given Login As    bob")
    assert (mapping.how, mapping.keyword, mapping.args) == ("exact", "Login As", ["bob"])


def test_builtin_reachable_by_its_exact_name_only(matcher: KeywordMatcher) -> None:
    assert matcher.match("No Operation").keyword == "No Operation"
    assert matcher.search("Log", 1)[0][0].owner == "BuiltIn"


def test_bdd_prefix_split_uses_robot_rules() -> None:
    assert split_bdd_prefix("Given  the shop") == ("Given", "the shop")
    assert split_bdd_prefix("but the shop") == ("but", "the shop")
    assert split_bdd_prefix("Givenchy opens") == ("", "Givenchy opens")


# --------------------------------------------------------------------------- embedded


def test_embedded_arguments_use_robot_matching(matcher: KeywordMatcher) -> None:
    mapping = matcher.match('Then the user "bob" is logged in')
    assert mapping.how == "embedded"
    assert mapping.keyword == 'The user "${name}" is logged in'
    assert mapping.args == ["bob"]
    # RF matches the step text itself: it is the line, prefix and words unchanged.
    assert format_call(mapping) == 'Then the user "bob" is logged in'

    cart = matcher.match("And the cart contains 3 items")
    assert (cart.how, cart.args) == ("embedded", ["3"])


def test_most_specific_embedded_keyword_wins(matcher: KeywordMatcher) -> None:
    # Both `The order ${anything}` and `The order "${id}" is shipped` match; RF picks the latter.
    mapping = matcher.match('Then the order "A-7" is shipped')
    assert (mapping.keyword, mapping.args) == ('The order "${id}" is shipped', ["A-7"])
    assert matcher.match("Then the order is lost").keyword == "The order ${anything}"


def test_step_with_variable_syntax_is_not_written_verbatim(matcher: KeywordMatcher) -> None:
    # Verbatim, `${EVIL}` would be evaluated by RF: the catch-all must not take it as is.
    mapping = matcher.match("Then the order ${EVIL} is lost")
    assert mapping.how != "embedded"


# --------------------------------------------------------------------------- similar


def test_similar_match_takes_quoted_values_and_numbers_in_order(matcher: KeywordMatcher) -> None:
    mapping = matcher.match('When the customer adds the book "Dune" to the cart 2 times')
    assert (mapping.how, mapping.keyword, mapping.args) == ("similar", "Add Book To Cart", ["Dune", "2"])
    assert 0.55 <= mapping.score <= 1.0
    assert format_call(mapping) == "When Add Book To Cart    Dune    2"


def test_similar_match_joins_split_words(matcher: KeywordMatcher) -> None:
    mapping = matcher.match('Given the user logs in as "alice"')
    assert (mapping.how, mapping.keyword, mapping.args) == ("similar", "Login As", ["alice"])


def test_incidental_numbers_dropped_when_quoted_values_fit(matcher: KeywordMatcher) -> None:
    mapping = matcher.match('When the user searches the catalogue for "Dune" on page 2')
    assert (mapping.keyword, mapping.args) == ("Search Catalogue For", ["Dune"])


def test_keyword_needing_more_arguments_than_the_step_gives_is_not_a_match(matcher: KeywordMatcher) -> None:
    assert matcher.match('When the user pays with card "4111"').keyword != "Pay With Card"
    full = matcher.match('When the user pays with card "4111" 25.50')
    assert (full.keyword, full.args) == ("Pay With Card", ["4111", "25.50"])


@pytest.mark.parametrize(
    "step",
    [
        "Then the result is logged",
        "When the user sets the variable",
        "Then the message should be equal",
        "When the clerk logs the delivery",
    ],
)
def test_builtin_never_wins_a_business_step(matcher: KeywordMatcher, step: str) -> None:
    mapping = matcher.match(step)
    assert mapping.how == "placeholder", mapping


def test_resource_keyword_preferred_over_library_twin(matcher: KeywordMatcher) -> None:
    ranked = matcher.search("add to cart", 5)
    names = [(kw.name, kw.owner_kind) for kw, _ in ranked]
    assert names[0] == ("Add Book To Cart", "resource")
    assert ("Add Item To Cart", "library") in names
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


# --------------------------------------------------------------------------- placeholder


def test_unmatched_step_becomes_a_marked_placeholder(matcher: KeywordMatcher) -> None:
    mapping = matcher.match("Then the moon is made of cheese")
    assert mapping == StepMapping(step="Then the moon is made of cheese", how="placeholder")
    assert format_call(mapping) == (
        "Log    PLACEHOLDER (jira2robot): no existing keyword for: Then the moon is made of cheese    WARN"
    )


def test_placeholder_escapes_untrusted_step_text() -> None:
    line = format_call(StepMapping(step="# ${EVIL}    Evaluate    1", how="placeholder"), separator="  ")
    model = get_model(f"*** Test Cases ***\nT\n    {line}\n")
    (call,) = [n for n in model.sections[0].body[0].body if isinstance(n, KeywordCall)]
    assert call.keyword == "Log"
    assert len(call.args) == 2 and call.args[1] == "WARN"
    assert "\\${EVIL}" in call.args[0]


# --------------------------------------------------------------------------- search and relevant


def test_search_ranks_embedded_and_exact_names(matcher: KeywordMatcher) -> None:
    top, score = matcher.search("Given login as", 3)[0]
    assert (top.name, top.owner, score) == ("Login As", "resources/auth.resource", 1.0)
    assert matcher.search('the user "x" is logged in', 1)[0][0].name == 'The user "${name}" is logged in'
    names = [kw.name for kw, _ in matcher.search("user logged in", 5)]
    assert 'The user "${name}" is logged in' in names[:2]


def test_relevant_puts_each_steps_match_first(matcher: KeywordMatcher) -> None:
    steps = ['Given the user logs in as "alice"', "When Open Shop", "Then the cart contains 1 items"]
    kws = matcher.relevant(steps, limit=6)
    assert [k.name for k in kws[:3]] == ["Login As", "Open Shop", "The cart contains ${count} items"]
    assert len(kws) <= 6
    assert len({(k.owner, k.name) for k in kws}) == len(kws)
    assert not [k for k in kws if k.owner == "BuiltIn"]


def test_deterministic_whatever_the_inventory_order(inventory: KeywordInventory) -> None:
    twin = Keyword(name="Open Shop", owner="resources/aaa.resource", doc="Twin.")
    keywords = [*inventory.keywords, twin]
    shuffled = list(keywords)
    random.Random(7).shuffle(shuffled)
    steps = ["Given Open Shop", "the user adds the book 'Dune' to the cart", "search catalogue 'x'"]
    first = KeywordMatcher(KeywordInventory(keywords=keywords))
    second = KeywordMatcher(KeywordInventory(keywords=shuffled))
    assert [first.match(s) for s in steps] == [second.match(s) for s in steps]
    assert first.search("shop", 5) == second.search("shop", 5)


def test_five_thousand_keywords_times_hundred_steps_match() -> None:
    # How fast is measured by bench/bench_inventory.py: a wall-clock bound here failed on busy machines.
    verbs = ["Create", "Cancel", "Approve", "Archive", "Submit", "Review", "Export", "Refund", "Close", "Verify"]
    nouns = [f"Thing{i}" for i in range(79)] + ["Order", "Invoice", "Customer", "Account", "Payment"]
    areas = ["Back Office", "Web Shop", "Mobile App", "Partner Portal", "Admin Console", "Public Api"]
    keywords = [
        Keyword(name=f"{v} {n} In {a}", args=["${id}"], doc=f"{v}s the {n.lower()}.", owner=f"r/{n}.resource")
        for v in verbs
        for n in nouns
        for a in areas
    ][:5000]
    keywords += [Keyword(name=f'The {n} "${{id}}" is closed in {a}', owner="r/e.resource", embedded=True)
                 for n in nouns for a in areas]  # fmt: skip
    steps = [f'When the agent {verbs[i % 10].lower()}s the {nouns[i % 55].lower()} "X{i}" in the web shop'
             for i in range(100)]  # fmt: skip
    matcher = KeywordMatcher(KeywordInventory(keywords=keywords))
    mappings = [matcher.match(step) for step in steps]
    assert mappings[0].keyword == "Create Thing0 In Web Shop"
    assert sum(m.how == "similar" for m in mappings) == 100


# --------------------------------------------------------------------------- format_call meets Robot Framework


def test_format_call_output_parses_as_keyword_calls(matcher: KeywordMatcher) -> None:
    mappings = [
        matcher.match('When Login As "alice" "pa  ss"'),
        matcher.match('Then the user "bob" is logged in'),
        matcher.match('When the customer adds the book "#1 ${x}" to the cart 2 times'),
        matcher.match("Then nothing matches this at all"),
    ]
    text = "*** Test Cases ***\nT\n" + "".join(f"    {format_call(m)}\n" for m in mappings)
    model = get_model(text)
    calls = [n for n in model.sections[0].body[0].body if isinstance(n, KeywordCall)]
    assert [c.keyword for c in calls] == [
        "When Login As",
        'Then the user "bob" is logged in',
        "When Add Book To Cart",
        "Log",
    ]
    assert calls[0].args == ("alice", "pa${SPACE} ss")
    assert calls[2].args == ("\\#1 \\${x}", "2")
    assert not [e for n in calls for e in n.errors]


def _run_robot(cwd: Path, suite: str, *options: str) -> subprocess.CompletedProcess[str]:
    (cwd / "tests" / "generated_case.robot").write_text(suite, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "robot", *options, "--output", "NONE", "--log", "NONE", "--report", "NONE",
         "--pythonpath", "libraries", "tests/generated_case.robot"],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


SUITE_HEADER = """\
*** Settings ***
Resource    ../resources/common.resource
Resource    ../resources/auth.resource
Resource    ../resources/extra.resource
Library     ShopLibrary

*** Test Cases ***
Generated
"""


def test_format_call_suite_passes_robot_dryrun(matcher: KeywordMatcher, repo: Path) -> None:
    steps = [
        "Given Open Shop",
        'And the user logs in as "alice"',
        'Then the user "alice" is logged in',
        'When the customer adds the book "Dune" to the cart 2 times',
        'Then the order "A-1" is shipped',
        "When the user checks out",
        "Then the moon is made of cheese",
    ]
    mappings = [matcher.match(s) for s in steps]
    assert {m.how for m in mappings} == {"exact", "similar", "embedded", "placeholder"}
    body = "".join(f"    {format_call(m)}\n" for m in mappings)

    ok = _run_robot(repo, SUITE_HEADER + body, "--dryrun")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 test, 1 passed, 0 failed" in ok.stdout

    # Control: dryrun really checks keywords, so the pass above means something.
    bad = _run_robot(repo, SUITE_HEADER + body + "    Keyword That Does Not Exist\n", "--dryrun")
    assert bad.returncode == 1


def test_placeholder_passes_a_real_run_with_a_warning(repo: Path) -> None:
    line = format_call(StepMapping(step="Then the moon is made of cheese", how="placeholder"))
    result = _run_robot(repo, SUITE_HEADER + f"    {line}\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ WARN ] PLACEHOLDER (jira2robot): no existing keyword for: Then the moon" in result.stderr


def test_escaped_values_reach_keywords_unchanged(repo: Path) -> None:
    values = ["two  spaces", " lead", "trail ", "${EVIL}", "# hash", "back\\slash", "a=b", "", "line\nbreak",
              "tab\there", "@{list}", "AND", "%{HOME}"]  # fmt: skip
    (repo / "variables" / "expected.py").write_text(f"EXPECTED = {values!r}\n", encoding="utf-8")
    lines = "".join(
        f"    ${{v}} =    Set Variable    {escape_cell(v)}\n    Should Be Equal    ${{v}}    ${{EXPECTED}}[{i}]\n"
        for i, v in enumerate(values)
    )
    suite = "*** Settings ***\nVariables    ../variables/expected.py\n\n*** Test Cases ***\nValues\n" + lines
    result = _run_robot(repo, suite)
    assert result.returncode == 0, result.stdout + result.stderr


def test_keyword_of_tells_the_owner_to_import(matcher: KeywordMatcher) -> None:
    similar = matcher.keyword_of(matcher.match('Given the user logs in as "alice"'))
    assert similar is not None and similar.owner == "resources/auth.resource"
    embedded = matcher.keyword_of(matcher.match('Then the order "A-1" is shipped'))
    assert embedded is not None and embedded.owner == "resources/extra.resource"
    assert matcher.keyword_of(matcher.match("Then the moon is made of cheese")) is None


def test_exact_name_with_values_never_drops_a_value(matcher: KeywordMatcher) -> None:
    # "Open Shop" takes no argument: the number is not silently lost as an exact call.
    assert matcher.match("When Open Shop 3").how != "exact"


def test_keywords_local_to_a_suite_are_never_offered(matcher: KeywordMatcher, inventory: KeywordInventory) -> None:
    assert any(k.name == "Local Helper" for k in inventory.suite_keywords)  # listed apart in the inventory...
    assert matcher.match("When Local Helper").how == "placeholder"  # ...but not callable from a new file
    assert "Local Helper" not in [kw.name for kw, _ in matcher.search("local helper", 20)]


@pytest.mark.parametrize(
    ("call", "name", "owner"),
    [
        ("Given Login As", "Login As", "resources/auth.resource"),  # arguments not needed to resolve
        ("auth.Login As", "Login As", "resources/auth.resource"),
        ("Collections.Append To List", "Append To List", "Collections"),
        ('Then the order "A-1" is shipped', 'The order "${id}" is shipped', "resources/extra.resource"),
        ("log", "Log", "BuiltIn"),
    ],
)
def test_lookup_resolves_robot_calls(matcher: KeywordMatcher, call: str, name: str, owner: str) -> None:
    kw = matcher.lookup(call)
    assert kw is not None and (kw.name, kw.owner) == (name, owner)


def test_lookup_of_unknown_call_is_none(matcher: KeywordMatcher) -> None:
    assert matcher.lookup("Keyword That Does Not Exist") is None
    assert matcher.lookup("nowhere.Login As") is None


# --------------------------------------------------------------------------- the sample shop repo
# The bundled sample repo (resources wrapping a Python library, embedded-argument keywords,
# arguments named `${user}`, `${message}`, `${quantity}`...) and the wording of real tickets.


@pytest.fixture(scope="module")
def shop_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("shop") / "repo"
    shutil.copytree(SAMPLE_REPO_DIR, repo, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


@pytest.fixture(scope="module")
def shop_inventory(shop_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> KeywordInventory:
    return build_inventory(shop_repo, cache_dir=tmp_path_factory.mktemp("shop-cache"))


@pytest.fixture(scope="module")
def shop(shop_inventory: KeywordInventory) -> KeywordMatcher:
    return KeywordMatcher(shop_inventory)


# Natural ticket wording -> the exact line written. Each one was wrong or a placeholder
# before templates, argument names and the library penalty.
SHOP_LINES = [
    # A resource keyword wrapping the library's `Is Account Locked`; embedded argument filled.
    ('Then the account "alice" is locked', 'Then Account "alice" Should Be Locked'),
    # The precondition template, not the check `Cart Should Contain` with the values swapped.
    ('And the cart contains 1 "Coffee Mug"', 'And The cart contains "1" of "Coffee Mug"'),
    ('When "alice" enters a wrong password 3 times', 'When "alice" Enters A Wrong Password "3" Times'),
    ('And the failed login count of "bob" is 0', 'And Failed Login Count Of "bob" Should Be "0"'),
    ('Then the account "bob" is still active', 'Then Account "bob" Should Be Active'),
    ('Given the shop has 5 "Notebook" in stock', 'Given The shop has "5" of "Notebook" in stock'),
    ('Then the stock of "Notebook" is back to 5', 'Then Stock Of "Notebook" Should Be "5"'),
    ('When the customer removes "Coffee Mug" from the cart', 'When Remove "Coffee Mug" From Cart'),
    # ALL-CAPS codes and statuses are values; an aside in parentheses is not.
    ("When she applies the discount code WELCOME10", "When Apply Discount Code    WELCOME10"),
    ("Then the order status is CANCELLED", "Then Order Status Should Be    CANCELLED"),
    ("Then the cart total is 35.98 (10 % off 39.98)", "Then Cart Total Should Be    35.98"),
    # Values go to arguments by name: code and message, whatever the wording around them.
    (
        'Then the code "SUMMER2023" is rejected with the message "Discount code expired"',
        "Then Discount Code Should Be Rejected With Message    SUMMER2023    Discount code expired",
    ),
    (
        'Then a second code "VIP20" is rejected with "Only one discount code per order"',
        "Then Discount Code Should Be Rejected With Message    VIP20    Only one discount code per order",
    ),
    (
        'Then logging in as "dave" with password "x" fails with the message "Invalid username or password"',
        "Then Login Should Fail With Message    dave    x    Invalid username or password",
    ),
    # The password named first in the sentence still goes second, to `${password}`.
    ('When the user logs in with password "s3cret" as "alice"', "When Login As    alice    s3cret"),
    # The message goes to `${message}` (first), the card keeps its default.
    (
        'Then checking out with a valid card is refused with the message "Please log in to checkout"',
        "Then Checkout Should Fail With Message    Please log in to checkout",
    ),
    # A place is not an order id: `Cancel Order` without arguments.
    ('When she cancels the order from "My orders"', "When Cancel Order"),
    # The resource keyword wrapping the library's `Ship Order`, though named less alike.
    ("When the warehouse ships the order", "When The order has been shipped"),
    # "logs in" is the action `Login As`, not the check `User Should Be Logged In` nor the
    # template `The user "${user}" is logged in` (the value sits after "logs in", not before).
    ('When the user logs in as "alice"', "When Login As    alice"),
    # "the correct password" is the repo's `${DEFAULT_PASSWORD}`, left out as `Login As`'s default.
    ('And "bob" logs in with the correct password', "And Login As    bob"),
    ("Given a guest user who is not logged in", "Given The user is a guest"),
    # The library's `Put In Cart`, `Set Stock`, `Clear Cart`, `Authenticate`, `Place Order`
    # win by similarity; the resource keywords wrapping them are written instead.
    ('When the customer puts 2 "Notebook" in the cart', 'When Add "2" Of "Notebook" To Cart'),
    ('When the customer puts "Notebook" in the cart', "When Add Product To Cart    Notebook"),
    ('Given the stock of "Coffee Mug" is 3', 'Given The shop has "3" of "Coffee Mug" in stock'),
    ("When the cart is cleared", "When Empty The Cart"),
    ('When the user authenticates as "bob" with password "x"', "When Login As    bob    x"),
    ("When she places an order with a valid card", "When Checkout With Card"),
    # QA-101: the password the step names without a value is the repo's variable.
    (
        'And logging in as "alice" with the correct password fails with the message "Account is locked"',
        "And Login Should Fail With Message    alice    ${DEFAULT_PASSWORD}    Account is locked",
    ),
]


@pytest.mark.parametrize(("step", "line"), SHOP_LINES)
def test_shop_step_renders_the_right_keyword_call(shop: KeywordMatcher, step: str, line: str) -> None:
    mapping = shop.match(step)
    assert format_call(mapping) == line
    keyword = shop.keyword_of(mapping)
    assert keyword is not None and keyword.owner_kind == "resource"


def test_library_twin_exists_but_resource_wins(shop: KeywordMatcher) -> None:
    # The library keyword is a real candidate (same words), so the preference is what decides.
    names = [kw.name for kw, _ in shop.search("account locked", 5)]
    assert "Is Account Locked" in names and 'Account "${user}" Should Be Locked' in names
    assert shop.match('Then the account "alice" is locked').keyword == 'Account "${user}" Should Be Locked'


def test_message_never_fills_a_password(shop: KeywordMatcher, shop_inventory: KeywordInventory) -> None:
    # `Login As` takes (user, password=); `Login Should Fail With Message` needs a password the
    # step gives only as "the correct password". Without the repo's `${DEFAULT_PASSWORD}`
    # neither may be called with the message in the password's place.
    step = 'And logging in as "alice" with the correct password fails with the message "Account is locked"'
    no_variables = KeywordMatcher(shop_inventory.model_copy(update={"variable_names": []}))
    assert no_variables.match(step).how == "placeholder", no_variables.match(step)
    assert shop.match(step).args == ["alice", "${DEFAULT_PASSWORD}", "Account is locked"]
    assert shop.match('Then the user "bob" sees the message "Welcome back"').how == "placeholder"


def test_quoted_or_code_values_are_never_dropped(shop: KeywordMatcher) -> None:
    # `Logout` takes no argument: the user named in the step would be lost.
    assert shop.match('When "alice" logs out').how == "placeholder"
    # `Cart Total Should Be` takes one amount: the code applied first would be lost.
    assert shop.match("After applying WELCOME10 the cart total is 35.98").how == "placeholder"
    # `The shop has "${count}" of "${product}" in stock` needs a count the step lacks.
    assert shop.match('Given the shop has "Notebook" in stock').how == "placeholder"


def test_phase_picks_check_or_setup(shop: KeywordMatcher) -> None:
    assert format_call(shop.match('Then the cart contains 2 "Blue T-Shirt"')) == (
        "Then Cart Should Contain    Blue T-Shirt    2"
    )
    assert format_call(shop.match('Given the cart contains 2 "Blue T-Shirt"')) == (
        'Given The cart contains "2" of "Blue T-Shirt"'
    )
    assert format_call(shop.match("Given the cart is empty")) == "Given Empty The Cart"
    assert format_call(shop.match("Then the cart is empty")) == "Then Cart Should Be Empty"
    # `And` continues the phase before it, which only the case's steps together tell.
    given, then = (
        shop.match_case(["Given the user is a guest", 'And the cart contains 2 "Blue T-Shirt"']),
        shop.match_case(["Then the cart total is 39.98", 'And the cart contains 2 "Blue T-Shirt"']),
    )
    assert format_call(given[1]) == 'And The cart contains "2" of "Blue T-Shirt"'
    assert format_call(then[1]) == "And Cart Should Contain    Blue T-Shirt    2"


def test_getters_are_never_a_step(shop: KeywordMatcher) -> None:
    # Returning a value checks nothing: no `Get Cart Total`, `Is Account Locked`, `Get Stock`.
    for step in ("Then the cart total is shown", '"alice"\'s account is locked', 'Then the stock of "Mug" is read'):
        keyword = shop.keyword_of(shop.match(step))
        assert keyword is None or keyword.owner_kind == "resource", (step, keyword)


def test_shouted_step_has_no_code_values(shop: KeywordMatcher) -> None:
    assert shop.match("THEN THE ACCOUNT IS LOCKED").how == "placeholder"  # no user given


def test_template_rejects_values_it_cannot_hold_verbatim(shop: KeywordMatcher) -> None:
    # `${EVIL}` would be evaluated inside an embedded call and two spaces would split it:
    # such values go to a normal keyword's escaped cell or nowhere, never into the template.
    evil = shop.match('And the cart contains 1 "${EVIL}"')
    assert "${" not in format_call(evil).replace("\\${", "")
    spaced = shop.match('And the cart contains 1 "Mug  X"')
    assert (spaced.keyword, spaced.args) == ("Cart Should Contain", ["Mug  X", "1"])
    # A value holding the template's own quotes would be read back as other arguments.
    assert shop.match('And the cart contains 1 "Mug" Of "X"').how == "placeholder"


def test_unmatched_shop_steps_stay_placeholders(shop: KeywordMatcher) -> None:
    for step in (
        "And the guest is redirected to the login page",
        'And a security notification email is sent to "alice"',
        "The discount is shown as a separate line on the order confirmation page",
    ):
        assert shop.match(step).how == "placeholder", step


def test_shop_lines_pass_dryrun_and_run(shop: KeywordMatcher, shop_repo: Path) -> None:
    """The rendered lines through real `robot`: dryrun resolves every keyword and argument
    count; the real run on the in-memory shop shows the calls do what the steps say."""
    setup = [
        'Given the user "alice" has an account',
        'When "alice" enters a wrong password 3 times',
        'Then the account "alice" is locked',
        'And logging in as "alice" with the correct password fails with the message "Account is locked"',
        'Given the user "bob" has an account',
        'And "bob" logs in with the correct password',
        'When the customer puts 2 "Notebook" in the cart',
        'Then the cart contains 2 "Notebook"',
        "When the cart is cleared",
        "Then the cart is empty",
        'Given the stock of "Coffee Mug" is 3',
        'Then the stock of "Coffee Mug" is back to 3',
        'Given the user "nina" is logged in',
        'And the cart contains 2 "Blue T-Shirt"',
        "When she applies the discount code WELCOME10",
        "Then the cart total is 35.98 (10 % off 39.98)",
        'Then a second code "VIP20" is rejected with "Only one discount code per order"',
        'Then the cart contains 2 "Blue T-Shirt"',
        'Given the shop has 5 "Notebook" in stock',
        'And the cart contains 2 "Notebook"',
        "And she checks out with a valid card",
        'When she cancels the order from "My orders"',
        "Then the order status is CANCELLED",
        'Then the stock of "Notebook" is back to 5',
    ]
    body = "".join(f"    {format_call(shop.match(step))}\n" for step in setup)
    assert "PLACEHOLDER" not in body
    suite = (
        "*** Settings ***\nResource    ../resources/shop.resource\nSuite Setup    Open Shop Session\n\n"
        "*** Test Cases ***\nGenerated\n" + body
    )
    options = ("-v", "ENV:demo")
    dry = _run_robot(shop_repo, suite, "--dryrun", *options)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    real = _run_robot(shop_repo, suite, *options)
    assert real.returncode == 0, real.stdout + real.stderr
    assert "1 test, 1 passed, 0 failed" in real.stdout


def test_shop_wrappers_replace_what_similarity_alone_would_pick(
    shop: KeywordMatcher, shop_inventory: KeywordInventory
) -> None:
    # Control: with no `calls` recorded the same steps go to the library keywords, so the
    # lines of SHOP_LINES come from the wrappers, not from resemblance.
    blind = KeywordMatcher(
        shop_inventory.model_copy(
            update={"keywords": [k.model_copy(update={"calls": []}) for k in shop_inventory.keywords]}
        )
    )
    for step, library_line, wrapper_line in [
        ('When the customer puts 2 "Notebook" in the cart', "When Put In Cart    Notebook    2",
         'When Add "2" Of "Notebook" To Cart'),
        ('Given the stock of "Coffee Mug" is 3', "Given Set Stock    Coffee Mug    3",
         'Given The shop has "3" of "Coffee Mug" in stock'),
    ]:  # fmt: skip
        assert format_call(blind.match(step)) == library_line
        assert format_call(shop.match(step)) == wrapper_line


# --------------------------------------------------------------------------- wrappers, synthetic repo

PARCEL_LIBRARY = '''\
class ParcelLibrary:
    """Technical parcel helpers."""

    def __init__(self):
        self.sent = []

    def dispatch_parcel(self, parcel_id):
        """Dispatches the parcel to the carrier."""
        self.sent.append(parcel_id)

    def weigh_parcel(self, parcel_id, grams):
        """Weighs the parcel."""

    def parcel_should_be_sent(self, parcel_id):
        """Fails unless the parcel was dispatched."""
        assert parcel_id in self.sent, self.sent
'''

PARCEL_RESOURCE = """\
*** Settings ***
Library    ParcelLibrary

*** Keywords ***
Hand Over To Carrier
    [Documentation]    Needs a carrier the steps never give: never callable from them.
    [Arguments]    ${parcel}    ${carrier}
    Dispatch Parcel    ${parcel}
    Log    ${carrier}

Send Parcel
    [Documentation]    Two levels above the library keyword.
    [Arguments]    ${parcel}
    Hand Over To Carrier    ${parcel}    DHL

Dispatching Should Fail
    [Documentation]    A check around the action: never its wrapper.
    [Arguments]    ${parcel}
    TRY
        Dispatch Parcel    ${parcel}
    EXCEPT    *    type=GLOB
        RETURN
    END
    Fail    Dispatched

Record Weight
    [Documentation]    Weighs with a fixed weight: cannot take one from the step.
    [Arguments]    ${parcel}
    Weigh Parcel    ${parcel}    100
"""


@pytest.fixture(scope="module")
def parcel_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("parcel") / "repo"
    (repo / "libraries").mkdir(parents=True)
    (repo / "resources").mkdir()
    (repo / "tests").mkdir()
    (repo / "libraries" / "ParcelLibrary.py").write_text(PARCEL_LIBRARY, encoding="utf-8")
    (repo / "resources" / "parcels.resource").write_text(PARCEL_RESOURCE, encoding="utf-8")
    return repo


@pytest.fixture(scope="module")
def parcel_inventory(parcel_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> KeywordInventory:
    return build_inventory(parcel_repo, cache_dir=tmp_path_factory.mktemp("parcel-cache"))


def test_wrapper_two_levels_up_replaces_the_library_keyword(parcel_inventory: KeywordInventory) -> None:
    step = 'When the parcel "P-7" is dispatched'
    blind = KeywordMatcher(
        parcel_inventory.model_copy(
            update={"keywords": [k.model_copy(update={"calls": []}) for k in parcel_inventory.keywords]}
        )
    )
    assert format_call(blind.match(step)) == "When Dispatch Parcel    P-7"
    # `Hand Over To Carrier` needs a carrier, `Dispatching Should Fail` is a check: `Send Parcel`
    # (through `Hand Over To Carrier`) is the wrapper the step can call.
    mapping = KeywordMatcher(parcel_inventory).match(step)
    assert format_call(mapping) == "When Send Parcel    P-7"
    assert mapping.score == blind.match(step).score  # the resemblance that made the step match


def test_library_keyword_kept_when_no_wrapper_takes_the_values(parcel_inventory: KeywordInventory) -> None:
    # `Record Weight` wraps `Weigh Parcel` but would drop the weight: quoted (never dropped), or
    # a bare number the library call passes (a wrapper must not lose what the library takes).
    matcher = KeywordMatcher(parcel_inventory)
    for weight in ('"250"', "250"):
        mapping = matcher.match(f'When the clerk weighs parcel "P-7" with {weight} grams')
        assert format_call(mapping) == "When Weigh Parcel    P-7    250"


def test_wrapped_call_passes_a_real_run(parcel_inventory: KeywordInventory, parcel_repo: Path) -> None:
    line = format_call(KeywordMatcher(parcel_inventory).match('When the parcel "P-7" is dispatched'))
    suite = (
        "*** Settings ***\nResource    ../resources/parcels.resource\n\n*** Test Cases ***\nGenerated\n"
        f"    {line}\n    Parcel Should Be Sent    P-7\n"
    )
    result = _run_robot(parcel_repo, suite)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- repo variables as values

VARIABLE_KEYWORDS = [
    Keyword(name="Login As", args=["${user}", "${password}"], owner="r/a.resource"),
    Keyword(name="Pay With Card", args=["${card}"], owner="r/p.resource"),
    Keyword(name="Open Shop Page", args=["${url}=${SHOP_URL}"], owner="r/s.resource"),
]
VARIABLE_NAMES = ["${DEFAULT_PASSWORD}", "${ADMIN_PASSWORD}", "${VALID_CARD}", "${DECLINED_CARD}", "${SHOP_URL}",
                  "@{CARDS}", "${MAX_LOGIN_ATTEMPTS}"]  # fmt: skip


@pytest.fixture(scope="module")
def with_variables() -> KeywordMatcher:
    return KeywordMatcher(KeywordInventory(keywords=VARIABLE_KEYWORDS, variable_names=VARIABLE_NAMES))


@pytest.mark.parametrize(
    ("step", "line"),
    [
        ('When "alice" logs in with the correct password', "When Login As    alice    ${DEFAULT_PASSWORD}"),
        ('When "alice" logs in with the default password', "When Login As    alice    ${DEFAULT_PASSWORD}"),
        ('When "root" logs in with the admin password', "When Login As    root    ${ADMIN_PASSWORD}"),
        ('When "root" logs in with the correct admin password', "When Login As    root    ${ADMIN_PASSWORD}"),
        ('When "alice" logs in with the password "x"', "When Login As    alice    x"),  # the step's own value
        ("When she pays with a valid card", "When Pay With Card    ${VALID_CARD}"),
        ("When she pays with a declined card", "When Pay With Card    ${DECLINED_CARD}"),
        ("When she opens the shop page at the shop url", "When Open Shop Page"),  # the default: left out
    ],
)
def test_step_naming_a_repo_variable_passes_it(with_variables: KeywordMatcher, step: str, line: str) -> None:
    assert format_call(with_variables.match(step)) == line


@pytest.mark.parametrize(
    "step",
    [
        'When "alice" logs in with a wrong password',  # "wrong" names no variable
        'When "alice" logs in with the password',  # nothing says which one
        "When she pays with a stolen card",
        'When "root" logs in with the old admin password',  # "old" points elsewhere
    ],
)
def test_step_not_naming_a_variable_gets_none(with_variables: KeywordMatcher, step: str) -> None:
    mapping = with_variables.match(step)
    assert not any(a.startswith("${") for a in mapping.args), mapping
    assert "${" not in format_call(mapping).replace("\\${", "")


def test_two_equally_named_variables_mean_none() -> None:
    names = ["${VALID_CARD}", "${DEFAULT_CARD}"]
    matcher = KeywordMatcher(KeywordInventory(keywords=VARIABLE_KEYWORDS, variable_names=names))
    # Both are "the usual card": ambiguous. "valid" and "default" each name one exactly.
    assert matcher.match("When she pays with the correct card").how == "placeholder"
    assert matcher.match("When she pays with a valid card").args == ["${VALID_CARD}"]
    assert matcher.match("When she pays with the default card").args == ["${DEFAULT_CARD}"]


def test_variable_from_the_ticket_text_is_still_escaped(with_variables: KeywordMatcher) -> None:
    # A `${...}` the ticket writes is untrusted text, not the repo's variable, even if named alike.
    mapping = with_variables.match('When "alice" logs in with the password "${DEFAULT_PASSWORD}"')
    assert format_call(mapping) == "When Login As    alice    \\${DEFAULT_PASSWORD}"
    line = format_call(with_variables.match('When "alice" logs in with the correct password'))
    model = get_model(f"*** Test Cases ***\nT\n    {line}\n")
    (call,) = [n for n in model.sections[0].body[0].body if isinstance(n, KeywordCall)]
    assert call.args == ("alice", "${DEFAULT_PASSWORD}")  # RF reads a variable, not text


def _http_keyword(name: str, doc: str) -> Keyword:
    """A library keyword as libdoc shows it when a decorator hid its signature."""
    return Keyword(name=name, args=["@{args}", "&{kwargs}"], doc=doc, owner="HttpLib", owner_kind="library")


def test_an_http_get_keyword_with_a_hidden_signature_takes_the_steps_values() -> None:
    # `GET On Session` sends a request (its capital `GET` is the method, not "get a value"),
    # and `*args` hides what it takes: the step's values go to it in order.
    keyword = _http_keyword("GET On Session", "Sends a GET request on a previously created HTTP Session.")
    matcher = KeywordMatcher(KeywordInventory(keywords=[keyword]))
    mapping = matcher.call_for(keyword, 'When a GET request on the session "api" is sent to "/status/200"')
    assert mapping is not None
    assert (mapping.keyword, mapping.args) == ("GET On Session", ["api", "/status/200"])
    lower = _http_keyword("Get Session Count", "Returns the number of sessions.")
    assert KeywordMatcher(KeywordInventory(keywords=[lower])).call_for(lower, 'The session count of "api"') is None
