"""Issue #18: the trust boundary is enforced where Robot Framework resolves names.

Every spelling of an import that a candidate can use (a BDD prefix in any language, `BuiltIn.`,
an alias, a name from a variable, Unicode case folding, a run-keyword chain, a template, a
setup or teardown, a keyword of the file) is refused end to end: by `jira2robot validate`, by
the gate alone inside Robot's process (static rule bypassed: fresh dryrun, warm worker and
fork), by `run --llm offline` with a hostile ticket and by `run` with a hostile model. A payload
that runs creates a marker file; none may exist afterwards, and no secret appears anywhere.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import anyio
import pytest
import yaml
from robot.api import get_model
from robot.api.parsing import KeywordCall

from generator.cli import main
from generator.retrieval.inventory import build_inventory
from generator.safety.redact import Redactor
from generator.validate import check_static, dryrun, dryrun_pool
from generator.validate.fork import ForkedDryrun
from generator.validate.keyword_names import is_import_keyword
from tests.servers.fake_openai import Text
from tests.test_injection import (  # noqa: F401 (hostile_repo: a fixture)
    SECRETS,
    TARGET,
    assert_validate_refuses,
    cli,
    dryrun_env_seen,
    hostile_repo,
)
from tests.test_leaks import GITLAB_TOKEN, assert_nothing_leaked, run_to_gitlab
from tests.test_leaks import report as leak_report
from tests.test_run_e2e import spec_json

EVIL = "${CURDIR}/evil.py"  # tests/login/evil.py of `hostile_repo`: touches the marker when imported
HEADER = "*** Settings ***\nResource    ../../resources/shop.resource\n{settings}\n\n"


def popen(marker: Path) -> str:
    """`subprocess.Popen` as a library: its constructor runs a shell command at import."""
    return f"subprocess.Popen    touch {marker}    shell=True"


def forms(marker: Path) -> dict[str, str]:
    """One candidate per form of issue #18 item 1; each ran the payload on the previous main."""

    def suite(body: str, settings: str = "", keywords: str = "", variables: str = "") -> str:
        text = HEADER.format(settings=settings)
        if variables:
            text += f"*** Variables ***\n{variables}\n\n"
        text += "*** Test Cases ***\nHostile\n" + textwrap.indent(body, "    ") + "\n"
        return text + (f"\n*** Keywords ***\n{keywords}\n" if keywords else "")

    return {
        "given-popen": suite(f"Given Import Library    {popen(marker)}"),
        "when": suite(f"When Import Library    {EVIL}"),
        "then": suite(f"Then Import Library    {EVIL}"),
        "and": suite(f"And Import Library    {EVIL}"),
        "but": suite(f"But Import Library    {EVIL}"),
        "finnish-prefix": "Language: Finnish\n" + suite(f"Oletetaan Import Library    {EVIL}"),
        "given-builtin-prefix": suite(f"Given BuiltIn.Import Library    {EVIL}"),
        "given-variable-name": suite(f"Given ${{KW}}    {EVIL}", variables="${KW}    Import${SPACE}Library"),
        "run-keyword-given": suite(f"Run Keyword    Given Import Library    {EVIL}"),
        "run-keywords-and": suite(f"Run Keywords    Log    x    AND    Import Library    {EVIL}"),
        "wait-until": suite(f"Wait Until Keyword Succeeds    1x    1s    Given Import Library    {EVIL}"),
        "template": suite(f"[Template]    Given Import Library\n{EVIL}"),
        "test-template": suite(EVIL, settings="Test Template    Given Import Library"),
        "test-setup": suite("Log    x", settings=f"Test Setup    Given Import Library    {EVIL}"),
        "teardown": suite(f"[Teardown]    Given Import Library    {EVIL}\nLog    x"),
        "keyword-setup": suite(
            "My Step", keywords=f"My Step\n    [Setup]    Given Import Library    {EVIL}\n    Log    x"
        ),
        "keyword-body": suite("My Step", keywords=f"My Step\n    Given Import Library    {EVIL}"),
        "long-s-resource": suite("Import Reſource    ${CURDIR}/../../resources/unused.resource"),
        "alias": suite(f"B.Import Library    {popen(marker)}", settings="Library    BuiltIn    AS    B"),
    }


FORMS = sorted(forms(Path("/m")))
# Forms Robot's dryrun never executes: a keyword name built from variables (reported unknown)
# and BuiltIn's import under an alias (Robot runs only `BuiltIn`'s own import keywords in a
# dryrun). They would run in a real run after merge, which the static rule refuses (see the
# `validate` test above).
DRYRUN_INERT = {"given-variable-name", "alias"}


