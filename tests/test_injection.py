"""Injection corpus (issue #8, items 1-3): hostile text never runs, the dryrun sees no secrets.

Every case goes through the real CLI in a subprocess, on a copy of the bundled sample repo,
with real `robot --dryrun`. A payload that runs creates a marker file; each case asserts the
marker is absent and the verdict (a `trust` diagnostic, or an offline test holding the hostile
text only as literal). The secrets are distinctive values in the subprocess's environment,
and a repo library of the repo's own (allowed) dumps its environment while the dryrun imports it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from robot.api import get_tokens
from robot.api.parsing import Token
from robot.utils import unescape
from robot.variables import contains_variable

from generator.cli import main
from tests.servers.fake_openai import Text
from tests.test_run_e2e import GOOD_ROBOT, llm_args, spec_json

SECRETS = {
    "GITLAB_TOKEN": "glpat-INJECTION-9f3c1a7e5d",
    "OPENAI_API_KEY": "sk-INJECTION-4b2d8e61aa",
    "JIRA_MCP_TOKEN": "jira-INJECTION-77aa0c5d31",
}
TARGET = "tests/login/qa-951_hostile.robot"
DUMP_HOOK = """

# --- test_injection: a hostile library of the repo's own records what the dryrun lets it see.
import json as _json, os as _os, sys as _sys, pathlib as _pathlib
if "--dryrun" in _sys.argv:
    _pathlib.Path({dump!r}).write_text(_json.dumps(dict(_os.environ)), encoding="utf-8")
"""


def payload(marker: Path) -> str:
    """Python that creates `marker` when evaluated (one Robot cell: no double spaces)."""
    return f"__import__('pathlib').Path('{marker}').touch()"


def cli(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m generator ...` with the job's secrets set and no CI/Jira/LLM variables of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA", "CI_", "GITLAB_"))}
    env.update(SECRETS)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], capture_output=True, text=True, env=env, timeout=300
    )


def suite(*, settings: str = "", variables: str = "", test: str = "", name: str = "Hostile Case") -> str:
    """A suite the sample repo's dryrun passes, with the hostile parts put in."""
    return textwrap.dedent(
        """\
        *** Settings ***
        Resource    ../../resources/shop.resource
        {settings}

        *** Variables ***
        ${{SAFE}}    plain
        {variables}

        *** Test Cases ***
        {name}
        {test}
            Given The user "alice" has an account
        """
    ).format(
        settings=settings, variables=variables, test=textwrap.indent(test or "[Tags]    QA-951", "    "), name=name
    )


def hostile_files(marker: Path) -> dict[str, str]:
    """One candidate per attack of items 2 and 3; each runs `payload` (or reads a token) on today's main."""
    code = "${{" + payload(marker) + "}}"
    extended = "${SPACE.join([str(" + payload(marker) + "), 'a'])}"
    evil = "${CURDIR}/evil.py"
    return {
        "variables-value": suite(variables=f"${{X}}    {code}"),
        "documentation": suite(settings=f"Documentation    {code}"),
        "metadata": suite(settings=f"Metadata    Info    {code}"),
        "test-timeout": suite(settings=f"Test Timeout    {code}"),
        "test-tags-setting": suite(settings=f"Test Tags    {code}"),
        "test-name": suite(name=f"Hostile {code}"),
        "test-tags": suite(test=f"[Tags]    {code}"),
        "test-documentation": suite(test=f"[Documentation]    {code}"),
        "keyword-tags-and-doc": suite(test="My Step")
        + f"\n*** Keywords ***\nMy Step\n    [Documentation]    {code}\n    [Tags]    {code}\n    No Operation\n",
        "library-import-argument": suite(settings=f"Library    ShopLibrary    environment={code}"),
        "extended-syntax": suite(settings=f"Documentation    {extended}"),
        "extended-syntax-in-tags": suite(test=f"[Tags]    {extended}"),
        "environment-read": suite(settings="Documentation    %{GITLAB_TOKEN}"),
        "run-keyword": suite(test=f"Run Keyword    Import Library    {evil}"),
        "run-keyword-if": suite(test=f"Run Keyword If    ${{TRUE}}    Import Library    {evil}"),
        "wait-until-keyword-succeeds": suite(
            test=f"Wait Until Keyword Succeeds    1x    1s    Import Library    {evil}"
        ),
        "setup-builtin-prefix": suite(test=f"[Setup]    Run Keyword    BuiltIn.import_library    {evil}"),
        "template": suite(test=f"[Template]    Import Library\n{evil}").replace(
            '    Given The user "alice" has an account\n', ""
        ),
        "template-run-keyword-row": suite(test=f"[Template]    Run Keyword\nImport Library    {evil}").replace(
            '    Given The user "alice" has an account\n', ""
        ),
        "keyword-name-from-variables": suite(
            variables="${IMP}    Import", test=f"Run Keyword    ${{IMP}} Library    {evil}"
        ),
    }


