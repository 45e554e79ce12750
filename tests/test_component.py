"""The CI/CD component (templates/generate.yml), the project pipeline and the job image recipe.

GitLab only reports a broken component when someone's pipeline fails to start, so these
tests catch it first: both documents of the template and `.gitlab-ci.yml` are validated
against GitLab's own CI JSON schema (vendored in tests/data from the `check-jsonschema` PyPI
package, which copies it from gitlab-org/gitlab), inputs are checked for consistency, the
variables the job sets are read back through the real `generator.config`, and, where
gitlab-ci-local can run, the job itself runs in shell mode against the GitLab double.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

from generator.config import build_settings
from tests.servers.fake_gitlab import FakeGitLab

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "generate.yml"
PIPELINE = ROOT / ".gitlab-ci.yml"
SCHEMA = json.loads((Path(__file__).parent / "data" / "gitlab-ci-schema.json").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\$\[\[\s*inputs\.(\w+)\s*\]\]")
GITLAB_CI_LOCAL = "4.72.0"  # newer releases need Node.js 22 (Set.prototype.union)


class _CILoader(yaml.SafeLoader):
    """YAML loader that knows GitLab's `!reference` tag."""


_CILoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


def _documents(path: Path) -> list[Any]:
    return list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_CILoader))


def _inputs() -> dict[str, dict[str, Any]]:
    return _documents(TEMPLATE)[0]["spec"]["inputs"]


