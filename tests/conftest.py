"""Shared fixtures: a fresh copy of the sample test repo, the embedded Atlassian MCP server
serving the bundled tickets, and the OpenAI-compatible test server. All real, on 127.0.0.1."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from robot.parsing.parser import parser as parser_module

from generator.standin.server import ServedAtlassian
from tests.servers.fake_openai import FakeOpenAI

DATA = Path(__file__).resolve().parents[1] / "generator" / "demo" / "data"
TICKETS = DATA / "tickets"
PAGES = DATA / "confluence"


def missing_tool(reason: str) -> NoReturn:
    """A test cannot run because a tool it drives is not installed: skip on a developer's machine,
    fail when env `CI` is set. CI installs every tool (ci/test.sh), so a missing one there is a
    broken install step, and a skip would hide it behind a green pipeline."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: ci/test.sh should have installed it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def clean_env() -> Iterator[None]:
    """No CI, Jira, GitLab or LLM variables of the machine leak in; whatever a test sets is undone."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "JIRA", "CI_", "GITLAB_", "OUTPUT_DIR")):
            del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(DATA / "sample_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


@pytest.fixture(scope="session")
def atlassian() -> Iterator[ServedAtlassian]:
    with ServedAtlassian(TICKETS, PAGES) as served:
        yield served


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def offline_args(repo: Path, out: Path) -> list[str]:
    """`run` arguments for the offline writer over the bundled tickets and pages."""
    return [
        "--llm",
        "offline",
        "--tickets-dir",
        str(TICKETS),
        "--pages-dir",
        str(PAGES),
        "--repo",
        str(repo),
        "--output-dir",
        str(out),
    ]


def without_provenance(text: str) -> list[str]:
    """The words of a generated file without its provenance (the `Jira Ticket`/`Jira Criterion`
    metadata and `ac:` tags every published file carries): what the writer itself wrote."""
    from robot.api import get_model
    from robot.api.parsing import Metadata, ModelTransformer, Tags

    from generator.gather.criteria import TAG_PREFIX
    from generator.write.provenance import is_provenance

    class Strip(ModelTransformer):
        def visit_Metadata(self, node: Metadata) -> Metadata | None:
            return None if is_provenance(node) else node

        def visit_Tags(self, node: Tags) -> Tags | None:
            values = [v for v in node.values if not v.startswith(TAG_PREFIX)]
            return Tags.from_params(values) if values else None

    model = get_model(text)
    Strip().visit(model)
    out = io.StringIO()
    model.save(out)
    return out.getvalue().split()


@pytest.fixture
def robot_parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, bool]]:
    """Every parse Robot Framework's parser does from now on, as (source, data_only): counted at
    its own `_get_model`, so a test sees each parse whichever of our modules asked for it."""
    seen: list[tuple[object, bool]] = []
    real = parser_module._get_model

    def counting(token_getter, source, data_only, curdir, lang):  # robot's own function, counted
        seen.append((source, data_only))
        return real(token_getter, source, data_only, curdir, lang)

    monkeypatch.setattr(parser_module, "_get_model", counting)
    return seen
