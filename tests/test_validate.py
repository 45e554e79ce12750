"""Validation of generated .robot files against a real fixture repository with real `robot --dryrun`."""

from __future__ import annotations

import ast
import hashlib
import os
import textwrap
from pathlib import Path

import anyio
import pytest

from generator.models import Diagnostic, Keyword, KeywordInventory
from generator.validate import UnsafePathError, check_static, dryrun, safe_target_path, validate

ENV_OPTIONS = ["-v", "ENV:x"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small test repository: a resource with embedded-argument and ${ENV}-dependent keywords,
    a Python library, a suite that imports them, and a library that is not installed."""
    root = tmp_path / "repo"
    _write(
        root / "resources/common.resource",
        """
        *** Settings ***
        Library     ../libraries/ShopLibrary.py
        Resource    env/${ENV}.resource

        *** Keywords ***
        Open Shop
            [Arguments]    ${name}    ${lang}=en
            Log    Opening ${name} in ${lang}

        User "${user}" Adds "${count}" Items
            Add Item    ${user}    ${count}

        Login To Environment
            Env Login
        """,
    )
    _write(
        root / "resources/env/x.resource",
        """
        *** Keywords ***
        Env Login
            Log    logged in to environment x
        """,
    )
    _write(
        root / "resources/legacy.resource",
        """
        *** Settings ***
        Library    NotInstalledLib

        *** Keywords ***
        Legacy Step
            Legacy Library Keyword
        """,
    )
    _write(
        root / "libraries/ShopLibrary.py",
        """
        from shop_helpers import quantity


        class ShopLibrary:
            def add_item(self, name, qty):
                return name, quantity(qty)

            def cart_should_contain(self, count):
                return count
        """,
    )
    # Imported the ordinary way: Python would leave a __pycache__ in the repo.
    _write(root / "libraries/shop_helpers.py", "def quantity(qty):\n    return int(qty)\n")
    _write(root / "libraries/SlowLib.py", "import time\n\ntime.sleep(60)\n")
    _write(
        root / "tests/existing.robot",
        """
        *** Settings ***
        Resource    ../resources/common.resource
        Library     ../libraries/ShopLibrary.py
        Library     NotInstalledLib

        *** Test Cases ***
        Existing Purchase
            Open Shop    main
            User "alice" Adds "1" Items
        """,
    )
    return root


@pytest.fixture
def inventory() -> KeywordInventory:
    return KeywordInventory(
        keywords=[
            Keyword(name="Open Shop", args=["${name}", "${lang}=en"], owner="resources/common.resource"),
            Keyword(name='User "${user}" Adds "${count}" Items', owner="resources/common.resource", embedded=True),
            Keyword(name="Login To Environment", owner="resources/common.resource"),
            Keyword(name="Add Item", args=["name", "qty"], owner="ShopLibrary", owner_kind="library"),
        ],
        libraries=["BuiltIn", "libraries/ShopLibrary.py", "NotInstalledLib"],
        resources=["resources/common.resource", "resources/env/x.resource", "resources/legacy.resource"],
        # What a real inventory records: who imports each resource (only imported ones are allowed).
        importers={
            f"RESOURCE:{r}": ["tests/shop/existing.robot"]
            for r in ("resources/common.resource", "resources/env/x.resource", "resources/legacy.resource")
        },
    )


def snapshot(root: Path) -> dict[str, str]:
    """Every path under the repo with a content hash (folders map to '')."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        for p in sorted(root.rglob("*"))
    }


def robot_file(settings: str, tests: str, keywords: str = "") -> str:
    text = f"*** Settings ***\n{settings.strip()}\n\n*** Test Cases ***\n{textwrap.dedent(tests).strip()}\n"
    if keywords:
        text += f"\n*** Keywords ***\n{textwrap.dedent(keywords).strip()}\n"
    return text


COMMON = "Resource    ../../resources/common.resource"
GOOD = robot_file(
    COMMON,
    """
    Buy Two Items
        Open Shop    main
        User "bob" Adds "2" Items
        Login To Environment
    """,
)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return lines[occurrence - 1]


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == "error"]


# --------------------------------------------------------------------------- safe_target_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tests/login/QA-6.robot", "tests/login/QA-6.robot"),
        ("login/QA-6.robot", "tests/login/QA-6.robot"),
        ("./tests//login/./QA-6.robot", "tests/login/QA-6.robot"),
        ("  login/user  login/QA 6  test.robot ", "tests/login/user_login/QA_6_test.robot"),
    ],
)
def test_safe_target_path_normalises_into_tests_dir(raw: str, expected: str) -> None:
    assert safe_target_path(raw, "tests") == expected
    assert safe_target_path(expected, "tests") == expected


