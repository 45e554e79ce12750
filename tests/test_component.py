"""The CI/CD component (templates/generate.yml), the project pipeline and the job image recipe.

GitLab only reports a broken component when someone's pipeline fails to start, so these
tests catch it first: both documents of the template and `.gitlab-ci.yml` are validated
against GitLab's own CI JSON schema (vendored in tests/data from the `check-jsonschema` PyPI
package, which copies it from gitlab-org/gitlab), inputs are checked for consistency, the
variables the job sets are read back through the real `generator.config.repo_file`, and, where
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
from packaging.version import Version

from generator.config.settings import build_settings
from tests.conftest import missing_tool
from tests.servers.fake_gitlab import FakeGitLab

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "generate.yml"
PIPELINE = ROOT / ".gitlab-ci.yml"
SCHEMA = json.loads((Path(__file__).parent / "data" / "gitlab-ci-schema.json").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\$\[\[\s*inputs\.(\w+)\s*\]\]")
COMPONENT = re.compile(r"\$\[\[\s*component\.(\w+)\s*\]\]")
# What GitLab fills in for `include: component: ...@1.2.3`; by SHA or branch, version is "".
CONTEXT = {"version": "1.2.3", "sha": "0123456789abcdef0123456789abcdef01234567"}
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


def _interpolate(node: Any, values: dict[str, Any], context: dict[str, str] = CONTEXT) -> Any:
    """GitLab's interpolation: a lone placeholder keeps the input's type, an embedded one is text.

    Component context (`$[[ component.version ]]`) is text, as for a release include.
    """
    if isinstance(node, dict):
        return {_interpolate(k, values, context): _interpolate(v, values, context) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(item, values, context) for item in node]
    if isinstance(node, str):
        whole = PLACEHOLDER.fullmatch(node.strip())
        if whole:
            return values[whole.group(1)]

        def text(match: re.Match[str]) -> str:
            value = values[match.group(1)]
            return str(value).lower() if isinstance(value, bool) else str(value)

        return COMPONENT.sub(lambda m: context[m.group(1)], PLACEHOLDER.sub(text, node))
    return node


def _jobs(overrides: dict[str, Any] | None = None, context: dict[str, str] = CONTEXT) -> dict[str, Any]:
    return _interpolate(_documents(TEMPLATE)[1], _sample(overrides), context)


def _schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# --------------------------------------------------------------------------- schema


def test_template_has_a_spec_header_and_one_job_document() -> None:
    documents = _documents(TEMPLATE)
    assert len(documents) == 2
    assert set(documents[0]) == {"spec"}
    assert _schema_errors(documents[0]) == []
    # The CI/CD Catalog shows spec:description on the component's page (the schema caps it at 256).
    assert "draft merge request" in documents[0]["spec"]["description"]


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
    context = COMPONENT.findall(body)
    assert body.count("$[[") == len(PLACEHOLDER.findall(body)) + len(context), "a malformed $[[ ... ]] placeholder"
    # GitLab only fills in the component context fields the header declares.
    assert set(context) == set(_documents(TEMPLATE)[0]["spec"]["component"]) == {"version", "sha"}
    header = TEMPLATE.read_text(encoding="utf-8").split("\n---\n", 1)[0]
    assert not COMPONENT.search(header), "GitLab does not interpolate component context in input defaults"


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
    never, _unreleased, rule = generate["rules"]
    assert never == {"if": "$CI_COMMIT_BRANCH =~ $JIRA2ROBOT_OWN_BRANCHES", "when": "never"}
    assert merge["rules"][0] == never
    assert rule["if"].startswith("($JIRA_KEYS || $JIRA_JQL) && $CI_PIPELINE_SOURCE =~ /^(web|api|trigger|schedule")
    assert merge["variables"]["JIRA2ROBOT_SHARDS"] == 4
    assert all(r["if"].endswith('&& $JIRA2ROBOT_SHARDS != "1"') for r in merge["rules"][1:])
    assert merge["needs"] == [{"job": "jira2robot-generate", "artifacts": True}]
    assert generate["artifacts"]["when"] == "always"
    assert generate["artifacts"]["reports"]["junit"][0] == "generated/junit.xml"


def _gitlab_pattern(value: str) -> re.Pattern[str]:
    """How GitLab reads a regex held in a variable: `/.../flags`, slashes inside allowed (greedy)."""
    found = re.fullmatch(r"/(?P<regexp>.*)/(?P<flags>[ismU]*)", value)
    assert found, f"{value!r} is not a /pattern/"
    return re.compile(found["regexp"])


@pytest.mark.parametrize("prefix", ["jira2robot/", "bots/qa.gen/"])
def test_the_job_never_runs_on_the_bots_own_branches(prefix: str) -> None:
    jobs = _jobs({"branch_prefix": prefix})
    for job in jobs.values():
        pattern = _gitlab_pattern(job["variables"]["JIRA2ROBOT_OWN_BRANCHES"])
        assert pattern.search(f"{prefix}QA-12")
        assert not pattern.search("main") and not pattern.search(f"feature/{prefix}QA-12")
    assert jobs["jira2robot-generate"]["variables"]["JIRA2ROBOT_BRANCH_PREFIX"] == prefix


def test_publishing_job_is_never_interrupted_serialised_and_caches_pip() -> None:
    job = _jobs({})["jira2robot-generate"]
    assert job["interruptible"] is False
    assert job["resource_group"] == "jira2robot-generate-${CI_NODE_INDEX}"
    assert job["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"
    assert job["cache"] == [
        {"key": "jira2robot-pip", "paths": [".cache/pip"]},
        {"key": "jira2robot-repo-cache", "paths": [".cache/jira2robot"]},
    ]
    assert job["variables"]["XDG_CACHE_HOME"] == "$CI_PROJECT_DIR/.cache"  # where the inventory cache lives
    assert "--no-cache-dir" not in _inputs()["install"]["default"]
    assert "PIP_NO_CACHE_DIR" not in (ROOT / "ci" / "Dockerfile").read_text(encoding="utf-8").split("FROM")[-1]


def test_job_image_is_the_components_own_release() -> None:
    jobs = _jobs({"image_repository": "registry.example.com/qa/jira2robot"})
    assert {job["image"] for job in jobs.values()} == {"$JIRA2ROBOT_IMAGE"}
    assert {job["variables"]["JIRA2ROBOT_IMAGE"] for job in jobs.values()} == {
        "registry.example.com/qa/jira2robot:1.2.3"
    }
    assert re.fullmatch(_inputs()["image_repository"]["regex"], "registry.example.com/qa/jira2robot")
    assert not re.fullmatch(_inputs()["image_repository"]["regex"], "registry.example.com/qa/jira2robot:latest")


def test_without_a_released_version_the_jobs_run_the_image_of_the_components_commit() -> None:
    """By SHA, branch or from outside the Catalog, `component.version` is empty: an image
    `…/jira2robot:` cannot be pulled, so a rule before the ordinary one (same condition, plus
    the empty version) switches to the image this project's pipeline pushed for that commit."""
    unreleased = CONTEXT | {"version": ""}
    for name, job in _jobs({"image_repository": "registry.example.com/qa/jira2robot"}, unreleased).items():
        assert job["variables"]["JIRA2ROBOT_COMPONENT_VERSION"] == "", name
        _never, fallback, ordinary = job["rules"]
        assert fallback["if"] == '$JIRA2ROBOT_COMPONENT_VERSION == "" && ' + ordinary["if"], name
        assert fallback.get("when") == ordinary.get("when"), name
        assert fallback["variables"] == {"JIRA2ROBOT_IMAGE": f"registry.example.com/qa/jira2robot:{CONTEXT['sha']}"}
        assert _schema_errors({name: job}) == [], name
    # This project's pipeline pushes that image for every commit it builds.
    (pipeline,) = _documents(PIPELINE)
    assert pipeline["variables"]["IMAGE"] == "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"
    assert 'docker push "$IMAGE"' in pipeline["build-image"]["script"]


