"""Real repository shapes with zero configuration, end to end through the CLI.

Fixture repos (tests/data/repos) are written in the shapes public Robot Framework repos have:
suites at the root next to their Python keyword library, suites in `login_tests/` with a
`.robot` resource file, suite-local keywords and `*** Variables ***`, no convention document,
and a library whose import never returns. Every run is the real thing: real `robot --dryrun`,
real subprocesses of the repo's interpreter.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import main
from generator.config.repo_file import ConfigError, RepoConfig
from generator.config.settings import build_settings
from generator.gather.repo import derive_conventions, detect_tests_dir, index_suites, suites_within
from generator.models import (
    GeneratedTest,
    SpecMeta,
    SpecRF,
    SpecTestCase,
    TestSpec,
    Ticket,
    TicketResult,
    ValidationResult,
)
from generator.publish.describe import render_mr_description
from generator.retrieval.inventory import build_inventory, last_build_from_cache
from generator.validate import safe_target_path

REPOS = Path(__file__).resolve().parent / "data" / "repos"
TICKETS = REPOS / "tickets"

pytestmark = pytest.mark.usefixtures("clean_env", "own_cache")


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold inventory cache per test: a warm one would hide what the scan does."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def copy_repo(name: str, tmp_path: Path) -> Path:
    repo = tmp_path / name
    shutil.copytree(REPOS / name, repo, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def run_offline(repo: Path, out: Path, key: str, *extra: str) -> int:
    """`jira2robot run --llm offline` on exported tickets, with nothing configured."""
    source = ["--llm", "offline", "--tickets-dir", str(TICKETS), "--keys", key]
    return main(["run", *source, "--repo", str(repo), "--output-dir", str(out), *extra])


def ticket_entry(out: Path) -> dict:
    [entry] = json.loads((out / "report.json").read_text(encoding="utf-8"))["tickets"]
    return entry


# --------------------------------------------------------------------------- zero-config run


def test_root_suites_get_a_dryrun_valid_test_beside_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    repo = copy_repo("root_suites", tmp_path)

    assert run_offline(repo, tmp_path / "out", "CNT-1") == 0

    entry = ticket_entry(tmp_path / "out")
    assert entry["status"] == "created", entry["reason"]
    assert entry["test_path"] == "cnt-1_pressing_plus_twice_shows_two.robot"
    assert entry["conventions"] == "derived from 2 suites (no convention document)"
    assert (repo / entry["test_path"]).is_file()
    assert not (repo / "tests").exists()
    assert "tests folder the repository root detected from 2 suite(s)" in capsys.readouterr().out
    # The written file passes the validator on its own, where it is.
    assert main(["validate", entry["test_path"], "--repo", str(repo)]) == 0


def test_suites_in_a_named_folder_get_the_new_test_there(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    repo = copy_repo("folder_suites", tmp_path)

    assert run_offline(repo, tmp_path / "out", "LOG-1") == 0

    entry = ticket_entry(tmp_path / "out")
    assert entry["status"] == "created", entry["reason"]
    assert entry["test_path"].startswith("login_tests/")
    text = (repo / entry["test_path"]).read_text(encoding="utf-8")
    assert re.search(r"^Resource +resource\.robot$", text, re.MULTILINE), text
    assert "tests folder 'login_tests' detected from 2 suite(s)" in capsys.readouterr().out


@pytest.mark.parametrize("tests_dir", [".", "", "./"])
def test_tests_dir_for_the_root_works_in_every_spelling(tmp_path: Path, tests_dir: str) -> None:
    repo = copy_repo("root_suites", tmp_path)

    assert run_offline(repo, tmp_path / "out", "CNT-1", "--tests-dir", tests_dir) == 0

    entry = ticket_entry(tmp_path / "out")
    assert (entry["status"], entry["test_path"]) == ("created", "cnt-1_pressing_plus_twice_shows_two.robot")


def test_root_folder_spellings_are_one_path_rule() -> None:
    assert [RepoConfig(tests_dir=raw).tests_dir for raw in ("", ".", "./", "tests/", "./qa//tests")] == [
        ".",
        ".",
        ".",
        "tests",
        "qa/tests",
    ]
    assert safe_target_path("x.robot", ".") == "x.robot"
    assert safe_target_path("login_tests/x.robot", ".") == "login_tests/x.robot"
    for bad in ("../tests", "/abs/tests", "a\\b"):
        with pytest.raises(ValueError, match="tests"):
            RepoConfig(tests_dir=bad)


def test_a_configured_tests_dir_wins_over_detection(tmp_path: Path) -> None:
    repo = copy_repo("folder_suites", tmp_path)
    (repo / ".jira2robot.yml").write_text("tests_dir: app\n", encoding="utf-8")

    settings = build_settings({"repo": str(repo)}, {}, command="keywords")

    assert settings.repo_config.tests_dir == "app"
    assert settings.layout_note == "tests folder 'app' (configured)"


def test_detection_ignores_skipped_folders_and_resource_files(tmp_path: Path) -> None:
    repo = copy_repo("folder_suites", tmp_path)
    suite = "*** Test Cases ***\nT\n    No Operation\n"
    for rel in (".venv/lib/x.robot", "generated/QA-1/old.robot", "node_modules/y.robot"):
        (repo / rel).parent.mkdir(parents=True)
        (repo / rel).write_text(suite, encoding="utf-8")
    (repo / "app" / "keywords.robot").write_text("*** Keywords ***\nK\n    No Operation\n", encoding="utf-8")

    assert detect_tests_dir(index_suites(repo, ".")) == ("login_tests", 2)
    (tmp_path / "empty").mkdir()
    assert detect_tests_dir(index_suites(tmp_path / "empty", ".")) is None


# --------------------------------------------------------------------------- validate


def test_validate_checks_the_repos_own_suites_together(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = copy_repo("folder_suites", tmp_path)
    root = copy_repo("root_suites", tmp_path)

    assert (
        main(["validate", "login_tests/valid_login.robot", "login_tests/invalid_login.robot", "--repo", str(folder)])
        == 0
    )
    # Both suites are the only importers of CounterLibrary.py: each vouches for the other.
    assert main(["validate", "counting.robot", "counting_gherkin.robot", "--repo", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count(": OK") == 4, out


def test_a_file_does_not_vouch_for_its_own_imports(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    repo = copy_repo("root_suites", tmp_path)
    (repo / "lonely.robot").write_text(
        "*** Settings ***\nLibrary    Collections\n\n*** Test Cases ***\nT\n    Log    x\n", encoding="utf-8"
    )

    assert main(["validate", "lonely.robot", "counting.robot", "--repo", str(repo), "--tests-dir", "."]) == 1

    out = capsys.readouterr().out
    assert "lonely.robot: FAILED" in out
    assert "Library 'Collections' is not imported anywhere in this repository" in out
    assert "counting.robot: OK" in out


# --------------------------------------------------------------------------- keywords and conventions


def test_suite_local_keywords_and_variables_are_apart_and_values_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    repo = copy_repo("folder_suites", tmp_path)

    assert main(["keywords", "--repo", str(repo), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["keywords", "--repo", str(repo)]) == 0
    text = capsys.readouterr().out

    owners = {k["name"]: k["owner"] for k in data["keywords"]}
    # A `.robot` file without tests is a resource: its keywords and variables are importable.
    assert owners["Submit Credentials"] == "login_tests/resource.robot"
    assert data["variable_names"] == ["${SERVER}", "${VALID PASSWORD}", "${VALID USER}"]
    # A suite's own keywords and variables can only be copied, never imported.
    assert "Login Should Fail With" not in owners
    assert [(k["name"], k["owner"]) for k in data["suite_keywords"]] == [
        ("Login Should Fail With", "login_tests/invalid_login.robot")
    ]
    assert data["suite_variables"] == {"login_tests/invalid_login.robot": ["${WRONG PASSWORD}"]}
    assert "[Suite] login_tests/invalid_login.robot (local: copy" in text
    for value in ("fixture-password-value", "not-the-password", "localhost:7272"):
        assert value not in text and value not in json.dumps(data)


def test_conventions_are_derived_from_the_suites() -> None:
    repo = REPOS / "folder_suites"
    derived = derive_conventions(index_suites(repo, "login_tests"), "login_tests")

    assert derived is not None
    assert derived.startswith("Conventions derived from 2 existing suites")
    assert "- File names: snake_case (2/2, e.g. invalid_login, valid_login)." in derived
    assert "- Suite setting `Suite Setup` in 2/2 suites, most often `Open Login Page`." in derived
    assert "- Suite setting `Test Template` in 1/2 suites, most often `Login Should Fail With`." in derived
    assert "- Tags in use (by suites using them): login." in derived
    gherkin = derive_conventions(index_suites(REPOS / "root_suites", "."), ".")
    assert "Steps are written as plain keyword calls: 3/8 steps" in gherkin


def test_mr_description_says_conventions_were_derived() -> None:
    ticket = Ticket(key="CNT-1", summary="Count")
    spec = TestSpec(
        meta=SpecMeta(jira_key="CNT-1", title="Count"),
        rf=SpecRF(target_path="x.robot", test_cases=[SpecTestCase(name="T", steps=["x"])]),
    )
    test = GeneratedTest(target_path="x.robot", text="*** Test Cases ***\n")
    derived = TicketResult(key="CNT-1", status="created", conventions="derived from 2 suites (no convention document)")
    documented = TicketResult(key="CNT-1", status="created", conventions="doc/convention.md")

    assert "- Conventions derived from 2 suites (no convention document)" in render_mr_description(
        ticket, spec, test, ValidationResult(ok=True), derived
    )
    assert "Conventions" not in render_mr_description(ticket, spec, test, ValidationResult(ok=True), documented)


@pytest.mark.parametrize(
    ("config", "flags", "named"),
    [
        ("", ["--convention-doc", "doc/how-we-test.md"], "doc/how-we-test.md is configured"),
        ("convention_optional: false\n", [], "doc/convention.md is required"),
    ],
)
def test_a_required_convention_doc_that_is_missing_is_one_error_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture, config: str, flags: list[str], named: str
) -> None:
    repo = copy_repo("root_suites", tmp_path)
    (repo / ".jira2robot.yml").write_text(config, encoding="utf-8")

    assert run_offline(repo, tmp_path / "out", "CNT-1", *flags) == 2

    err = capsys.readouterr().err
    assert err.count("convention document") == 1 and named in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- scan under a deadline


def test_a_library_whose_import_hangs_is_named_and_the_scan_goes_on(tmp_path: Path) -> None:
    repo = copy_repo("sleeping_library", tmp_path)
    command = [sys.executable, "-m", "generator", "keywords", "--repo", str(repo), "--scan-timeout", "3", "--json"]

    # The library sleeps 600 s; the bound is what is tested, with a wide margin.
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    [hung] = [e for e in data["errors"] if "SleepingLibrary" in e]
    assert "did not finish within 3 s" in hung
    assert "Quick Keyword" in {k["name"] for k in data["keywords"]}


def test_the_scan_result_is_cached_by_content(tmp_path: Path) -> None:
    repo = copy_repo("root_suites", tmp_path)
    cache = tmp_path / "inventory-cache"

    first = build_inventory(repo, tests_dir=".", cache_dir=cache, scan_timeout=30)
    assert not last_build_from_cache()
    assert build_inventory(repo, tests_dir=".", cache_dir=cache, scan_timeout=30) == first
    assert last_build_from_cache()
    (repo / "CounterLibrary.py").write_text(
        (repo / "CounterLibrary.py").read_text(encoding="utf-8") + "\n    def reset(self) -> None:\n        pass\n",
        encoding="utf-8",
    )
    changed = build_inventory(repo, tests_dir=".", cache_dir=cache, scan_timeout=30)
    assert not last_build_from_cache()
    assert "Reset" in {k.name for k in changed.keywords} - {k.name for k in first.keywords}


# --------------------------------------------------------------------------- the repo's own Python


def test_a_repo_python_without_robot_framework_is_an_error_at_start(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    repo = copy_repo("root_suites", tmp_path)

    with pytest.raises(ConfigError, match="Robot Framework is not installed there"):
        build_settings({"repo": str(repo), "repo_python": str(tmp_path / "bare" / "bin" / "python")}, {})


def test_an_unsupported_robot_framework_is_an_error_at_start(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    old = tmp_path / "old_robot" / "robot"
    old.mkdir(parents=True)
    (old / "__init__.py").write_text("", encoding="utf-8")
    (old / "version.py").write_text("def get_version():\n    return '5.0.1'\n", encoding="utf-8")
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={old.parent} exec {sys.executable} "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    repo = copy_repo("root_suites", tmp_path)

    assert main(["keywords", "--repo", str(repo), "--repo-python", str(python)]) == 2

    err = capsys.readouterr().err
    assert "has Robot Framework 5.0.1; supported: >= 6.1, < 8.0" in err


OLD_ROBOT = "robotframework==6.1.1"

VENV_ONLY_LIBRARY = '''\
"""Installed only in the repo's own venv: the tool's environment cannot import it."""

from robot.version import get_version


def venv_only_keyword() -> None:
    pass


venv_only_keyword.__doc__ = f"Runs on Robot Framework {get_version()}."
'''


@pytest.fixture(scope="session")
def old_robot_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with Robot Framework 6.1.1 from the package registry, made once per session, plus a
    library that only exists there. Skipped, saying why, when the registry cannot be reached."""
    venv = tmp_path_factory.mktemp("repo-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", OLD_ROBOT],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if pip.returncode != 0:
        pytest.skip(f"package registry unreachable, cannot install {OLD_ROBOT}: {pip.stderr.strip()[-300:]}")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "VenvOnlyLibrary.py").write_text(VENV_ONLY_LIBRARY, encoding="utf-8")
    return python