def test_safe_target_path_uses_key_for_a_folder_only_path() -> None:
    assert safe_target_path("login/", "tests", key="QA-6") == "tests/login/QA-6.robot"
    assert safe_target_path("x.robot", "suites/api/") == "suites/api/x.robot"
    assert safe_target_path("x.robot", ".") == "x.robot"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("../../etc/x.robot", "'..'"),
        ("tests/../../x.robot", "'..'"),
        ("/etc/x.robot", "absolute"),
        ("C:/tests/x.robot", "drive letter"),
        ("tests\\..\\x.robot", "backslash"),
        ("tests/x\x00.robot", "control character"),
        ("tests/x\n.robot", "control character"),
        ("tests/x.txt", "'.robot'"),
        ("tests/x.robot.py", "'.robot'"),
        ("tests/.hidden.robot", "hidden"),
        ("tests/-v.robot", "must start with"),
        ("tests/$HOME.robot", "must start with"),
        ("tests/é.robot", "A-Z"),
        ("tests/__init__.robot", "initialisation"),
        ("tests/", "folder"),
        ("tests/" + "a" * 200 + ".robot", "200"),
    ],
)
def test_safe_target_path_rejects(raw: str, rule: str) -> None:
    with pytest.raises(UnsafePathError) as info:
        safe_target_path(raw, "tests", key=None)
    assert repr(raw) in str(info.value)
    assert rule in str(info.value)


def test_safe_target_path_names_the_ticket() -> None:
    with pytest.raises(UnsafePathError, match="for QA-9"):
        safe_target_path("/etc/passwd.robot", "tests", key="QA-9")


# --------------------------------------------------------------------------- check_static


def test_static_good_file_has_no_diagnostics(repo: Path, inventory: KeywordInventory) -> None:
    assert check_static(GOOD, "tests/shop/QA-1.robot", inventory, repo=repo, tests_dir="tests") == []