@pytest.mark.parametrize("version", ["", "1.2.3"])
def test_the_job_log_says_which_image_runs_when_unreleased(version: str) -> None:
    """The generate job's first step, run in a shell as the runner does: silent for a release,
    and for an unreleased include it names the image and how to choose another."""
    notice = _jobs({}, CONTEXT | {"version": version})["jira2robot-generate"]["script"][0]
    env = {"PATH": os.environ["PATH"], "JIRA2ROBOT_COMPONENT_VERSION": version}
    env["JIRA2ROBOT_IMAGE"] = f"registry.example.com/qa/jira2robot:{version or CONTEXT['sha']}"
    done = subprocess.run(["sh", "-c", notice], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if version:
        assert done.stdout == ""
    else:
        assert f"runs registry.example.com/qa/jira2robot:{CONTEXT['sha']}" in done.stdout
        assert "pin a release" in done.stdout and "jira2robot-generate: image: " in done.stdout


def test_artifacts_quoting_jira_text_are_for_members_by_default() -> None:
    """Specs, tests and report.json quote tickets and Confluence pages: on a public project the
    GitLab default (`all`) would hand them to anyone."""
    for overrides, access in (({}, "developer"), ({"artifacts_access": "maintainer"}, "maintainer")):
        jobs = _jobs(overrides)
        assert {job["artifacts"]["access"] for job in jobs.values()} == {access}
        assert _schema_errors(jobs) == []


@pytest.mark.parametrize("requirements", [None, "robotframework==6.1.1\nrequests\n"])
def test_default_install_pins_robot_framework_to_the_images_unless_the_repo_decides(
    requirements: str | None, tmp_path: Path
) -> None:
    """The default `install` run in a shell, with pip replaced by `echo` to show what it would
    install: the image's Robot Framework without requirements.txt, the repo's file with one."""
    import robot

    if requirements is not None:
        (tmp_path / "requirements.txt").write_text(requirements, encoding="utf-8")
    command = _inputs()["install"]["default"].replace("/tmp/repo-venv/bin/pip install", "echo pip install")
    command = command.replace("python -m venv /tmp/repo-venv", "true")
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # the tool's python
    done = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = f"robotframework=={robot.__version__}" if requirements is None else "robotframework -r requirements.txt"
    assert done.stdout.strip() == f"pip install {expected}"


# --------------------------------------------------------------------------- docs

DOCS = ROOT / "docs" / "component.md"
TABLE = re.compile(r"(<!-- inputs:start -->\n)(.*?)(<!-- inputs:end -->)", re.S)


def _inputs_table() -> str:
    """The inputs reference of docs/component.md, rendered from the template's spec header."""

    def cell(text: str) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    rows = ["| Input | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for name, spec in _inputs().items():
        default = spec["default"]
        shown = json.dumps(default) if not isinstance(default, str) else (f"`{cell(default)}`" if default else '`""`')
        meaning = cell(spec["description"])
        if "options" in spec:
            meaning += " One of: " + ", ".join(f"`{option}`" for option in spec["options"]) + "."
        rows.append(f"| `{name}` | {spec.get('type', 'string')} | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


def test_docs_inputs_table_is_generated_from_the_template() -> None:
    """`UPDATE_DOCS=1 pytest tests/test_component.py -k inputs_table` rewrites the table."""
    text = DOCS.read_text(encoding="utf-8")
    found = TABLE.search(text)
    assert found, "docs/component.md lost its <!-- inputs:start --> / <!-- inputs:end --> markers"
    if os.environ.get("UPDATE_DOCS") == "1":
        DOCS.write_text(TABLE.sub(lambda m: m.group(1) + _inputs_table() + m.group(3), text), encoding="utf-8")
        found = TABLE.search(DOCS.read_text(encoding="utf-8"))
    assert found.group(2) == _inputs_table(), "the inputs table is stale: run with UPDATE_DOCS=1"


def test_configuration_example_is_a_valid_repo_config() -> None:
    from generator.config.repo_file import RepoConfig

    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    config = RepoConfig.model_validate(yaml.safe_load(example))
    assert set(yaml.safe_load(example)) == set(RepoConfig.model_fields)  # every key documented
    assert config.merge_request.dashboard is False


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


def test_self_test_runs_this_commits_image() -> None:
    (pipeline,) = _documents(PIPELINE)
    for job in ("self-test-generate", "self-test-merge-reports", "self-test-check"):
        assert pipeline[job]["image"] == "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA", job


def test_release_publishes_with_glab_only_after_the_versioned_image_is_pushed() -> None:
    (pipeline,) = _documents(PIPELINE)
    release, tag_image = pipeline["release"], pipeline["tag-image"]
    assert release["image"].startswith("registry.gitlab.com/gitlab-org/cli:")
    assert release["needs"] == ["tag-image"]
    assert '"$CI_REGISTRY_IMAGE:$tag"' in tag_image["script"][-1] and '"$CI_COMMIT_TAG"' in tag_image["script"][-1]
    for job in (release, tag_image):
        assert job["interruptible"] is False and job["resource_group"] == "release"
    # The release refuses a template whose default image path is not this project's registry.
    check = release["script"][0]
    template = TEMPLATE.read_text(encoding="utf-8")
    for project, ok in (("qa-tools/jira2robot", True), ("someone/fork", False)):
        done = subprocess.run(
            ["sh", "-c", check],
            env={"PATH": os.environ["PATH"], "CI_PROJECT_PATH": project},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert (done.returncode == 0) is ok, done.stderr
    assert "      default: $CI_REGISTRY/qa-tools/jira2robot\n" in template


RELEASE_TAGS = ["1.2.3", "0.1.0", "10.20.30", "1.0.0-rc.1", "2.0.0-beta.2", "1.0.0-alpha.1"]
NOT_RELEASE_TAGS = ["v1.2.3", "V1.2.3", "1.2", "1.2.3.4", "01.2.3", "main", "1.2.3-", "release-1.2.3", "1.2.3 "]


def test_release_tag_becomes_the_package_version(tmp_path: Path) -> None:
    import tomllib

    (pipeline,) = _documents(PIPELINE)
    assert 'sh ci/stamp-version.sh "$CI_COMMIT_TAG"' in pipeline["build-image"]["script"][0]
    script = ROOT / "ci" / "stamp-version.sh"
    for tag, version in (("2.3.4", "2.3.4"), ("1.3.0-rc.1", "1.3.0rc1")):
        shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
        done = subprocess.run(["sh", str(script), tag], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        stamped = tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
        assert str(Version(stamped)) == version  # what pip builds into the image
    # A tag the release rule refuses fails the build before any image is pushed, saying why.
    for tag in ("v2.3.4", "main", "1.0.0-foo.1"):
        bad = subprocess.run(["sh", str(script), tag], cwd=tmp_path, capture_output=True, text=True)
        assert bad.returncode == 2 and "no leading v" in bad.stderr, tag


def _release_pattern(job: dict[str, Any]) -> re.Pattern[str]:
    """The job's tag rule as GitLab reads it (`$CI_COMMIT_TAG =~ /.../`); Python's `re` reads the
    pattern as RE2 does here (no look-around, no back-references)."""
    (rule,) = job["rules"]
    found = re.fullmatch(r"\$CI_COMMIT_TAG =~ /(.+)/", rule["if"])
    assert found, rule
    return re.compile(found.group(1))


def test_release_runs_on_exact_semantic_versions_only() -> None:
    """The CI/CD Catalog publishes only semantic versions without a `v`: the rule must agree."""
    (pipeline,) = _documents(PIPELINE)
    patterns = {job: _release_pattern(pipeline[job]) for job in ("tag-image", "release")}
    assert len(set(p.pattern for p in patterns.values())) == 1, "tag-image and release must agree"
    pattern = patterns["release"]
    assert [tag for tag in RELEASE_TAGS if not pattern.search(tag)] == []
    assert [tag for tag in NOT_RELEASE_TAGS if pattern.search(tag)] == []
    assert pipeline["release"]["release"]["tag_name"] == "$CI_COMMIT_TAG"
    # Every tag the rule releases, the image build can stamp (or the release would publish a
    # component whose image was never built).
    stamp = (ROOT / "ci" / "stamp-version.sh").read_text(encoding="utf-8")
    stamp_pattern = re.search(r"grep -Eqx '([^']+)'", stamp).group(1).replace("[0-9]", r"\d")
    assert [tag for tag in RELEASE_TAGS if not re.fullmatch(stamp_pattern, tag)] == []


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
        missing_tool("gitlab-ci-local needs Node.js >= 20 and npm, which are not installed")
    if not shutil.which("rsync"):
        missing_tool("gitlab-ci-local copies the checkout with rsync, which is not installed (apt-get install rsync)")
    if not shutil.which("git"):
        missing_tool("gitlab-ci-local needs git, which is not installed")
    prefix = tmp_path_factory.mktemp("gitlab-ci-local")
    install = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"gitlab-ci-local@{GITLAB_CI_LOCAL}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if install.returncode != 0:
        missing_tool(f"npm could not install gitlab-ci-local@{GITLAB_CI_LOCAL}: {install.stderr.strip()[-300:]}")
    command = [node, str(prefix / "node_modules" / "gitlab-ci-local" / "dist" / "index.js")]
    probe = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        missing_tool(f"gitlab-ci-local does not run on this Node.js (it needs >= 20): {probe.stderr.strip()[-300:]}")
    return command


def _consumer_repo(path: Path, context: dict[str, str] = CONTEXT) -> None:
    """A test repository that includes the component the way a consumer does (local include).

    Its own pipeline declares `jira_keys`/`jql` as pipeline inputs (spec:inputs) and passes them
    on to the component, the recipe of docs/component.md for projects where pipeline variables
    are not allowed. GitLab fills in `$[[ component.version ]]` for a release include; the copy
    gets the same text (`context`: an unreleased include has an empty version).
    """
    shutil.copytree(ROOT / "generator" / "demo" / "data" / "sample_repo", path)
    shutil.copytree(ROOT / "generator" / "demo" / "data" / "tickets", path / "exports")
    (path / "templates").mkdir()
    template = COMPONENT.sub(lambda m: context[m.group(1)], TEMPLATE.read_text(encoding="utf-8"))
    (path / "templates" / "generate.yml").write_text(template, encoding="utf-8")
    header = {"spec": {"inputs": {"jira_keys": {"default": ""}, "jql": {"default": ""}}}}
    consumer = {
        "include": [
            {
                "local": "templates/generate.yml",
                "inputs": {
                    "jira_keys": "$[[ inputs.jira_keys ]]",
                    "jql": "$[[ inputs.jql ]]",
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
    text = yaml.safe_dump(header, sort_keys=False) + "---\n" + yaml.safe_dump(consumer, sort_keys=False)
    (path / ".gitlab-ci.yml").write_text(text, encoding="utf-8")
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


def _clean_env() -> dict[str, str]:
    """The job must see only what the pipeline gives it, not this machine's settings."""
    leaks = ("JIRA", "OPENAI", "GITLAB", "CI_", "OUTPUT_DIR")
    env = {name: value for name, value in os.environ.items() if not name.startswith(leaks)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def _planned(gitlab_ci_local: list[str], repo: Path, *args: str) -> dict[str, str]:
    """Job name → `when` as gitlab-ci-local plans the pipeline (rules evaluated, nothing run)."""
    listing = subprocess.run(
        [*gitlab_ci_local, "--list-json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        cwd=repo,
    )
    assert listing.returncode == 0, listing.stderr[-2000:]
    return {job["name"].split(":")[0]: job["when"] for job in json.loads(listing.stdout)}


def test_rules_follow_pipeline_inputs_and_skip_the_bots_branches(gitlab_ci_local: list[str], tmp_path: Path) -> None:
    repo = tmp_path / "shop-tests"
    _consumer_repo(repo)

    assert _planned(gitlab_ci_local, repo)["jira2robot-generate"] == "never"  # no tickets: ordinary push
    assert _planned(gitlab_ci_local, repo, "--input", "jira_keys=QA-101")["jira2robot-generate"] == "on_success"
    assert _planned(gitlab_ci_local, repo, "--input", "jql=project = QA")["jira2robot-generate"] == "on_success"
    assert _planned(gitlab_ci_local, repo, "--variable", "JIRA_KEYS=QA-101")["jira2robot-generate"] == "on_success"

    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-b", "jira2robot/QA-101"], check=True)
    on_bot_branch = _planned(gitlab_ci_local, repo, "--input", "jira_keys=QA-101")
    assert on_bot_branch == {"jira2robot-generate": "never", "jira2robot-merge-reports": "never"}


def _run_pipeline(
    gitlab_ci_local: list[str], repo: Path, fake: FakeGitLab, pipeline_input: str
) -> subprocess.CompletedProcess[str]:
    """The consumer's pipeline in shell mode, with the variables a GitLab job gets, against the double."""
    variables = {
        "CI_PROJECT_DIR": str(repo),
        "CI_SERVER_URL": fake.url,
        "CI_PROJECT_ID": str(fake.project_id),
        "CI_DEFAULT_BRANCH": "main",
        "GITLAB_TOKEN": fake.token,
    }
    return subprocess.run(
        [
            *gitlab_ci_local,
            "--force-shell-executor",
            "--no-color",
            "--input",
            pipeline_input,
            *(arg for name, value in variables.items() for arg in ("--variable", f"{name}={value}")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(),
        cwd=repo,
    )


def test_component_job_runs_sharded_from_pipeline_inputs_and_opens_draft_mrs(
    gitlab_ci_local: list[str], tmp_path: Path
) -> None:
    repo = tmp_path / "shop-tests"
    _consumer_repo(repo)
    with FakeGitLab() as fake:
        run = _run_pipeline(gitlab_ci_local, repo, fake, "jira_keys=QA-101 QA-102")
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


def test_unreleased_include_runs_and_names_the_commits_image(gitlab_ci_local: list[str], tmp_path: Path) -> None:
    """gitlab-ci-local evaluates the rules (rules:variables included) as GitLab does: with an
    empty component version the job gets the commit's image and its log says so."""
    repo = tmp_path / "shop-tests"
    _consumer_repo(repo, CONTEXT | {"version": ""})
    run = subprocess.run(
        [
            *gitlab_ci_local,
            "--force-shell-executor",
            "--no-color",
            "--input",
            "jira_keys=QA-101",
            "jira2robot-generate",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=_clean_env(),
        cwd=repo,
    )
    log = run.stdout + run.stderr
    notices = [line for line in log.splitlines() if "without a released version" in line]
    assert len(notices) == 2, log[-3000:]  # one per shard
    assert all(re.search(rf"this job runs \S+/qa-tools/jira2robot:{CONTEXT['sha']}, ", line) for line in notices)
    assert all("jira2robot-generate: image: <registry>/jira2robot:<tag>" in line for line in notices)


def test_scheduled_backlog_pipeline_finds_drift_and_opens_the_update_mr(
    gitlab_ci_local: list[str], tmp_path: Path
) -> None:
    """QA-102's merged suite records its criteria; the product owner then edits one: the backlog
    pipeline (JQL input) reports the ticket `drifted` and opens the update MR changing that case only."""
    repo = tmp_path / "shop-tests"
    _consumer_repo(repo)
    suite = "tests/cart/qa-102_apply_discount_code_in_cart.robot"
    merged = (Path(__file__).parent / "golden" / Path(suite).name).read_text(encoding="utf-8")
    (repo / suite).write_text(merged, encoding="utf-8")
    ticket = repo / "exports" / "QA-102.yaml"
    ticket.write_text(
        ticket.read_text(encoding="utf-8").replace('code "NOPE" is', 'code "NOPE-42" is'), encoding="utf-8"
    )
    git = ["git", "-C", str(repo), "-c", "user.name=QA", "-c", "user.email=qa@example.com"]
    subprocess.run([*git, "commit", "-qam", "QA-102 merged; its criteria edited since"], check=True)
    with FakeGitLab() as fake:
        run = _run_pipeline(gitlab_ci_local, repo, fake, "jql=project = QA AND key in (QA-102, QA-103)")
        log = run.stdout + run.stderr
        assert run.returncode == 0, log[-4000:]
        report = json.loads((repo / "generated" / "report.json").read_text(encoding="utf-8"))
        statuses = {t["key"]: t["status"] for t in report["tickets"]}
        assert statuses == {"QA-102": "drifted", "QA-103": "created"}, log[-4000:]
        [update] = [mr for mr in fake.mrs.values() if mr.source_branch == "jira2robot/QA-102"]
        assert "Requirement drift" in update.description and "NOPE-42" in update.description
        after = fake.file("jira2robot/QA-102", suite)
        assert 'code "NOPE" is' not in after and '"NOPE-42"' in after  # the edited case rewritten, metadata too
        assert after.count("Unknown Code\n") == after.count("Expired Code\n") == 1
        assert merged.split("Expired Code\n")[1].split("\n\n")[0] in after  # an untouched case, byte for byte