def test_a_repo_pinning_rf_6_1_works_through_its_own_python(
    tmp_path: Path, old_robot_python: Path, capsys: pytest.CaptureFixture
) -> None:
    repo = copy_repo("root_suites", tmp_path)
    for name in ("venv_suite.robot", "venv_suite_2.robot"):
        (repo / name).write_text(
            "*** Settings ***\nLibrary    VenvOnlyLibrary\nLibrary    CounterLibrary.py\n\n"
            "*** Test Cases ***\nUses the venv\n    Venv Only Keyword\n    Press Button    +\n",
            encoding="utf-8",
        )
    python = ["--repo-python", str(old_robot_python)]

    # The scan ran in the venv: its RF version and its library are what the inventory shows.
    assert main(["keywords", "--repo", str(repo), "--json", *python]) == 0
    data = json.loads(capsys.readouterr().out)
    [venv_keyword] = [k for k in data["keywords"] if k["name"] == "Venv Only Keyword"]
    assert venv_keyword["doc"] == "Runs on Robot Framework 6.1.1."
    assert data["errors"] == []

    # The dryrun too: with the venv the suite is valid, with the tool's own Python it is not.
    suites = ["venv_suite.robot", "venv_suite_2.robot", "counting.robot"]
    assert main(["validate", *suites, "--repo", str(repo), *python]) == 0
    assert main(["validate", *suites, "--repo", str(repo)]) == 1
    assert "'VenvOnlyLibrary' cannot be imported" in capsys.readouterr().out

    # RF 6.1 reports no step to listeners: failures still point at the step's own line.
    (repo / "broken.robot").write_text(
        "*** Settings ***\nLibrary    CounterLibrary.py\n\n*** Test Cases ***\nT\n    Press Button    +\n"
        "    No Such Keyword\n",
        encoding="utf-8",
    )
    assert main(["validate", "broken.robot", "--repo", str(repo), *python]) == 1
    assert "broken.robot:7 [dryrun] No keyword with name 'No Such Keyword' found." in capsys.readouterr().out

    # And the whole run, with no other configuration.
    assert run_offline(repo, tmp_path / "out", "CNT-1", *python) == 0
    entry = ticket_entry(tmp_path / "out")
    assert entry["status"] == "created", entry["reason"]
    assert (repo / entry["test_path"]).is_file()


