"""The shipped sample test repository: it runs for real, follows its own convention, has keywords to reuse.

Every other test uses this repo as its fixture and the demo copies it, so a broken
suite or a convention violation here would teach the writer the wrong thing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult, get_resource_model
from robot.api import TestSuiteBuilder as SuiteBuilder  # aliased: pytest would collect Test*
from robot.libdoc import LibraryDocumentation
from robot.running import ResourceFile

from generator.config.repo_file import load_repo_config
from generator.standin.files import SAMPLE_REPO_DIR


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sample") / "repo"
    shutil.copytree(SAMPLE_REPO_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def run_robot(repo: Path, output: Path, *extra: str, options: list[str] | None = None) -> tuple[int, str]:
    """Run robot in the repo with the options of its `.jira2robot.yml` (or `options`), as the validator does."""
    config = load_repo_config(repo)
    if options is None:
        options = [*config.robot_options]
        for folder in config.pythonpath:
            options += ["--pythonpath", folder]
    reports = ["--output", str(output), "--log", "NONE", "--report", "NONE", "--consolecolors", "off"]
    proc = subprocess.run(
        [sys.executable, "-m", "robot", *extra, *options, *reports, config.tests_dir],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_config_points_at_existing_files(repo: Path) -> None:
    config = load_repo_config(repo)
    assert config.robot_options == ["-v", "ENV:demo"]
    assert (repo / config.tests_dir).is_dir()
    assert (repo / config.convention_doc).is_file()
    assert config.confluence_query == "architecture"
    assert all((repo / p).is_dir() for p in config.pythonpath)


@pytest.mark.parametrize("mode", [["--dryrun"], []], ids=["dryrun", "real-run"])
def test_suites_pass(repo: Path, tmp_path: Path, mode: list[str]) -> None:
    output = tmp_path / "output.xml"
    code, console = run_robot(repo, output, *mode)
    assert code == 0, console
    stats = ExecutionResult(str(output)).statistics.total
    assert stats.failed == 0
    assert stats.passed >= 12


def test_dryrun_needs_the_repo_options(repo: Path, tmp_path: Path) -> None:
    """Without `-v ENV:demo` the library and variables cannot load: the validator must pass the options."""
    code, console = run_robot(repo, tmp_path / "output.xml", "--dryrun", options=["--pythonpath", "libraries"])
    assert code != 0
    assert "ENV" in console


def test_keyword_inventory(repo: Path) -> None:
    resource_keywords = []
    for path in sorted((repo / "resources").glob("*.resource")):
        resource = ResourceFile.from_model(get_resource_model(path, data_only=True))
        resource_keywords += [(path.name, kw.name, kw.doc) for kw in resource.keywords]
    library = LibraryDocumentation(str(repo / "libraries" / "ShopLibrary.py"))
    names = [name for _, name, _ in resource_keywords] + [kw.name for kw in library.keywords]

    assert len(names) >= 40
    assert len(set(map(str.lower, names))) == len(names), "keyword names must be unique"
    assert [name for _, name, doc in resource_keywords if not doc] == []
    assert [kw.name for kw in library.keywords if not kw.doc] == []
    assert {
        "Open Shop Session",
        "Login As",
        'The user "${user}" is logged in',
        'Add "${quantity}" Of "${product}" To Cart',
        "Cart Should Contain",
        "Checkout With Card",
        "Order Status Should Be",
        "Apply Discount Code",
        "Login Should Fail With Message",
    } <= set(names)
    assert sum("${" in name for name in names) >= 8, "embedded-argument keywords"
    uses_env = (repo / "resources" / "common.resource").read_text(encoding="utf-8")
    assert "${ENV}" in uses_env


def test_suites_follow_the_convention(repo: Path) -> None:
    pending, suites = [SuiteBuilder().build(str(repo / "tests"))], []
    while pending:
        suite = pending.pop()
        pending += suite.suites
        suites += [suite] if suite.tests else []
    assert len(suites) >= 3
    assert {s.source.parent.name for s in suites} >= {"login", "cart", "orders"}
    for suite in suites:
        component = suite.source.parent.name
        assert [(i.type, i.name) for i in suite.resource.imports] == [("RESOURCE", "../../resources/shop.resource")]
        assert (suite.setup.name, suite.teardown.name) == ("Open Shop Session", "Close Shop Session")
        for test in suite.tests:
            assert test.doc, f"{suite.source.name}: {test.name} has no [Documentation]"
            assert component in test.tags, f"{test.name}: missing component tag {component}"
            assert any(re.fullmatch(r"QA-\d+", tag) for tag in test.tags), f"{test.name}: missing Jira key tag"
            assert all(k.name.split()[0] in ("Given", "When", "Then", "And") for k in test.body), test.name
    convention = (repo / "doc" / "convention.md").read_text(encoding="utf-8")
    for rule in ("<jira-key-lowercase>_<slug>.robot", "[Documentation]", "Open Shop Session", "shop.resource", "Sleep"):
        assert rule in convention
