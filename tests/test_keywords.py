"""Keyword inventory on real fixture repos, parsed by Robot Framework and libdoc (no mocks)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from generator.gather.cache import default_cache_dir
from generator.models import Keyword, KeywordInventory
from generator.retrieval.inventory import build_inventory, last_build_from_cache
from generator.retrieval.listing import render_keywords

COMMON_RESOURCE = """\
*** Settings ***
Documentation     Shop keywords shared by all suites.
Library           Collections
Library           ../libraries/ShopLibrary.py
Resource          auth.resource
Variables         ../variables/env.py

*** Keywords ***
Open Shop
    [Documentation]    Opens the shop front page. Waits for the banner.
    No Operation

Add Book To Cart
    [Documentation]    Adds a book to the shopping cart.
    [Arguments]    ${title}    ${copies}=1
    [Tags]    cart
    Log    ${title} x ${copies}

The cart contains ${count} items
    [Documentation]    Checks the number of items in the cart.
    Log    ${count}
"""

AUTH_RESOURCE = """\
*** Keywords ***
Login As
    [Documentation]    Logs in with the web form.
    [Arguments]    ${user}    ${password}=secret
    Log    ${user}

The user "${name}" is logged in
    [Documentation]    Checks the session of the given user.
    Log    ${name}
"""

SHOP_LIBRARY = '''\
class ShopLibrary:
    """Technical shop helpers."""

    def add_item_to_cart(self, item, quantity=1):
        """Adds an item to the cart through the API. Returns nothing."""

    def checkout(self):
        """Checks out the current cart."""
'''

CART_SUITE = """\
*** Settings ***
Resource    ../../resources/common.resource
Library     Collections
Library     ../../libraries/BrokenLibrary.py
Library     ShopLibrary

*** Test Cases ***
Buy A Book
    Open Shop
    Add Book To Cart    Dune

*** Keywords ***
Local Helper
    [Arguments]    @{items}    ${mode}    &{options}
    No Operation