@pytest.fixture
def hostile_repo(sample_repo: Path, tmp_path: Path) -> Path:
    """The sample repo plus `tests/login/evil.py` (never imported by the repo) that creates the
    marker when imported, and a repo library that dumps its environment in a dryrun."""
    (sample_repo / "tests/login/evil.py").write_text(
        f"from pathlib import Path\nPath({str(tmp_path / 'marker')!r}).touch()\n", encoding="utf-8"
    )
    library = sample_repo / "libraries/ShopLibrary.py"
    library.write_text(
        library.read_text(encoding="utf-8") + DUMP_HOOK.format(dump=str(tmp_path / "dryrun-env.json")),
        encoding="utf-8",
    )
    return sample_repo


CASES = sorted(hostile_files(Path("/m")))


def assert_validate_refuses(repo: Path, text: str, marker: Path, case: str, sources: tuple[str, ...]) -> None:
    """`jira2robot validate` of `text` as TARGET: the payload never ran (no `marker`), the file is
    refused with a diagnostic of one of `sources`, and no secret is printed."""
    (repo / TARGET).write_text(text, encoding="utf-8")
    done = cli("validate", TARGET, "--repo", str(repo))
    assert not marker.exists(), f"{case}: the payload ran"
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(f"[{source}]" in done.stdout for source in sources), done.stdout
    assert not any(value in done.stdout + done.stderr for value in SECRETS.values())


@pytest.mark.parametrize("case", CASES)
def test_validate_rejects_hostile_file_without_running_it(case: str, hostile_repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    assert_validate_refuses(hostile_repo, hostile_files(marker)[case], marker, case, ("trust",))


def dryrun_env_seen(repo: Path, tmp_path: Path, extra_env: dict[str, str]) -> dict[str, str]:
    """Validate a clean file (so the dryrun runs); what the repo's library saw of the environment."""
    (repo / TARGET).write_text(suite(), encoding="utf-8")
    done = cli("validate", TARGET, "--repo", str(repo), extra_env=extra_env)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tmp_path / "dryrun-env.json").read_text(encoding="utf-8"))


def test_dryrun_of_the_repos_own_library_sees_no_secrets(hostile_repo: Path, tmp_path: Path) -> None:
    """No token by its name, nor a token's value under another name; the rest of the environment stays."""
    extra = {"DEPLOY_NOTE": SECRETS["OPENAI_API_KEY"], "CI_JOB_TOKEN": "cjt-INJECTION-9", "SHOP_LOCALE": "de"}
    seen = dryrun_env_seen(hostile_repo, tmp_path, extra)
    assert not {"GITLAB_TOKEN", "OPENAI_API_KEY", "JIRA_MCP_TOKEN", "CI_JOB_TOKEN", "DEPLOY_NOTE"} & set(seen)
    assert not any(value in json.dumps(seen) for value in [*SECRETS.values(), "cjt-INJECTION-9"])
    assert seen["SHOP_LOCALE"] == "de"
    assert seen["PYTHONDONTWRITEBYTECODE"] == "1"


def test_dryrun_env_lets_a_named_variable_through_but_never_the_runs_tokens(hostile_repo: Path, tmp_path: Path) -> None:
    config = hostile_repo / ".jira2robot.yml"
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    config.write_text(yaml.safe_dump({**settings, "dryrun_env": ["SHOP_API_TOKEN", "GITLAB_TOKEN"]}), encoding="utf-8")
    seen = dryrun_env_seen(hostile_repo, tmp_path, {"SHOP_API_TOKEN": "shop-allowed-3e1f"})
    assert seen["SHOP_API_TOKEN"] == "shop-allowed-3e1f"
    assert "GITLAB_TOKEN" not in seen


BENIGN_CRITERIA = [
    'Given the user "alice" has an account',
    'When "alice" enters a wrong password 3 times',
    'Then the account "alice" is locked',
]


# Components are lower-cased by the planner: this payload still runs then (the dryrun's
# working folder is the repo root).
LOWER_CASE_CODE = "${{open('pwned','w')}}"