def test_static_parse_errors_with_lines(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(
        COMMON + "\nFoo    bar",
        """
        Broken
            [Bogus]    x
            FOR    ${i}    IN    a    b
                Log    ${i}
        """,
    )
    diagnostics = check_static(text, "tests/shop/QA-1.robot", inventory, repo=repo, tests_dir="tests")
    found = {(d.source, d.line, d.message) for d in diagnostics}
    assert ("parse", line_of(text, "Foo    bar"), "Non-existing setting 'Foo'.") in found
    assert ("parse", line_of(text, "[Bogus]"), "Non-existing setting 'Bogus'.") in found
    assert ("parse", line_of(text, "FOR"), "FOR loop must have closing END.") in found


def test_static_requires_a_test_case(repo: Path, inventory: KeywordInventory) -> None:
    text = "*** Settings ***\nResource    ../resources/common.resource\n\n*** Invalid ***\nx\n"
    diagnostics = check_static(text, "tests/QA-1.robot", inventory, repo=repo, tests_dir="tests")
    messages = [d.message for d in diagnostics]
    assert any("no test case" in m for m in messages)
    assert any(d.line == 4 and "Unrecognized section header" in d.message for d in diagnostics)


@pytest.mark.parametrize("target", ["../../etc/x.robot", "/etc/x.robot", "tests/x.txt"])
def test_static_rejects_unsafe_target(repo: Path, inventory: KeywordInventory, target: str) -> None:
    diagnostics = check_static(GOOD, target, inventory, repo=repo, tests_dir="tests")
    assert [d.source for d in diagnostics] == ["path"]
    assert repr(target) in diagnostics[0].message


def test_static_rejects_a_path_that_is_not_normalised(repo: Path, inventory: KeywordInventory) -> None:
    diagnostics = check_static(GOOD, "shop/QA-1.robot", inventory, repo=repo, tests_dir="tests")
    assert [d.source for d in diagnostics] == ["path"]
    assert "'tests/shop/QA-1.robot'" in diagnostics[0].message


def test_static_rejects_symlink_escape(repo: Path, inventory: KeywordInventory, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "tests/evil").symlink_to(outside, target_is_directory=True)
    diagnostics = check_static(GOOD, "tests/evil/QA-1.robot", inventory, repo=repo, tests_dir="tests")
    assert [d.source for d in diagnostics] == ["path"]
    assert "symlink" in diagnostics[0].message


def test_static_rejects_tests_dir_symlinked_out_of_repo(
    repo: Path, inventory: KeywordInventory, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (repo / "suites").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    diagnostics = check_static(GOOD, "suites/QA-1.robot", inventory, repo=repo, tests_dir="suites")
    assert [d.source for d in diagnostics] == ["path"]
    assert "leaves the repository" in diagnostics[0].message


def test_static_rejects_imports_the_repo_does_not_use(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(
        COMMON
        + "\nLibrary     OperatingSystem"
        + "\nResource    ../../secret.resource"
        + "\nResource    ../../../outside.resource"
        + "\nResource    ../../resources/${ENV}.resource"
        + "\nVariables   /etc/vars.py",
        """
        Sneaky
            Import Library    Process
            Open Shop    main
        """,
    )
    diagnostics = check_static(text, "tests/shop/QA-1.robot", inventory, repo=repo, tests_dir="tests")
    by_line = {d.line: d for d in diagnostics}
    assert all(d.source == "import" for d in diagnostics)
    assert set(by_line) == {
        line_of(text, "OperatingSystem"),
        line_of(text, "secret.resource"),
        line_of(text, "outside.resource"),
        line_of(text, "${ENV}"),
        line_of(text, "/etc/vars.py"),
        line_of(text, "Import Library"),
    }
    library = by_line[line_of(text, "OperatingSystem")].message
    assert "'OperatingSystem'" in library
    assert library.count("BuiltIn") == 1
    assert "../../libraries/ShopLibrary.py" in library
    assert "NotInstalledLib" in library
    resource = by_line[line_of(text, "secret.resource")].message
    assert "'../../secret.resource' (resolves to 'secret.resource') is not imported anywhere" in resource
    assert "../../resources/common.resource" in resource
    assert "outside the repository" in by_line[line_of(text, "outside.resource")].message
    assert "only literal paths or paths starting with ${CURDIR}" in by_line[line_of(text, "${ENV}")].message
    assert "absolute" in by_line[line_of(text, "/etc/vars.py")].message
    assert "'Process'" in by_line[line_of(text, "Import Library")].message


def test_static_resource_in_the_repo_but_not_allow_listed(repo: Path, inventory: KeywordInventory) -> None:
    _write(repo / "tests/private.resource", "*** Keywords ***\nX\n    No Operation\n")
    text = robot_file("Resource    ../private.resource\nLibrary    BuiltIn", "T\n    X")
    diagnostics = check_static(text, "tests/shop/QA-1.robot", inventory, repo=repo, tests_dir="tests")
    assert [(d.source, d.line) for d in diagnostics] == [("import", 2)]
    assert "resolves to 'tests/private.resource'" in diagnostics[0].message


def test_static_accepts_curdir_and_pythonpath_style_imports(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(
        "Resource    ${CURDIR}/../../resources/common.resource\n"
        "Resource    ${CURDIR}${/}..${/}..${/}resources${/}env${/}x.resource\n"
        "Resource    common.resource\n"
        "Library     ${CURDIR}/../../libraries/ShopLibrary.py\n"
        "Library     NotInstalledLib",
        "T\n    Open Shop    main",
    )
    assert check_static(text, "tests/shop/QA-1.robot", inventory, repo=repo, tests_dir="tests") == []


# --------------------------------------------------------------------------- dryrun / validate


@pytest.mark.anyio
async def test_good_file_passes_and_repo_is_untouched(
    repo: Path, inventory: KeywordInventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI images often set this already; the validator must not rely on it.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    before = snapshot(repo)
    result = await validate(
        GOOD, "tests/shop/QA-1.robot", inventory, repo=repo, tests_dir="tests", robot_options=ENV_OPTIONS
    )
    assert result.ok, result.diagnostics
    assert result.diagnostics == []
    assert not result.environment_error
    assert snapshot(repo) == before  # no temp file, no new folder, no output, no __pycache__


@pytest.mark.anyio
async def test_hallucinated_keyword_is_reported_with_name_and_line(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(
        COMMON,
        """
        Pay
            Open Shop    main
            Pay With Bitcoin    1 BTC
            Local Checkout

        Empty Looking
            Log    fine
        """,
        keywords="""
        Local Checkout
            Log    checking out
            Confirm Order Magically
        """,
    )
    before = snapshot(repo)
    result = await validate(
        text, "tests/shop/QA-2.robot", inventory, repo=repo, tests_dir="tests", robot_options=ENV_OPTIONS
    )
    assert not result.ok
    assert not result.environment_error
    found = {(d.source, d.line, d.keyword, d.message) for d in errors(result.diagnostics)}
    assert found == {
        (
            "dryrun",
            line_of(text, "Pay With Bitcoin"),
            "Pay With Bitcoin",
            "No keyword with name 'Pay With Bitcoin' found.",
        ),
        (
            "dryrun",
            line_of(text, "Confirm Order Magically"),
            "Confirm Order Magically",
            "No keyword with name 'Confirm Order Magically' found.",
        ),
    }
    assert snapshot(repo) == before


@pytest.mark.anyio
async def test_wrong_argument_count_keeps_keyword_name_and_exact_line(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(
        COMMON + "\nLibrary    ../../libraries/ShopLibrary.py",
        """
        Args
            Open Shop    main
            Open Shop
            FOR    ${item}    IN    a    b
                Add Item    ${item}
            END
        """,
    )
    result = await dryrun(text, "tests/shop/QA-3.robot", repo=repo, robot_options=ENV_OPTIONS, inventory=inventory)
    assert not result.ok
    found = {(d.line, d.keyword, d.message) for d in errors(result.diagnostics)}
    assert found == {
        (
            line_of(text, "Open Shop", occurrence=2),
            "Open Shop",
            "Keyword 'common.Open Shop' expected 1 to 2 arguments, got 0.",
        ),
        (line_of(text, "Add Item"), "Add Item", "Keyword 'ShopLibrary.Add Item' expected 2 arguments, got 1."),
    }


@pytest.mark.anyio
async def test_failing_suite_setup_and_empty_test(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(
        COMMON + "\nSuite Setup    Prepare Everything",
        "Nothing\n    [Tags]    smoke",
    )
    result = await dryrun(text, "tests/shop/QA-4.robot", repo=repo, robot_options=ENV_OPTIONS, inventory=inventory)
    assert [(d.line, d.keyword, d.message) for d in errors(result.diagnostics)] == [
        (line_of(text, "Suite Setup"), "Prepare Everything", "No keyword with name 'Prepare Everything' found.")
    ]
    fixed = robot_file(COMMON, "Nothing\n    [Tags]    smoke")
    result = await dryrun(fixed, "tests/shop/QA-4.robot", repo=repo, robot_options=ENV_OPTIONS, inventory=inventory)
    assert [(d.line, d.message) for d in errors(result.diagnostics)] == [
        (line_of(fixed, "Nothing"), "Test cannot be empty.")
    ]


@pytest.mark.anyio
async def test_static_errors_skip_the_dryrun(repo: Path, inventory: KeywordInventory) -> None:
    before = snapshot(repo)
    text = robot_file(COMMON, "Broken\n    FOR    ${i}    IN    a\n        Log    ${i}")
    result = await validate(text, "tests/new/QA-5.robot", inventory, repo=repo, tests_dir="tests")
    assert not result.ok
    assert {d.source for d in result.diagnostics} == {"parse"}
    assert snapshot(repo) == before


@pytest.mark.anyio
async def test_untrusted_code_is_a_trust_error_and_never_dryrun(
    repo: Path, inventory: KeywordInventory, tmp_path: Path
) -> None:
    """The trust rule runs inside the static check, so the dryrun (which would evaluate it) never starts."""
    marker = tmp_path / "marker"
    code = f"${{{{__import__('pathlib').Path('{marker}').touch()}}}}"
    text = robot_file(
        COMMON + f"\nDocumentation    {code}", "T\n    Run Keyword    Import Library    x.py\n    Open Shop    main"
    )
    result = await validate(text, "tests/new/QA-5.robot", inventory, repo=repo, tests_dir="tests")
    assert not marker.exists()
    assert not result.ok
    assert [(d.source, d.line) for d in result.diagnostics] == [
        ("trust", line_of(text, "Documentation")),
        ("trust", line_of(text, "Run Keyword")),
    ]


@pytest.mark.anyio
async def test_dryrun_environment_has_no_secrets(repo: Path, inventory: KeywordInventory, tmp_path: Path) -> None:
    """The repo's own library, imported by the dryrun, sees no token: not by a secret-looking name
    (unless `dryrun_env` names it), and not the run's own secret under any name."""
    seen = tmp_path / "env.txt"
    library = repo / "libraries/ShopLibrary.py"
    library.write_text(
        library.read_text() + f"\nimport os\nopen({str(seen)!r}, 'w').write(repr(sorted(os.environ.items())))\n"
    )
    os.environ.update(MY_API_TOKEN="tok-one", REPO_PASSWORD="pw-two", HARMLESS="run-secret-3x7")
    try:
        result = await validate(
            GOOD,
            "tests/shop/QA-1.robot",
            inventory,
            repo=repo,
            tests_dir="tests",
            robot_options=ENV_OPTIONS,
            pythonpath=["libraries"],
            secrets=["run-secret-3x7"],
            dryrun_env=["REPO_PASSWORD"],
        )
    finally:
        for name in ("MY_API_TOKEN", "REPO_PASSWORD", "HARMLESS"):
            del os.environ[name]
    env = dict(ast.literal_eval(seen.read_text()))
    assert result.ok, result.diagnostics
    assert "MY_API_TOKEN" not in env and "HARMLESS" not in env
    assert env["REPO_PASSWORD"] == "pw-two"


@pytest.mark.anyio
async def test_symlink_escape_is_never_written(repo: Path, inventory: KeywordInventory, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "tests/evil").symlink_to(outside, target_is_directory=True)
    (repo / "escape").symlink_to(outside, target_is_directory=True)
    result = await validate(GOOD, "tests/evil/QA-1.robot", inventory, repo=repo, tests_dir="tests")
    assert not result.ok
    assert [d.source for d in result.diagnostics] == ["path"]
    for target in ("escape/QA-1.robot", "../QA-1.robot", "/tmp/QA-1.robot", "tests/existing.robot/QA-1.robot"):
        result = await dryrun(GOOD, target, repo=repo, inventory=inventory)
        assert [d.source for d in result.diagnostics] == ["path"], target
    assert list(outside.iterdir()) == []


@pytest.mark.anyio
async def test_curdir_resource_import_passes(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(
        "Resource    ${CURDIR}/../resources/common.resource",
        """
        Curdir
            Open Shop    main    fr
            User "carol" Adds "3" Items
        """,
    )
    result = await validate(
        text, "tests/QA-7.robot", inventory, repo=repo, tests_dir="tests", robot_options=ENV_OPTIONS
    )
    assert result.ok, result.diagnostics
    assert result.diagnostics == []


@pytest.mark.anyio
async def test_robot_options_variable_is_honoured(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(COMMON, "Env\n    Login To Environment")
    without = await validate(text, "tests/env/QA-8.robot", inventory, repo=repo, tests_dir="tests")
    assert not without.ok
    assert not without.environment_error
    assert [(d.line, d.keyword, d.message) for d in errors(without.diagnostics)] == [
        (line_of(text, "Login To Environment"), "Login To Environment", "No keyword with name 'Env Login' found.")
    ]
    warnings = [d.message for d in without.diagnostics if d.severity == "warning"]
    assert any("resources/common.resource" in m and "${ENV}" in m for m in warnings), warnings

    with_option = await validate(
        text, "tests/env/QA-8.robot", inventory, repo=repo, tests_dir="tests", robot_options=ENV_OPTIONS
    )
    assert with_option.ok, with_option.diagnostics


@pytest.mark.anyio
async def test_pythonpath_and_variablefile_options(repo: Path, inventory: KeywordInventory) -> None:
    _write(repo / "config/settings.py", "ENV = 'x'\n")
    text = robot_file(
        "Resource    common.resource\nLibrary    ShopLibrary",
        "Via Pythonpath\n    Open Shop    main\n    Add Item    a    1",
    )
    before = snapshot(repo)
    result = await dryrun(
        text,
        "tests/QA-9.robot",
        repo=repo,
        # The repo's own output options must not make robot write into the repo.
        robot_options=["--variablefile", "config/settings.py", "-d", "results", "--log", "log.html", "-x", "x.xml"],
        pythonpath=["resources", "libraries"],
        inventory=inventory,
    )
    assert result.ok, result.diagnostics
    assert snapshot(repo) == before


@pytest.mark.anyio
async def test_repo_library_missing_is_an_environment_error(repo: Path, inventory: KeywordInventory) -> None:
    text = robot_file(COMMON + "\nLibrary    NotInstalledLib", "Legacy\n    Open Shop    main")
    result = await validate(
        text, "tests/shop/QA-10.robot", inventory, repo=repo, tests_dir="tests", robot_options=ENV_OPTIONS
    )
    assert result.environment_error
    assert not result.ok
    assert [(d.line, d.message) for d in result.diagnostics if d.source == "environment"] == [
        (
            line_of(text, "NotInstalledLib"),
            "The repo's own library 'NotInstalledLib' cannot be imported in this job: "
            "ModuleNotFoundError: No module named 'NotInstalledLib'. Install the repo's requirements in the "
            "job (component input `install`, e.g. pip install -r requirements.txt)",
        )
    ]

    # Imported by one of the repo's resources: the repo's own, even without an inventory.
    through_resource = robot_file("Resource    ../resources/legacy.resource", "Legacy\n    Legacy Step")
    result = await dryrun(through_resource, "tests/QA-10.robot", repo=repo, inventory=inventory)
    assert result.environment_error
    assert any(d.source == "environment" and "'NotInstalledLib'" in d.message for d in result.diagnostics), (
        result.diagnostics
    )


@pytest.mark.anyio
async def test_unlisted_library_is_refused_by_the_gate_as_the_writers_fault(
    repo: Path, inventory: KeywordInventory
) -> None:
    """Past the static checks (called directly), Robot's own import is refused inside its process."""
    text = robot_file(COMMON + "\nLibrary    ImaginaryLib", "T\n    Open Shop    main")
    result = await dryrun(text, "tests/shop/QA-11.robot", repo=repo, robot_options=ENV_OPTIONS, inventory=inventory)
    assert not result.environment_error
    assert [(d.source, d.line) for d in errors(result.diagnostics)] == [("trust", line_of(text, "ImaginaryLib"))]
    assert "Library 'ImaginaryLib' imported by the generated file is not imported" in result.diagnostics[0].message
    assert ".jira2robot-" not in result.diagnostics[0].message


@pytest.mark.anyio
async def test_timeout_kills_robot_and_cleans_up(repo: Path, inventory: KeywordInventory) -> None:
    before = snapshot(repo)
    text = robot_file("Library    ../../libraries/SlowLib.py", "T\n    Log    x")
    allowed = inventory.model_copy(update={"libraries": [*inventory.libraries, "libraries/SlowLib.py"]})
    with anyio.fail_after(20):
        result = await dryrun(text, "tests/slow/QA-12.robot", repo=repo, timeout=1.5, inventory=allowed)
    assert result.environment_error
    assert "did not finish within 1.5 s" in result.diagnostics[0].message
    assert snapshot(repo) == before


@pytest.mark.anyio
async def test_bad_robot_option_is_an_environment_error(repo: Path, inventory: KeywordInventory) -> None:
    result = await dryrun(
        GOOD, "tests/shop/QA-13.robot", repo=repo, robot_options=["--no-such-option"], inventory=inventory
    )
    assert result.environment_error
    assert "option --nosuchoption not recognized" in result.diagnostics[0].message


@pytest.mark.anyio
async def test_concurrent_dryruns_are_bounded_and_correct(repo: Path, inventory: KeywordInventory) -> None:
    """Three tickets into the same new folder at once: none removes the folder under another."""
    limiter = anyio.CapacityLimiter(2)
    texts = {
        "good": GOOD,
        "missing": robot_file(COMMON, "T\n    Open Shop    main\n    Fly To The Moon"),
        "args": robot_file(COMMON, "T\n    Open Shop    a    b    c"),
    }
    results = {}
    peak = 0
    before = snapshot(repo)

    async def one(name: str) -> None:
        results[name] = await validate(
            texts[name],
            f"tests/shop/{name}.robot",
            inventory,
            repo=repo,
            tests_dir="tests",
            robot_options=ENV_OPTIONS,
            limiter=limiter,
        )

    async def watch() -> None:
        nonlocal peak
        while len(results) < len(texts):
            peak = max(peak, int(limiter.borrowed_tokens))
            await anyio.sleep(0.01)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            for name in texts:
                tg.start_soon(one, name)

    assert peak == 2
    assert results["good"].ok, results["good"].diagnostics
    assert [(d.line, d.keyword) for d in results["missing"].diagnostics] == [
        (line_of(texts["missing"], "Fly To The Moon"), "Fly To The Moon")
    ]
    assert [(d.line, d.message) for d in results["args"].diagnostics] == [
        (line_of(texts["args"], "Open Shop"), "Keyword 'common.Open Shop' expected 1 to 2 arguments, got 3.")
    ]
    assert snapshot(repo) == before