@pytest.fixture
def gated_repo(hostile_repo: Path, tmp_path: Path) -> Path:  # noqa: F811
    """`hostile_repo` plus a resource no suite imports (the repo's own code: only its import by a
    candidate is refused, which the diagnostic shows)."""
    (hostile_repo / "resources/unused.resource").write_text(
        "*** Keywords ***\nUnused\n    No Operation\n", encoding="utf-8"
    )
    return hostile_repo


@pytest.mark.parametrize("form", FORMS)
def test_validate_refuses_every_spelling_of_an_import(form: str, gated_repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    assert_validate_refuses(gated_repo, forms(marker)[form], marker, form, ("trust", "import"))


def _gate_only(repo: Path, text: str, runner: str) -> list:
    """The dryrun with no static rule before it: only the gate inside Robot's process stands."""
    inventory = build_inventory(repo, tests_dir="tests", pythonpath=["libraries"], exclude=[TARGET])

    async def go():
        pool = dryrun_pool(None, [], []) if runner == "warm" else None
        pool = ForkedDryrun(dict(os.environ)) if runner == "fork" else pool
        try:
            options = {"repo": repo, "pythonpath": ["libraries"], "robot_options": ["-v", "ENV:demo"]}
            return await dryrun(text, TARGET, inventory=inventory, pool=pool, **options)
        finally:
            if runner == "warm":
                await pool.aclose()

    return anyio.run(go).diagnostics


@pytest.mark.parametrize("runner", ["fresh", "warm", "fork"])
def test_the_gate_alone_refuses_every_form(runner: str, gated_repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for form, text in forms(marker).items():
        diagnostics = _gate_only(gated_repo, text, runner)
        assert not marker.exists(), f"{form} ({runner}): the payload ran"
        if form in DRYRUN_INERT:
            assert not [d for d in diagnostics if d.source == "trust"], (form, diagnostics)
            continue
        trust = [d for d in diagnostics if d.source == "trust"]
        assert trust and "not imported by the repository's own suites" in trust[0].message, (form, diagnostics)


def test_the_gate_lets_the_repos_own_imports_and_expressions_through(gated_repo: Path, tmp_path: Path) -> None:
    """What real suites write resolves: the repo's resource, allowed expressions, extended syntax."""
    text = HEADER.format(settings="Library    Collections") + textwrap.dedent(
        """\
        *** Variables ***
        ${COUNT}    ${{ len([1, 2]) + 1 }}
        &{USER}    email=a@example.com

        *** Test Cases ***
        Uses ${USER.email} And ${COUNT.real}
            Given The user "alice" has an account
        """
    )
    inventory = build_inventory(gated_repo, tests_dir="tests", pythonpath=["libraries"])
    inventory = inventory.model_copy(update={"libraries": [*inventory.libraries, "Collections"]})
    options = {"pythonpath": ["libraries"], "robot_options": ["-v", "ENV:demo"]}
    result = anyio.run(lambda: dryrun(text, TARGET, inventory=inventory, repo=gated_repo, **options))
    assert result.ok, result.diagnostics


@pytest.mark.parametrize(
    "line",
    [
        "Evaluate    posix.system('touch /tmp/m')",
        "Should Be True    posix.system('touch /tmp/m') == 0",
        "IF    posix.system('touch /tmp/m')\n        Log    x\n    END",
        "Evaluate    pydoc.pipepager('x', 'touch /tmp/m')",
        "${env}=    Evaluate    dict(posix.environ)",
        "Evaluate    $x    modules=os",
        "Given Evaluate    __import__('os')",
        "Evaluate    ${CODE}",
    ],
)
def test_expressions_that_run_after_merge_are_refused_statically(line: str, gated_repo: Path) -> None:
    text = HEADER.format(settings="") + "*** Variables ***\n${CODE}    __import__('os').system('id')\n\n"
    text += "*** Test Cases ***\nT\n    " + line + "\n"
    inventory = build_inventory(gated_repo, tests_dir="tests", pythonpath=["libraries"])
    diagnostics = check_static(text, TARGET, inventory, repo=gated_repo, tests_dir="tests")
    assert any(d.source == "trust" for d in diagnostics), diagnostics


def _walk(node):
    yield node
    for child in getattr(node, "body", ()):
        yield from _walk(child)


def test_an_offline_run_never_maps_a_step_to_import_library(gated_repo: Path, tmp_path: Path) -> None:
    """Issue #18 item 2: ticket text alone reached BuiltIn `Import Library` as an exact match."""
    marker = tmp_path / "marker"
    args = f'"subprocess.Popen" "touch {marker}" "-1" "/bin/sh" "None" "None" "None" "None" "True" "True"'
    criterion = f'Given the user "alice" has an account, when Import Library {args}, then the account is open'
    ticket = {
        "key": "QA-952",
        "summary": "Hostile step",
        "issue_type": "Story",
        "status": "To Do",
        "components": ["login"],
        "description": f"h3. Acceptance Criteria\n\n{criterion}\n",
    }
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "QA-952.yaml").write_text(yaml.safe_dump(ticket), encoding="utf-8")
    out = tmp_path / "out"
    args_ = ["--keys", "QA-952", "--tickets-dir", str(tickets), "--llm", "offline", "--publish", "local"]
    done = cli("run", *args_, "--repo", str(gated_repo), "--output-dir", str(out))
    assert not marker.exists(), "ticket text ran"
    [entry] = json.loads((out / "report.json").read_text(encoding="utf-8"))["tickets"]
    assert entry["status"] == "created", entry  # the step is an honest gap, the rest of the test stands
    model = get_model(gated_repo / entry["test_path"])
    calls = [node for section in model.sections for node in _walk(section) if isinstance(node, KeywordCall)]
    assert calls and not [c.keyword for c in calls if is_import_keyword(c.keyword)], [c.keyword for c in calls]
    # Only as text: the gap's `Skip` message quotes the step, nothing receives it as a value.
    assert not any("subprocess.Popen" in arg for c in calls if c.keyword != "Skip" for arg in c.args)
    assert not any(value in done.stdout + done.stderr for value in SECRETS.values())


@pytest.mark.usefixtures("clean_env")
def test_a_hostile_model_answer_opens_no_mr_and_leaks_nothing(llm, atlassian, gated_repo: Path, tmp_path, capsys):
    """Issue #18 item 3, through `--publish gitlab`: a model keeps answering with a BDD-prefixed
    import that would read the parent's environment, and a token. The ticket fails naming the
    checks that failed, no payload runs, no MR is opened, no secret reaches repo, output, log or
    the GitLab double."""
    marker = tmp_path / "marker"
    steal = f"subprocess.Popen    cat /proc/$PPID/environ > {marker}    shell=True"
    hostile = (
        HEADER.format(settings="")
        + "*** Test Cases ***\nHostile\n    [Tags]    QA-101\n"
        + f"    Given Import Library    {steal}\n"
        + f"    Log    {GITLAB_TOKEN}\n"
    )
    llm.script(Text(spec_json()), Text(hostile), Text(hostile), Text(hostile))
    out = tmp_path / "out"
    with run_to_gitlab(llm, atlassian, gated_repo, out) as (code, gl):
        assert code == 1
        assert not marker.exists()
        entry = leak_report(out)["QA-101"]
        assert entry["status"] == "failed" and entry["complete"] is False
        assert entry["reason"].startswith("secret check, import allow-list still failing"), entry["reason"]
        assert {"secret", "import"} <= {d["source"] for d in entry["diagnostics"]}, entry["diagnostics"]
        assert not gl.mrs
        assert_nothing_leaked(gated_repo, out, log=capsys.readouterr().out, gitlab=gl)


def test_the_scrub_drops_job_credentials_in_every_shape(hostile_repo: Path, tmp_path: Path) -> None:  # noqa: F811
    extra = {
        "CI_JOB_TOKEN": "cjt-SCRUB-1",
        "CI_REPOSITORY_URL": "https://gitlab-ci-token:cjt-SCRUB-1@gitlab.example.com/qa/shop.git",
        "DB_PASS": "db-SCRUB-2",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/SCRUB3",
        "DATABASE_URL": "postgres://app:pg-SCRUB-4@db:5432/shop",
        "SHOP_LOCALE": "de",
    }
    seen = dryrun_env_seen(hostile_repo, tmp_path, extra)
    assert not {"CI_JOB_TOKEN", "CI_REPOSITORY_URL", "DB_PASS", "SLACK_WEBHOOK_URL", "DATABASE_URL"} & set(seen)
    assert "SCRUB" not in json.dumps(seen)
    assert seen["SHOP_LOCALE"] == "de"


def test_hex_and_reversed_secrets_are_redacted() -> None:
    secret = "glpat-REDACT-1234abcd"
    redact = Redactor([secret])
    text = f"a {secret.encode().hex()} b {secret[::-1]} c {secret.encode().hex().upper()}"
    assert secret.encode().hex() not in redact(text)
    assert secret[::-1] not in redact(text)
    assert redact.found(text)


def test_a_huge_word_in_a_summary_makes_a_short_file_name(sample_repo: Path, tmp_path: Path) -> None:
    ticket = {
        "key": "QA-953",
        "summary": "Login " + "x" * 100_000,
        "issue_type": "Story",
        "status": "To Do",
        "components": ["login"],
        "description": 'h3. Acceptance Criteria\n\nGiven the user "alice" has an account\n',
    }
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "QA-953.yaml").write_text(yaml.safe_dump(ticket), encoding="utf-8")
    out = tmp_path / "out"
    args = ["--keys", "QA-953", "--tickets-dir", str(tickets), "--llm", "offline", "--publish", "none"]
    assert main(["run", *args, "--repo", str(sample_repo), "--output-dir", str(out)]) in (0, 1)
    [entry] = json.loads((out / "report.json").read_text(encoding="utf-8"))["tickets"]
    assert "File name too long" not in (entry["reason"] or "")
    assert len(Path(entry["test_path"]).name) < 200