def hostile_ticket(field: str, code: str, extended: str) -> tuple[dict, list[str]]:
    """A ticket with hostile text in one field only, and how cells of the test file must start."""
    summary, components, criteria = "Login lockout", ["login"], list(BENIGN_CRITERIA)
    if field == "summary":
        summary = f"Login page {code} %{{GITLAB_TOKEN}} {extended}"
        expected = [f"QA-951: {summary}"]  # suite Documentation (wrapped over continuation lines)
    elif field == "components":
        components = ["login", LOWER_CASE_CODE]
        expected = [LOWER_CASE_CODE]  # a tag (the planner lower-cases components)
    else:
        criteria = [f"{BENIGN_CRITERIA[0]} {code}", BENIGN_CRITERIA[1], f"{BENIGN_CRITERIA[2]} {extended}"]
        criteria += [f"# {code}", f"... Import Library    {code}"]
        # the [Documentation] of the case covering them
        expected = [criteria[0]]
    description = "h3. Acceptance Criteria\n\n" + "\n".join(criteria) + "\n"
    ticket = {"key": "QA-951", "summary": summary, "issue_type": "Story", "status": "To Do"}
    return {**ticket, "components": components, "description": description}, expected


MULTI_LINE_DOC = """*** Test Cases ***
Documented On Two Lines
    [Documentation]    First line.
    ...    Second line.
    Log    documented
"""


@pytest.mark.parametrize("field", ["summary", "criteria", "components"])
def test_offline_run_keeps_hostile_ticket_text_literal(field: str, hostile_repo: Path, tmp_path: Path) -> None:
    """Ticket text reaches Documentation, test names, [Documentation] and [Tags] as literal text only."""
    marker = tmp_path / "marker"
    code = "${{" + payload(marker) + "}}"
    extended = "${SPACE.join([str(" + payload(marker) + "), 'a'])}"
    ticket, expected = hostile_ticket(field, code, extended)
    # A repo documenting a test on several lines gets each criterion whole in [Documentation]
    # (the sample's one-line documentation would cut the payload away unread).
    (hostile_repo / "tests/login/documented.robot").write_text(MULTI_LINE_DOC, encoding="utf-8")
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "QA-951.yaml").write_text(yaml.safe_dump(ticket), encoding="utf-8")
    out = tmp_path / "out"
    args = ["--keys", "QA-951", "--tickets-dir", str(tickets), "--llm", "offline", "--publish", "none"]
    done = cli("run", *args, "--repo", str(hostile_repo), "--output-dir", str(out))
    assert not marker.exists() and not (hostile_repo / "pwned").exists(), "ticket text ran"
    assert done.returncode == 0, done.stdout + done.stderr
    [entry] = json.loads((out / "report.json").read_text(encoding="utf-8"))["tickets"]
    assert entry["status"] == "created", entry
    text = (out / "QA-951" / Path(entry["test_path"]).name).read_text(encoding="utf-8")
    cells = [t for t in get_tokens(io.StringIO(text)) if t.type in (Token.ARGUMENT, Token.TESTCASE_NAME)]
    assert not [c.value for c in cells if contains_variable(c.value)], cells
    # The cells read back as the literal ticket text: wrapped settings continue on `...` lines,
    # and a word longer than a line is split there, so the text is compared without white space.
    literal = "".join(unescape(c.value) for c in cells)
    for wanted in expected:
        assert "".join(wanted.split()) in "".join(literal.split()), (wanted, literal)
    # The dryrun imported the repo's library, which saw none of the job's tokens.
    seen = (tmp_path / "dryrun-env.json").read_text(encoding="utf-8")
    assert not any(value in seen for value in SECRETS.values())


@pytest.mark.usefixtures("clean_env")
def test_llm_writer_gets_trust_diagnostics_back_and_repairs(llm, atlassian, hostile_repo: Path, tmp_path: Path) -> None:
    """A model echoing hostile ticket text is stopped before the dryrun and told how to fix it."""
    marker = tmp_path / "marker"
    hostile = GOOD_ROBOT.replace(
        "    [Tags]    QA-101    login\n",
        f"    [Tags]    QA-101    login    ${{{{{payload(marker)}}}}}\n    Run Keyword    Import Library    ${{CURDIR}}/../login/evil.py\n",
    )
    assert hostile != GOOD_ROBOT
    llm.script(Text(spec_json()), Text(hostile), Text(GOOD_ROBOT))
    out = tmp_path / "out"
    assert main(["run", "--keys", "QA-101", *llm_args(llm, atlassian, hostile_repo, out)]) == 0
    assert not marker.exists()
    [entry] = json.loads((out / "report.json").read_text(encoding="utf-8"))["tickets"]
    assert (entry["status"], entry["attempts"]) == ("created", 2)
    repair_prompt = llm.requests[2]["messages"][-1]["content"]
    assert "Inline Python" in repair_prompt and "escape it as \\${" in repair_prompt
    assert "'Import Library' used as an argument" in repair_prompt