"""


def write_fixture_repo(root: Path) -> Path:
    """A small test repository with every import shape the inventory must handle."""
    files = {
        "resources/common.resource": COMMON_RESOURCE,
        "resources/auth.resource": AUTH_RESOURCE,
        "libraries/ShopLibrary.py": SHOP_LIBRARY,
        "libraries/BrokenLibrary.py": "import not_installed_module_xyz  # noqa\n",
        "variables/env.py": 'BASE_URL = "http://127.0.0.1:1"\n',
        "tests/shop/cart.robot": CART_SUITE,
        "tests/__init__.robot": "*** Settings ***\nLibrary    OperatingSystem\n",
        "doc/convention.md": "# Conventions\n",
        # Never part of the inventory: tool output, virtualenvs, hidden folders.
        "generated/QA-1/old.resource": "*** Keywords ***\nGenerated Keyword\n    No Operation\n",
        ".venv/lib/site.resource": "*** Keywords ***\nVenv Keyword\n    No Operation\n",
        "node_modules/x/x.resource": "*** Keywords ***\nNode Keyword\n    No Operation\n",
        ".hidden/h.resource": "*** Keywords ***\nHidden Keyword\n    No Operation\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def by_name(inventory: KeywordInventory, name: str, owner: str | None = None) -> Keyword:
    found = [k for k in inventory.keywords if k.name == name and (owner is None or k.owner == owner)]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_fixture_repo(tmp_path / "repo")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_user_keywords_with_args_docs_owners(repo: Path, cache: Path) -> None:
    inv = build_inventory(repo, cache_dir=cache)

    add = by_name(inv, "Add Book To Cart")
    assert add.args == ["${title}", "${copies}=1"]
    assert add.owner == "resources/common.resource"
    assert add.owner_kind == "resource"
    assert add.doc == "Adds a book to the shopping cart."
    assert add.tags == ["cart"]
    assert not add.embedded
    # Only the first sentence of the doc is kept.
    assert by_name(inv, "Open Shop").doc == "Opens the shop front page."
    login = by_name(inv, "Login As")
    assert (login.owner, login.args) == ("resources/auth.resource", ["${user}", "${password}=secret"])
    assert by_name(inv, 'The user "${name}" is logged in').embedded
    assert by_name(inv, "The cart contains ${count} items").embedded
    # Keywords of a suite file belong to that file, apart: RF refuses to import a file with
    # tests, so they are never offered as importable. Named-only args keep RF's syntax.
    assert not [k for k in inv.keywords if k.name == "Local Helper"]
    [helper] = [k for k in inv.suite_keywords if k.name == "Local Helper"]
    assert (helper.owner, helper.args) == ("tests/shop/cart.robot", ["@{items}", "${mode}", "&{options}"])
    names = {k.name for k in inv.keywords}
    assert not names & {"Generated Keyword", "Venv Keyword", "Node Keyword", "Hidden Keyword"}


def test_library_keywords_come_from_libdoc(repo: Path, cache: Path) -> None:
    inv = build_inventory(repo, cache_dir=cache)

    item = by_name(inv, "Add Item To Cart", owner="libraries/ShopLibrary.py")
    assert item.owner_kind == "library"
    assert item.args == ["${item}", "${quantity}=1"]
    assert item.doc == "Adds an item to the cart through the API."
    # Imported by module name (found on the conventional libraries/ pythonpath entry).
    assert by_name(inv, "Checkout", owner="ShopLibrary").args == []
    assert by_name(inv, "Append To List", owner="Collections").args == ["${list_}", "@{values}"]
    assert by_name(inv, "Create File", owner="OperatingSystem").owner_kind == "library"
    # BuiltIn is always there even though nothing imports it.
    assert by_name(inv, "Log", owner="BuiltIn").args[0] == "${message}"
    assert by_name(inv, "Should Be Equal", owner="BuiltIn").doc == "Fails if the given objects are unequal."


def test_allow_list_is_normalised(repo: Path, cache: Path) -> None:
    inv = build_inventory(repo, cache_dir=cache)

    assert inv.libraries == [
        "BuiltIn",
        "Collections",
        "OperatingSystem",
        "ShopLibrary",
        "libraries/BrokenLibrary.py",
        "libraries/ShopLibrary.py",
    ]
    assert inv.resources == ["resources/auth.resource", "resources/common.resource"]
    assert inv.variables == ["variables/env.py"]


def test_library_that_fails_to_import_is_an_error_not_a_crash(repo: Path, cache: Path) -> None:
    inv = build_inventory(repo, cache_dir=cache)

    broken = [e for e in inv.errors if "BrokenLibrary" in e]
    assert len(broken) == 1
    assert "not_installed_module_xyz" in broken[0]
    assert "Traceback" not in broken[0]
    assert not [k for k in inv.keywords if k.owner == "libraries/BrokenLibrary.py"]
    assert len(inv.errors) == 1, inv.errors


def test_missing_resource_and_variable_imports_are_errors(repo: Path, cache: Path) -> None:
    (repo / "tests" / "other.robot").write_text(
        "*** Settings ***\nResource    ../resources/nope.resource\nLibrary    ${LIBS}/X.py\n"
        "*** Test Cases ***\nT\n    No Operation\n",
        encoding="utf-8",
    )
    inv = build_inventory(repo, cache_dir=cache)

    assert any("tests/other.robot" in e and "nope.resource" in e and "does not exist" in e for e in inv.errors)
    assert any("${LIBS}/X.py" in e and "variables" in e for e in inv.errors)
    assert "resources/nope.resource" not in inv.resources


def test_resource_found_through_pythonpath_option(repo: Path, cache: Path) -> None:
    (repo / "support").mkdir()
    (repo / "support" / "SupportLibrary.py").write_text(
        "def reset_fixtures():\n    '''Resets the fixtures.'''\n", encoding="utf-8"
    )
    (repo / "tests" / "support.robot").write_text(
        "*** Settings ***\nLibrary    SupportLibrary\n*** Test Cases ***\nT\n    No Operation\n",
        encoding="utf-8",
    )
    without = build_inventory(repo, cache_dir=cache)
    assert any("SupportLibrary" in e for e in without.errors)

    with_path = build_inventory(repo, cache_dir=cache, pythonpath=["support"])
    assert not last_build_from_cache()  # the option is part of the cache key
    assert by_name(with_path, "Reset Fixtures").owner == "SupportLibrary"
    assert not any("SupportLibrary" in e for e in with_path.errors)


def test_missing_tests_folder_is_reported(repo: Path, cache: Path) -> None:
    inv = build_inventory(repo, cache_dir=cache, tests_dir="suites")
    assert any("'suites'" in e for e in inv.errors)


def test_cache_hit_on_unchanged_repo_and_miss_after_edit(repo: Path, cache: Path) -> None:
    cold = build_inventory(repo, cache_dir=cache)
    assert not last_build_from_cache()
    entries = list(cache.glob("inventory-*.json"))
    assert len(entries) == 1

    warm = build_inventory(repo, cache_dir=cache)
    assert last_build_from_cache()
    assert warm == cold

    # Proof the warm result is read from the cache file, not rebuilt: a sentinel stored under
    # the same key comes back as is.
    sentinel = KeywordInventory(keywords=[Keyword(name="From Cache", owner="cache")])
    entries[0].write_text(sentinel.model_dump_json(), encoding="utf-8")
    assert build_inventory(repo, cache_dir=cache) == sentinel

    # Tool output is not part of the key.
    (repo / "generated" / "QA-1" / "old.resource").write_text("*** Keywords ***\nX\n    No Operation\n")
    assert build_inventory(repo, cache_dir=cache) == sentinel

    with (repo / "resources" / "auth.resource").open("a", encoding="utf-8") as f:
        f.write("\nLogout\n    [Documentation]    Logs out.\n    No Operation\n")
    edited = build_inventory(repo, cache_dir=cache)
    assert not last_build_from_cache()
    assert by_name(edited, "Logout").owner == "resources/auth.resource"
    assert len(list(cache.glob("inventory-*.json"))) == 2


def test_corrupt_cache_entry_is_rebuilt(repo: Path, cache: Path) -> None:
    build_inventory(repo, cache_dir=cache)
    (entry,) = cache.glob("inventory-*.json")
    entry.write_text("{not json", encoding="utf-8")
    inv = build_inventory(repo, cache_dir=cache)
    assert not last_build_from_cache()
    assert by_name(inv, "Login As")


def test_edited_python_library_is_reloaded(repo: Path, cache: Path) -> None:
    build_inventory(repo, cache_dir=cache)
    lib = repo / "libraries" / "ShopLibrary.py"
    lib.write_text(SHOP_LIBRARY + "\n    def empty_cart(self):\n        '''Empties the cart.'''\n")
    inv = build_inventory(repo, cache_dir=cache)
    assert by_name(inv, "Empty Cart", owner="libraries/ShopLibrary.py").doc == "Empties the cart."
    assert by_name(inv, "Empty Cart", owner="ShopLibrary")


def test_default_cache_is_outside_the_repo_and_repo_stays_clean(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    before = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*"))
    path_before = list(sys.path)

    build_inventory(repo)

    assert default_cache_dir() == tmp_path / "xdg" / "jira2robot"
    assert len(list((tmp_path / "xdg" / "jira2robot").glob("inventory-*.json"))) == 1
    # No cache, no __pycache__ from importing the repo's libraries.
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*")) == before
    assert sys.path == path_before
    from_repo = [
        name
        for name, module in list(sys.modules.items())
        if Path(getattr(module, "__file__", None) or "/").resolve().is_relative_to(repo.resolve())
    ]
    assert from_repo == []
    build_inventory(repo)
    assert last_build_from_cache()


def test_render_keywords_groups_by_owner(repo: Path, cache: Path) -> None:
    inv = build_inventory(repo, cache_dir=cache)
    chosen = [
        by_name(inv, "Login As"),
        by_name(inv, "Add Book To Cart"),
        by_name(inv, "Add Item To Cart", owner="libraries/ShopLibrary.py"),
    ]

    text = render_keywords(chosen)
    assert text.splitlines() == [
        "[Resource] resources/auth.resource",
        "  Login As    ${user}    ${password}=secret",
        "      Logs in with the web form.",
        "[Resource] resources/common.resource",
        "  Add Book To Cart    ${title}    ${copies}=1",
        "      Adds a book to the shopping cart.",
        "[Library] libraries/ShopLibrary.py",
        "  Add Item To Cart    ${item}    ${quantity}=1",
        "      Adds an item to the cart through the API.",
    ]
    assert "Logs in" not in render_keywords(chosen, with_docs=False)
    assert render_keywords([]) == ""


def test_broken_files_are_reported_and_the_rest_still_listed(repo: Path, cache: Path) -> None:
    bad = repo / "tests" / "bad"
    bad.mkdir()
    (bad / "binary.robot").write_bytes(b"\xff\xfe\x00garbage")
    (bad / "empty.robot").write_text("", encoding="utf-8")
    (bad / "with_tests.resource").write_text("*** Test Cases ***\nT\n    No Operation\n", encoding="utf-8")
    (bad / "odd.resource").write_text(
        "*** Settings ***\nLibrary\nUnknown Setting    x\nLibrary    Remote    http://127.0.0.1:9\n"
        "*** Keywords ***\nBad ${x:[} Pattern\n    No Operation\nStill Fine\n    No Operation\n",
        encoding="utf-8",
    )
    inv = build_inventory(repo, cache_dir=cache)

    assert by_name(inv, "Still Fine").owner == "tests/bad/odd.resource"
    assert by_name(inv, "Login As")
    assert not [k for k in inv.keywords if "Pattern" in k.name]
    errors = "\n".join(inv.errors)
    for expected in (
        "tests/bad/binary.robot: not UTF-8",
        "tests/bad/odd.resource:3: Non-existing setting 'Unknown Setting'.",
        "tests/bad/odd.resource:6: keyword 'Bad ${x:[} Pattern'",
        "Resource file with 'Test Cases' section is invalid",
        "tests/bad/odd.resource: Library import without a name",
        "Library 'Remote': keywords not listed",
    ):
        assert expected in errors
    assert str(repo) not in errors  # paths in errors are repo-relative
    assert "Remote" in inv.libraries


def test_imports_with_run_time_variables_are_allowed_as_repo_relative_patterns(repo: Path, cache: Path) -> None:
    (repo / "resources" / "env.resource").write_text(
        "*** Settings ***\nVariables    ${CURDIR}/../variables/${ENV}.py\nResource    i18n/${LANG}.resource\n"
        "Library    ${LIBS}/Tool.py\n",
        encoding="utf-8",
    )
    inv = build_inventory(repo, cache_dir=cache)

    assert "variables/${ENV}.py" in inv.variables
    assert "resources/i18n/${LANG}.resource" in inv.resources
    assert "${LIBS}/Tool.py" in inv.libraries
    # Only the library is a loss (its keywords are unknown); the others are plain RF usage.
    assert [e for e in inv.errors if "${" in e] == [
        "resources/env.resource: Library '${LIBS}/Tool.py': not loaded, the name holds variables set only at run time"
    ]


# --------------------------------------------------------------------------- calls (wrapper awareness)

CALLS_RESOURCE = """\
*** Keywords ***
Checkout Everything
    [Setup]    Open Shop
    FOR    ${i}    IN RANGE    2
        IF    ${i} == 0
            Given Login As    alice
        ELSE
            Add Book To Cart    Dune
        END
    END
    TRY
        Checkout
    EXCEPT    *    type=GLOB
        Run Keyword    Open   Shop
    END
    ${n} =    Get Length    ${EMPTY}
    Add Book To Cart    Dune
    [Teardown]    Log    done