def test_a_library_takes_only_the_arguments_the_repo_gives_it(gated_repo: Path) -> None:
    """A library's arguments can load code (SeleniumLibrary's `plugins=`, Remote's URI): the
    allow-list covers name and arguments, statically and in the gate."""
    inventory = build_inventory(gated_repo, tests_dir="tests", pythonpath=["libraries"], exclude=[TARGET])
    body = '*** Test Cases ***\nT\n    Given The user "alice" has an account\n'
    own = HEADER.format(settings="Library    ShopLibrary    environment=${ENV}") + body
    other = HEADER.format(settings="Library    ShopLibrary    environment=staging") + body
    assert not [
        d for d in check_static(own, TARGET, inventory, repo=gated_repo, tests_dir="tests") if d.source == "import"
    ]
    [static] = [
        d for d in check_static(other, TARGET, inventory, repo=gated_repo, tests_dir="tests") if d.source == "import"
    ]
    assert "environment=staging" in static.message and "environment=${ENV}" in static.message
    gate = [d for d in _gate_only(gated_repo, other, "fresh") if d.source == "trust"]
    assert gate and "never give it" in gate[0].message, gate
    assert not [d for d in _gate_only(gated_repo, own, "fresh") if d.source == "trust"]


@pytest.mark.parametrize(
    "where",
    [
        "*** Test Cases ***\nName ${{CODE}}\n    Log    x\n",
        "*** Variables ***\n${X}    ${{CODE}}\n\n*** Test Cases ***\nT\n    Log    x\n",
        "*** Test Cases ***\nT\n    [Documentation]    ${SPACE.join([str(CODE)])}\n    Log    x\n",
        "*** Test Cases ***\nT\n    [Tags]    ${{CODE}}\n    Log    x\n",
    ],
)
def test_the_gate_alone_refuses_python_outside_the_grammar(where: str, gated_repo: Path, tmp_path: Path) -> None:
    """Inline Python and extended syntax Robot evaluates in a dryrun, with the file also at its
    target path (as `validate` checks files of the repo): the repo's own text vouches for an
    expression, the file being checked never does."""
    marker = tmp_path / "marker"
    text = where.replace("CODE", f"__import__('pathlib').Path('{marker}').touch()")
    (gated_repo / TARGET).write_text(text, encoding="utf-8")
    diagnostics = _gate_only(gated_repo, text, "fresh")
    assert not marker.exists()
    assert [d for d in diagnostics if d.source == "trust"], diagnostics


def test_the_gate_lets_through_python_the_repos_own_files_write(gated_repo: Path) -> None:
    """The repo's own code is trusted: an expression outside the grammar that the repo's resource
    writes itself is evaluated, and the same expression written only by the candidate is refused."""
    resource = gated_repo / "resources/shop.resource"
    resource.write_text(
        resource.read_text(encoding="utf-8") + "\n*** Variables ***\n${SEP}    ${{ os.sep }}\n", encoding="utf-8"
    )
    body = '*** Test Cases ***\nT\n    Given The user "alice" has an account\n'
    own = HEADER.format(settings="") + body
    assert not [d for d in _gate_only(gated_repo, own, "fresh") if d.source == "trust"]
    candidates = HEADER.format(settings="") + "*** Variables ***\n${PATH}    ${{ os.getcwd() }}\n\n" + body
    refused = [d for d in _gate_only(gated_repo, candidates, "fresh") if d.source == "trust"]
    assert refused and "os.getcwd" in refused[0].message, refused