@pytest.mark.parametrize("name", ["root_suites", "folder_suites"])
def test_the_run_takes_its_suites_from_the_index_that_found_the_tests_folder(name: str, tmp_path: Path) -> None:
    """Detecting the tests folder indexes the whole repo; the run's suites are that index's share
    of the folder, exactly what indexing the folder itself gives."""
    repo = copy_repo(name, tmp_path)
    (repo / "outside.robot").write_text("*** Keywords ***\nHelper\n    No Operation\n", encoding="utf-8")
    settings = build_settings({"repo": str(repo)}, command="keywords")
    expected = index_suites(repo, settings.repo_config.tests_dir)
    assert expected and settings.suites() == expected


def test_a_tests_folder_reached_through_a_symlink_is_indexed_itself(tmp_path: Path) -> None:
    """The whole repo's walk follows no symlinked folder: its index cannot stand for such a folder."""
    repo = copy_repo("folder_suites", tmp_path)
    (repo / "linked").symlink_to("login_tests")
    whole = index_suites(repo, ".")
    assert suites_within(whole, repo, "linked") is None
    assert suites_within(whole, repo, "login_tests") == index_suites(repo, "login_tests") != []
    settings = build_settings({"repo": str(repo), "tests_dir": "linked"}, command="keywords")
    suites = settings.suites()
    assert suites and all(s.path.startswith("linked/") for s in suites)