"""


def test_calls_of_user_keywords_come_from_robot_model(repo: Path, cache: Path) -> None:
    (repo / "resources" / "calls.resource").write_text(CALLS_RESOURCE, encoding="utf-8")
    inv = build_inventory(repo, cache_dir=cache)

    # Setup, nested FOR/IF/TRY bodies, assignments and teardown, in order and once each; a
    # keyword passed as an argument (`Run Keyword    Open Shop`) is not a call of it.
    assert by_name(inv, "Checkout Everything").calls == [
        "Open Shop",
        "Given Login As",
        "Add Book To Cart",
        "Checkout",
        "Run Keyword",
        "Get Length",
        "Log",
    ]
    assert by_name(inv, "Add Book To Cart").calls == ["Log"]
    assert by_name(inv, "Add Item To Cart", owner="libraries/ShopLibrary.py").calls == []


def test_sample_repo_wrappers_and_variable_names(tmp_path: Path) -> None:
    from generator.standin.files import SAMPLE_REPO_DIR

    sample = shutil.copytree(SAMPLE_REPO_DIR, tmp_path / "repo", ignore=shutil.ignore_patterns("__pycache__"))
    inv = build_inventory(sample, pythonpath=["libraries"], cache_dir=tmp_path / "cache")
    wrappers = sorted(k.name for k in inv.keywords if "Put In Cart" in k.calls)
    assert wrappers == ["Add \"${quantity}\" Of \"${product}\" To Cart", "Add Product To Cart",
                        "The cart contains \"${quantity}\" of \"${product}\""]  # fmt: skip
    assert by_name(inv, 'The shop has "${count}" of "${product}" in stock').calls == ["Set Stock"]
    # `Variables    ${CURDIR}/../variables/${ENV}.py`: every variables/*.py file is read.
    assert inv.variable_names == [
        "${DECLINED_CARD}",
        "${DEFAULT_PASSWORD}",
        "${DEFAULT_PRODUCT}",
        "${MAX_LOGIN_ATTEMPTS}",
        "${SHOP_URL}",
        "${VALID_CARD}",
    ]
    assert "Secret-123" not in inv.model_dump_json()
    assert inv.errors == []


# --------------------------------------------------------------------------- variable names

SECRET = "s3cr3t-Value-42"
ENV_VARIABLES = f'''\
import os

DEFAULT_PASSWORD = "{SECRET}"
LIST__CARDS = ["4111111111111111"]
DICT__LIMITS = {{"daily": "{SECRET}"}}
PORTS = (80, 443)
_PRIVATE = "{SECRET}"


def helper():
    return "{SECRET}"
'''
DYNAMIC_VARIABLES = f'''\
def get_variables(region="eu"):
    return {{"API_TOKEN_" + region.upper(): "{SECRET}"}}
'''
VARIABLES_RESOURCE = f"""\
*** Settings ***
Variables    ${{CURDIR}}/../variables/${{ENV}}.py
Variables    ../variables/dynamic.py    us
Variables    ../variables/data.yaml
Variables    ../variables/broken.json