def _sample(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Input values a consumer could pass: the defaults, then the overrides."""
    values = {name: spec.get("default") for name, spec in _inputs().items()}
    values.update(overrides or {})
    return values


def _interpolate(node: Any, values: dict[str, Any]) -> Any:
    """GitLab's interpolation: a lone placeholder keeps the input's type, an embedded one is text."""
    if isinstance(node, dict):
        return {_interpolate(k, values): _interpolate(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(item, values) for item in node]
    if isinstance(node, str):
        whole = PLACEHOLDER.fullmatch(node.strip())
        if whole:
            return values[whole.group(1)]

        def text(match: re.Match[str]) -> str:
            value = values[match.group(1)]
            return str(value).lower() if isinstance(value, bool) else str(value)

        return PLACEHOLDER.sub(text, node)
    return node


def _jobs(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return _interpolate(_documents(TEMPLATE)[1], _sample(overrides))


def _schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# --------------------------------------------------------------------------- schema


def test_template_has_a_spec_header_and_one_job_document() -> None:
    documents = _documents(TEMPLATE)
    assert len(documents) == 2
    assert set(documents[0]) == {"spec"}
    assert _schema_errors(documents[0]) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"parallel": 3, "llm": "offline", "publish": "none", "recreate": True, "jira_keys": "QA-1 QA-2"},
        {"jql": 'project = QA AND status = "Ready for QA"', "robot_options": "-v env:staging"},
    ],
    ids=["defaults", "sharded-offline", "backlog"],
)
def test_interpolated_job_document_is_valid_gitlab_ci(overrides: dict[str, Any]) -> None:
    jobs = _jobs(overrides)
    assert _schema_errors(jobs) == []
    assert set(jobs) == {"jira2robot-generate", "jira2robot-merge-reports"}


def test_project_pipeline_is_valid_gitlab_ci() -> None:
    (pipeline,) = _documents(PIPELINE)
    assert _schema_errors(pipeline) == []
    assert pipeline["stages"] == ["lint", "test", "build", "self-test", "release"]


# --------------------------------------------------------------------------- inputs


def test_every_placeholder_is_declared_and_every_input_is_used() -> None:
    body = TEMPLATE.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    used = set(PLACEHOLDER.findall(body))
    assert used == set(_inputs())
    assert body.count("$[[") == len(PLACEHOLDER.findall(body)), "a malformed $[[ ... ]] placeholder"


def test_input_types_defaults_options_and_regexes_agree() -> None:
    python_types = {"string": str, "number": (int, float), "boolean": bool, "array": list}
    for name, spec in _inputs().items():
        kind = spec.get("type", "string")
        default = spec["default"]
        assert spec.get("description"), f"{name}: the CI/CD Catalog shows descriptions"
        assert isinstance(default, python_types[kind]), f"{name}: default {default!r} is not a {kind}"
        if kind == "number":
            assert not isinstance(default, bool), f"{name}: a boolean is not a number"
        if "options" in spec:
            assert default in spec["options"], f"{name}: default {default!r} not among {spec['options']}"
        if "regex" in spec:
            assert re.search(spec["regex"], default), f"{name}: default {default!r} fails its own regex"


def test_job_variables_reach_the_settings_under_the_names_config_reads(tmp_path: Path) -> None:
    values = {
        "jira_keys": "QA-7, QA-8",
        "max_tickets": 12,
        "tests_dir": "qa/tests",
        "convention_doc": "docs/how-we-test.md",
        "confluence_query": "payments",
        "robot_options": "-v env:staging",
        "planner_model": "planner-x",
        "writer_model": "writer-y",
        "llm": "offline",
        "publish": "none",
        "labels": "qa,generated",
        "branch_prefix": "bot/",
        "max_open_mrs": 4,
        "max_new_mrs": 2,
        "max_attempts": 5,
        "concurrency": 3,
    }
    job = _jobs(values)["jira2robot-generate"]
    environ = {name: str(value) for name, value in job["variables"].items()}
    environ |= {"CI_PROJECT_DIR": str(tmp_path), "JIRA_MCP_URL": "http://127.0.0.1:9/mcp"}
    environ.pop("JIRA2ROBOT_REPO_PYTHON")  # /tmp/repo-venv is what the install step creates in a job
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "how-we-test.md").write_text("# How we test\n")  # configured, so it must exist

    settings = build_settings({}, environ, command="run")

    config = settings.repo_config
    assert settings.keys == ["QA-7", "QA-8"]
    assert settings.max_tickets == 12
    assert (settings.llm, settings.publish) == ("offline", "none")
    assert (settings.model_planner, settings.model_writer) == ("planner-x", "writer-y")
    assert (config.tests_dir, config.convention_doc, config.confluence_query) == (
        "qa/tests",
        "docs/how-we-test.md",
        "payments",
    )
    assert config.robot_options == ["-v", "env:staging"]
    assert config.merge_request.labels == ["qa", "generated"]
    assert config.merge_request.branch_prefix == "bot/"
    limits = config.limits
    assert (limits.max_open_mrs, limits.max_new_mrs, limits.max_attempts, limits.concurrency) == (4, 2, 5, 3)
    assert settings.output_dir == (Path.cwd() / "generated").resolve()


def test_empty_inputs_leave_settings_to_repo_config_and_defaults(tmp_path: Path) -> None:
    job = _jobs({"jira_keys": "QA-1", "llm": "offline"})["jira2robot-generate"]
    environ = {name: str(value) for name, value in job["variables"].items()}
    environ |= {"CI_PROJECT_DIR": str(tmp_path), "JIRA_MCP_URL": "http://127.0.0.1:9/mcp"}
    environ |= {"CI_SERVER_URL": "https://gitlab.example.com", "CI_PROJECT_ID": "7", "GITLAB_TOKEN": "t"}
    assert environ.pop("JIRA2ROBOT_REPO_PYTHON") == "/tmp/repo-venv/bin/python"  # created by the install step
    (tmp_path / ".jira2robot.yml").write_text("planner_model: from-repo\n", encoding="utf-8")

    settings = build_settings({}, environ, command="run")

    assert settings.jql is None
    assert settings.model_planner == "from-repo"
    assert settings.repo_config.robot_options == []


def test_rules_run_only_with_tickets_and_merge_job_only_when_sharded() -> None:
    jobs = _jobs({"parallel": 4})
    generate, merge = jobs["jira2robot-generate"], jobs["jira2robot-merge-reports"]
    assert generate["parallel"] == 4
    (rule,) = generate["rules"]
    assert rule["if"].startswith("($JIRA_KEYS || $JIRA_JQL) && $CI_PIPELINE_SOURCE =~ /^(web|api|trigger|schedule")
    assert merge["variables"]["JIRA2ROBOT_SHARDS"] == 4
    assert merge["rules"][0]["if"].endswith('&& $JIRA2ROBOT_SHARDS != "1"')
    assert merge["needs"] == [{"job": "jira2robot-generate", "artifacts": True}]
    assert generate["artifacts"]["when"] == "always"
    assert generate["artifacts"]["reports"]["junit"][0] == "generated/junit.xml"


# --------------------------------------------------------------------------- project pipeline


def test_self_test_includes_this_commits_component_with_declared_inputs() -> None:
    (pipeline,) = _documents(PIPELINE)
    (include,) = [i for i in pipeline["include"] if "component" in i]
    assert include["component"] == "$CI_SERVER_FQDN/$CI_PROJECT_PATH/generate@$CI_COMMIT_SHA"
    declared = _inputs()
    for name, value in include["inputs"].items():
        assert name in declared, f"self-test passes unknown input {name!r}"
        kind = declared[name].get("type", "string")
        assert isinstance(value, {"string": str, "number": int, "boolean": bool}[kind]), name
        assert value in declared[name].get("options", [value]), name
    assert include["inputs"]["publish"] == "none" and include["inputs"]["llm"] == "offline"


def test_release_runs_on_semantic_version_tags_only() -> None:
    (pipeline,) = _documents(PIPELINE)
    condition = pipeline["release"]["rules"][0]["if"]
    pattern = re.search(r"=~ /(.+)/$", condition).group(1)
    matches = {tag: bool(re.search(pattern, tag)) for tag in ("v1.2.3", "1.2.3", "v1.2", "main", "v1.2.3-rc1")}
    assert matches == {"v1.2.3": True, "1.2.3": True, "v1.2": False, "main": False, "v1.2.3-rc1": False}
    assert pipeline["release"]["release"]["tag_name"] == "$CI_COMMIT_TAG"


# --------------------------------------------------------------------------- job image


def test_job_image_is_small_non_root_and_entrypoint_free() -> None:
    dockerfile = (ROOT / "ci" / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert froms and all(image.startswith("python:3.11-slim") for image in froms)
    assert re.search(r"^USER (?!root|0\b)\S+", dockerfile, re.MULTILINE)
    assert re.search(r"^ENTRYPOINT \[\]$", dockerfile, re.MULTILINE)
    assert "--constraint /src/ci/constraints.txt" in dockerfile
    assert "git" in re.search(r"apt-get install[^\n]*", dockerfile).group(0)


def test_image_constraints_pin_every_dependency_within_its_range() -> None:
    import tomllib

    pins: dict[str, str] = {}
    for line in (ROOT / "ci" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = re.sub(r"[-_.]+", "-", dependency.name).lower()
        assert name in pins, f"{name} is not pinned in ci/constraints.txt (see its header to refresh it)"
        assert dependency.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {dependency.specifier}"


# --------------------------------------------------------------------------- run the job locally


@pytest.fixture(scope="module")
def gitlab_ci_local(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A working gitlab-ci-local command, installed from the npm registry into a temp folder."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("gitlab-ci-local needs Node.js and npm, which are not installed")
    if not shutil.which("rsync"):
        pytest.skip("gitlab-ci-local copies the checkout with rsync, which is not installed (apt-get install rsync)")
    if not shutil.which("git"):
        pytest.skip("gitlab-ci-local needs git, which is not installed")
    prefix = tmp_path_factory.mktemp("gitlab-ci-local")
    install = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"gitlab-ci-local@{GITLAB_CI_LOCAL}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if install.returncode != 0:
        pytest.skip(f"npm could not install gitlab-ci-local@{GITLAB_CI_LOCAL}: {install.stderr.strip()[-300:]}")
    command = [node, str(prefix / "node_modules" / "gitlab-ci-local" / "dist" / "index.js")]
    probe = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"gitlab-ci-local does not run on this Node.js: {probe.stderr.strip()[-300:]}")
    return command


def _consumer_repo(path: Path) -> None:
    """A test repository that includes the component the way a consumer does (local include)."""
    shutil.copytree(ROOT / "generator" / "data" / "sample_repo", path)
    shutil.copytree(ROOT / "generator" / "data" / "tickets", path / "exports")
    (path / "templates").mkdir()
    shutil.copy(TEMPLATE, path / "templates" / "generate.yml")
    consumer = {
        "include": [
            {
                "local": "templates/generate.yml",
                "inputs": {
                    "jira_keys": "QA-101 QA-102",
                    "llm": "offline",
                    "publish": "gitlab",
                    "parallel": 2,
                    "pipeline_sources": "push",
                    "install": "echo the sample repository needs only Robot Framework",
                    "repo_python": "",
                    "extra_args": "--tickets-dir exports",
                },
            }
        ]
    }
    (path / ".gitlab-ci.yml").write_text(yaml.safe_dump(consumer, sort_keys=False), encoding="utf-8")
    git = ["git", "-C", str(path), "-c", "user.name=QA", "-c", "user.email=qa@example.com"]
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "sample"],
        ["remote", "add", "origin", "https://gitlab.example.com/qa/shop-tests.git"],
        ["update-ref", "refs/remotes/origin/main", "HEAD"],
        ["symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"],
    ):
        subprocess.run([*git, *args], check=True, capture_output=True)


def test_component_job_runs_sharded_and_opens_draft_mrs(gitlab_ci_local: list[str], tmp_path: Path) -> None:
    repo = tmp_path / "shop-tests"
    _consumer_repo(repo)
    with FakeGitLab() as fake:
        variables = {
            "CI_PROJECT_DIR": str(repo),
            "CI_SERVER_URL": fake.url,
            "CI_PROJECT_ID": str(fake.project_id),
            "CI_DEFAULT_BRANCH": "main",
            "GITLAB_TOKEN": fake.token,
        }
        # The job must see only what the pipeline gives it, not this machine's settings.
        leaks = ("JIRA", "OPENAI", "GITLAB", "CI_", "OUTPUT_DIR")
        env = {name: value for name, value in os.environ.items() if not name.startswith(leaks)}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        run = subprocess.run(
            [
                *gitlab_ci_local,
                "--force-shell-executor",
                "--no-color",
                *(arg for name, value in variables.items() for arg in ("--variable", f"{name}={value}")),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
            cwd=repo,
        )
        log = run.stdout + run.stderr
        assert fake.token not in log.replace(f"GITLAB_TOKEN={fake.token}", "")
        assert run.returncode == 0, log[-4000:]
        assert "jira2robot-generate: [1/2]" in log and "jira2robot-generate: [2/2]" in log
        assert "jira2robot-merge-reports" in log

        shards = sorted(p.parent.name for p in (repo / "generated").glob("shard-*/report.json"))
        assert shards == ["shard-1", "shard-2"]
        merged = json.loads((repo / "generated" / "report.json").read_text(encoding="utf-8"))
        statuses = {t["key"]: t["status"] for t in merged["tickets"]}
        assert statuses == {"QA-101": "created", "QA-102": "created"}
        assert sorted(mr.source_branch for mr in fake.mrs.values()) == ["jira2robot/QA-101", "jira2robot/QA-102"]
        assert all(mr.title.startswith("Draft: ") for mr in fake.mrs.values())