*** Variables ***
${{TIMEOUT}}       {SECRET}
@{{USERS}}         alice    {SECRET}
&{{HEADERS}}       token={SECRET}
${{default_password}}    duplicate by RF's rule
"""


def _write_variable_files(repo: Path) -> None:
    (repo / "variables" / "staging.py").write_text(ENV_VARIABLES, encoding="utf-8")
    (repo / "variables" / "prod.py").write_text(f'SHOP_URL = "{SECRET}"\n', encoding="utf-8")
    (repo / "variables" / "dynamic.py").write_text(DYNAMIC_VARIABLES, encoding="utf-8")
    (repo / "variables" / "data.yaml").write_text(f"DB_PASSWORD: {SECRET}\nREGIONS: [eu, us]\n", encoding="utf-8")
    (repo / "variables" / "broken.json").write_text("[not a mapping]", encoding="utf-8")
    (repo / "resources" / "vars.resource").write_text(VARIABLES_RESOURCE, encoding="utf-8")


def test_variable_names_from_files_patterns_and_resources(repo: Path, cache: Path) -> None:
    _write_variable_files(repo)
    inv = build_inventory(repo, cache_dir=cache)

    assert inv.variable_names == [
        "${API_TOKEN_EU}",  # dynamic.py as the ${ENV} pattern selects it: no argument
        "${API_TOKEN_US}",  # dynamic.py as imported by name: get_variables() gets the argument
        "${BASE_URL}",  # variables/env.py, imported by common.resource (and matched by the pattern)
        "@{CARDS}",  # LIST__ prefix
        "${DB_PASSWORD}",  # YAML file
        "${default_password}",  # resource `*** Variables ***` come first; one entry per RF name
        "&{HEADERS}",
        "&{LIMITS}",  # DICT__ prefix
        "@{PORTS}",
        "@{REGIONS}",
        "${SHOP_URL}",  # variables/prod.py: another file the ${ENV} pattern selects
        "${TIMEOUT}",
        "@{USERS}",
    ]
    # A variable file that RF refuses is reported, with the importer, and the rest still read.
    assert [e for e in inv.errors if "broken.json" in e] == [
        "resources/vars.resource: Variables '../variables/broken.json': variable names not read: "
        "Processing variable file 'variables/broken.json' failed: JSONDecodeError"
    ]


def test_variable_file_errors_do_not_quote_values(repo: Path, cache: Path) -> None:
    (repo / "variables" / "bad.py").write_text(f'PORT = int("{SECRET}")\n', encoding="utf-8")
    (repo / "resources" / "bad.resource").write_text(
        "*** Settings ***\nVariables    ../variables/bad.py\n", encoding="utf-8"
    )
    inv = build_inventory(repo, cache_dir=cache)
    (error,) = [e for e in inv.errors if "bad.py" in e]
    assert error.endswith("Importing variable file 'variables/bad.py' failed: ValueError"), error
    assert SECRET not in inv.model_dump_json()


def test_variable_values_never_reach_the_inventory_or_its_cache(repo: Path, cache: Path) -> None:
    _write_variable_files(repo)
    inv = build_inventory(repo, cache_dir=cache)

    assert "${DB_PASSWORD}" in inv.variable_names  # the names are there...
    (entry,) = cache.glob("inventory-*.json")
    for text in (inv.model_dump_json(), entry.read_text(encoding="utf-8"), render_keywords(inv.keywords)):
        assert SECRET not in text  # ...never a value, from a file or a `*** Variables ***` section


def test_variable_file_edits_invalidate_the_cache(repo: Path, cache: Path) -> None:
    _write_variable_files(repo)
    first = build_inventory(repo, cache_dir=cache)
    assert "${NEW_CARD}" not in first.variable_names

    with (repo / "variables" / "staging.py").open("a", encoding="utf-8") as f:
        f.write('NEW_CARD = "4000000000000002"\n')
    edited = build_inventory(repo, cache_dir=cache)
    assert not last_build_from_cache()
    assert "${NEW_CARD}" in edited.variable_names

    # YAML and JSON variable files are hashed too, not only `.py`.
    (repo / "variables" / "data.yaml").write_text("OTHER_PASSWORD: x\n", encoding="utf-8")
    yaml_edit = build_inventory(repo, cache_dir=cache)
    assert not last_build_from_cache()
    assert "${OTHER_PASSWORD}" in yaml_edit.variable_names and "${DB_PASSWORD}" not in yaml_edit.variable_names
    build_inventory(repo, cache_dir=cache)
    assert last_build_from_cache()


def test_variable_names_reach_the_writer_prompt_bounded(repo: Path, cache: Path) -> None:
    from generator.models import SpecMeta, SpecRF, SpecTestCase, TestSpec, Ticket
    from generator.write.prompts import MAX_VARIABLE_NAMES, writer_messages

    _write_variable_files(repo)
    inv = build_inventory(repo, cache_dir=cache)
    spec = TestSpec(
        meta=SpecMeta(jira_key="QA-1", title="t"),
        rf=SpecRF(target_path="tests/t.robot", test_cases=[SpecTestCase(name="c", steps=["Given x"])]),
    )
    ticket = Ticket(key="QA-1", summary="s")

    def prompt(names: list[str]) -> str:
        return writer_messages(spec, ticket, "", [], [], [], names)[1]["content"]

    (line,) = [x for x in prompt(inv.variable_names).splitlines() if x.startswith("Variables the repository")]
    assert line.endswith(": " + ", ".join(inv.variable_names))
    assert SECRET not in prompt(inv.variable_names)
    assert "Variables the repository" not in prompt([])
    many = [f"${{V{i}}}" for i in range(MAX_VARIABLE_NAMES + 5)]
    assert f"${{V{MAX_VARIABLE_NAMES - 1}}}, " not in prompt(many) and "(and 5 more)" in prompt(many)


def test_the_scan_keeps_the_variables_the_repo_allows_its_dryrun(tmp_path: Path, monkeypatch):
    """A library that reads a secret-named variable of the repo's own at import (`dryrun_env`):
    the scan sees it as the dryrun does; without the allow-list it is scrubbed from both."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "libraries").mkdir()
    (repo / "libraries" / "Needy.py").write_text(
        "import os\nos.environ['SHOP_API_TOKEN']\n\n\ndef needy_step():\n    pass\n", encoding="utf-8"
    )
    (repo / "tests" / "t.robot").write_text(
        "*** Settings ***\nLibrary    Needy\n\n*** Test Cases ***\nT\n    Needy Step\n", encoding="utf-8"
    )
    monkeypatch.setenv("SHOP_API_TOKEN", "the-repo's-own-test-token")
    scrubbed = build_inventory(repo, cache_dir=tmp_path / "c")
    assert "Needy Step" not in {k.name for k in scrubbed.keywords}
    assert any("Needy" in e and "SHOP_API_TOKEN" in e for e in scrubbed.errors)
    allowed = build_inventory(repo, cache_dir=tmp_path / "c", dryrun_env=["SHOP_API_TOKEN"])
    assert "Needy Step" in {k.name for k in allowed.keywords}
