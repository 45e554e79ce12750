"""Requirement drift end to end: the CLI, the real mcp-atlassian in front of the Jira REST double,
the GitLab double, the OpenAI-compatible test server and real `robot --dryrun`.

A ticket's criteria change between two runs (one edited, one added, one removed): one update
MR touching only those test cases, with a reviewer's edit of another test case kept byte for
byte; an unchanged or markup-only changed ticket costs no LLM call and no GitLab write; a
ticket that went away is listed on the dashboard and removed only once its box is ticked.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.cli import main
from generator.gather.criteria import fingerprint
from tests.servers.fake_atlassian_rest import PAT, FakeAtlassianRest
from tests.servers.fake_gitlab import FakeGitLab
from tests.servers.fake_openai import FakeOpenAI, Text
from tests.servers.mcp_atlassian_process import MISSING, McpAtlassianProcess, executable

pytestmark = [pytest.mark.skipif(executable() is None, reason=MISSING), pytest.mark.usefixtures("clean_env")]

TOKEN = "glpat-drift-token-123"
VALID = "the user can log in with a valid password"
VALID_EDITED = "the user can log in with a valid password and is shown as logged in"
WRONG = "a wrong password is refused"
LOCK = "three wrong passwords lock the account"
RESET = "a successful login resets the failure counter"
LOGOUT = "a user who logs out has no session"

#: criterion → (test case name, steps) the scripted writer uses; names are never prefixes of each other.
CASES: dict[str, tuple[str, list[str]]] = {
    VALID: ("Login With Valid Password", ['Given The user "alice" has an account', "When Login As    alice"]),
    VALID_EDITED: (
        "Valid Login Shows The User",
        ['Given The user "amy" has an account', "When Login As    amy", "Then User Should Be Logged In    amy"],
    ),
    WRONG: (
        "Wrong Password Is Refused",
        ['Given The user "bob" has an account', "Then Login Should Fail With Message    bob    nope    Invalid"],
    ),
    LOCK: (
        "Three Failures Lock The Account",
        [
            'Given The user "carol" has an account',
            'When "carol" Enters A Wrong Password "3" Times',
            'Then Account "carol" Should Be Locked',
        ],
    ),
    RESET: (
        "Successful Login Resets Counter",
        [
            'Given The user "dave" has an account',
            "When Login As    dave",
            'Then Failed Login Count Of "dave" Should Be "0"',
        ],
    ),
    LOGOUT: (
        "Logout Ends The Session",
        ['Given The user "erin" is logged in', "When Logout", "Then User Should Be Logged Out"],
    ),
}
TARGETS = {"QA-301": "tests/login/qa-301_login_rules.robot", "QA-302": "tests/login/qa-302_logout.robot"}


def ticket(key: str, summary: str, criteria: list[str]) -> dict[str, Any]:
    return {"key": key, "id": key.split("-")[1], "summary": summary, "issue_type": "Story", "status": "To Do",
            "labels": [], "components": ["login"], "description": f"{summary}.", "comments": [],
            "acceptance_criteria": "\n".join(f"* {c}" for c in criteria)}  # fmt: skip


def planner_reply(prompt: str) -> str:
    key = re.search(r"QA-\d+", prompt).group(0)
    asked = [line[2:] for line in prompt.splitlines() if line.startswith("- ") and line[2:] in CASES]
    cases = [{"name": CASES[c][0], "covers": [c], "tags": [], "steps": [c]} for c in asked]
    return json.dumps(
        {"meta": {"jira_key": key, "title": "Login"}, "rf": {"target_path": TARGETS[key], "test_cases": cases}}
    )


def writer_reply(prompt: str) -> str:
    key = re.search(r"QA-\d+", prompt).group(0)
    cases = [(name, c, steps) for c, (name, steps) in CASES.items() if f'"{name}"' in prompt]
    body = "\n".join(
        f"{name}\n    [Documentation]    {c}\n" + "".join(f"    {s}\n" for s in steps) for name, c, steps in cases
    )
    return (
        f"*** Settings ***\nDocumentation       {key}: login rules\nResource            ../../resources/shop.resource\n"
        f"Suite Setup         Open Shop Session\nSuite Teardown      Close Shop Session\nTest Tags           {key}\n\n\n"
        f"*** Test Cases ***\n{body}"
    )


def reply(body: dict[str, Any]) -> Text:
    prompt = body["messages"][1]["content"]
    planner = "PLANNER" in body["messages"][0]["content"]
    return Text(planner_reply(prompt) if planner else writer_reply(prompt))


@pytest.fixture(scope="module")
def rest() -> Iterator[FakeAtlassianRest]:
    with FakeAtlassianRest() as double:
        yield double


@pytest.fixture(scope="module")
def jira(rest: FakeAtlassianRest) -> Iterator[McpAtlassianProcess]:
    with McpAtlassianProcess(rest.url, confluence=False) as process:
        yield process


@pytest.fixture
def env(jira: McpAtlassianProcess, llm: FakeOpenAI) -> Iterator[FakeGitLab]:
    llm.responder = reply
    with FakeGitLab(token=TOKEN) as gl:
        os.environ.update(
            OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=jira.url, JIRA_MCP_TOKEN=PAT, GITLAB_TOKEN=TOKEN,
            CI_PROJECT_PATH="qa/shop-tests", CI_SERVER_URL=gl.url,
        )  # fmt: skip
        yield gl


def run(repo: Path, out: Path, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    code = main(["run", *args, "--repo", str(repo), "--publish", "gitlab", "--output-dir", str(out)])
    return code, {t["key"]: t for t in json.loads((out / "report.json").read_text())["tickets"]}


def checkout(gl: FakeGitLab, repo: Path, *paths: str) -> None:
    """The pipeline's checkout of the default branch: the merged files, as GitLab has them."""
    for path in paths:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(gl.file("main", path), encoding="utf-8")


def merge_all(gl: FakeGitLab) -> None:
    """Merge every open MR; the double's merge takes the source branch's tree, so each merged
    file is put back on the default branch as the maintainer's merge would have kept it."""
    merged: dict[str, str] = {}
    for iid, mr in list(gl.mrs.items()):
        if mr.state == "opened":
            merged |= {p: gl.file(mr.source_branch, p) for p in TARGETS.values() if gl.file(mr.source_branch, p)}
            gl.set_mr_state(iid, "merged")
    for path, text in merged.items():
        if gl.file("main", path) != text:
            gl.push_human_commit("main", path, text, name="Maintainer", email="dev@example.com")


def block(text: str, name: str) -> str:
    """A test case's lines as written, up to the next case (blank lines included)."""
    return re.search(rf"^{re.escape(name)}\n(?:(?:    .*)?\n)*", text, re.M).group(0)


def writes(gl: FakeGitLab) -> int:
    return sum(gl.count(method, r".") for method in ("POST", "PUT", "DELETE"))


def test_criteria_change_gives_one_update_mr_touching_only_those_test_cases(
    rest: FakeAtlassianRest, env: FakeGitLab, llm: FakeOpenAI, sample_repo: Path, tmp_path: Path
) -> None:
    gl = env
    rest.tickets["QA-301"] = ticket("QA-301", "Login rules", [VALID, WRONG, LOCK])
    rest.tickets["QA-302"] = ticket("QA-302", "Logout", [LOGOUT])
    code, first = run(sample_repo, tmp_path / "first", "--keys", "QA-301,QA-302")
    assert code == 0 and {t["status"] for t in first.values()} == {"created"}, first
    merge_all(gl)
    path = TARGETS["QA-301"]
    written = gl.file("main", path)
    assert f"Metadata    Jira Criterion {fingerprint(LOCK)}    {LOCK}" in re.sub(r" {4,}", "    ", written)
    # A reviewer improves the lockout test case on the default branch after the merge.
    lock = block(written, "Three Failures Lock The Account")
    edited_lock = lock.replace(
        "Should Be Locked\n", 'Should Be Locked\n    And Failed Login Count Of "carol" Should Be "3"\n'
    )
    assert edited_lock != lock
    gl.push_human_commit("main", path, written.replace(lock, edited_lock))
    checkout(gl, sample_repo, *TARGETS.values())
    before = gl.file("main", path)

    # The product owner edits one criterion, removes one, adds one.
    rest.tickets["QA-301"] = ticket("QA-301", "Login rules", [VALID_EDITED, LOCK, RESET])
    llm.requests.clear()
    code, second = run(sample_repo, tmp_path / "second", "--keys", "QA-301,QA-302", "--drift")
    assert code == 0, second
    drifted, unchanged = second["QA-301"], second["QA-302"]
    assert drifted["status"] == "drifted", drifted
    assert drifted["drift"]["edited"] == [{"old": VALID, "new": VALID_EDITED}]
    assert (drifted["drift"]["added"], drifted["drift"]["removed"]) == ([RESET], [WRONG])
    assert drifted["drift"]["tests_rewritten"] == ["Login With Valid Password"]
    assert drifted["drift"]["tests_removed"] == ["Wrong Password Is Refused"]
    assert unchanged["status"] == "skipped" and unchanged["reason"].endswith("criteria unchanged")
    # Two LLM calls, QA-301's planner and writer; the planner saw only the criteria whose tests change.
    assert len(llm.requests) == 2
    planner_prompt = llm.requests[0]["messages"][1]["content"]
    assert (
        f"- {VALID_EDITED}" in planner_prompt and f"- {RESET}" in planner_prompt and f"- {LOCK}" not in planner_prompt
    )

    [update] = [mr for mr in gl.mrs.values() if mr.state == "opened"]
    assert update.source_branch == "jira2robot/QA-301"
    [commit] = gl.branch_commits("jira2robot/QA-301")
    assert commit.message.startswith("Update generated Robot Framework test for QA-301")
    after = gl.file("jira2robot/QA-301", path)
    # The reviewer's edit, byte for byte (a blank line now separates it from the case appended after it).
    assert block(after, "Three Failures Lock The Account").rstrip("\n") == edited_lock.rstrip("\n")
    assert "Valid Login Shows The User" in after and "Successful Login Resets Counter" in after
    assert "Login With Valid Password" not in after and "Wrong Password Is Refused" not in after
    names = [
        line for line in after.splitlines() if line and not line[0].isspace() and not line.startswith(("*", "..."))
    ]
    assert [n for n in names if n in {c[0] for c in CASES.values()}] == [
        "Valid Login Shows The User", "Three Failures Lock The Account", "Successful Login Resets Counter"
    ]  # fmt: skip
    gone = block(before, "Login With Valid Password") + block(before, "Wrong Password Is Refused")
    removed = [line[2:] for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("- ")]
    assert removed and all(line in gone or line.startswith("Metadata") for line in removed), removed
    # The description shows the criteria diff and the test cases that change.
    assert "Requirement drift" in update.description
    assert "| edited | the user can log in with a valid password |" in update.description
    assert "**removal proposed**: `Wrong Password Is Refused`" in update.description

    # A reviewer closes the update MR: the ticket stays drifted, with no LLM call, and is listed on
    # the dashboard; ticking its "regenerate" box opens a fresh update MR.
    [iid] = [i for i, mr in gl.mrs.items() if mr is update]
    gl.set_mr_state(iid, "closed")
    llm.requests.clear()
    code, third = run(sample_repo, tmp_path / "third", "--keys", "QA-301", "--drift", "--dashboard")
    assert code == 0 and third["QA-301"]["status"] == "drifted", third
    assert "not recreated" in third["QA-301"]["reason"] and llm.requests == []
    [board] = gl.issues.values()
    box = "<!-- jira2robot:regenerate=QA-301 -->"
    assert f"- [ ] {box}" in board.description
    board.description = board.description.replace(f"- [ ] {box}", f"- [x] {box}")
    code, fourth = run(sample_repo, tmp_path / "fourth", "--keys", "QA-301", "--drift", "--dashboard")
    assert code == 0 and fourth["QA-301"]["status"] == "drifted" and "created" in fourth["QA-301"]["reason"]
    assert [mr.state for mr in gl.mrs.values() if mr.source_branch == "jira2robot/QA-301"].count("opened") == 1
    assert f"- [ ] {box}" in board.description  # handled: unticked again


def test_unchanged_or_markup_only_ticket_costs_no_llm_call_and_no_gitlab_write(
    rest: FakeAtlassianRest, env: FakeGitLab, llm: FakeOpenAI, sample_repo: Path, tmp_path: Path
) -> None:
    gl = env
    rest.tickets["QA-302"] = ticket("QA-302", "Logout", [LOGOUT])
    assert run(sample_repo, tmp_path / "first", "--keys", "QA-302")[0] == 0
    merge_all(gl)
    checkout(gl, sample_repo, TARGETS["QA-302"])
    requests, written = len(llm.requests), writes(gl)
    # Bold, code and extra spaces: the same requirement.
    rest.tickets["QA-302"] = ticket("QA-302", "Logout", ["a user who *logs out*   has no {{session}}"])
    code, report = run(sample_repo, tmp_path / "second", "--keys", "QA-302", "--drift")
    assert code == 0 and report["QA-302"]["status"] == "skipped", report
    assert report["QA-302"]["drift"]["state"] == "unchanged"
    assert (len(llm.requests), writes(gl)) == (requests, written)


HAND_WRITTEN = """\
*** Settings ***
Resource            ../../resources/shop.resource
Suite Setup         Open Shop Session
Suite Teardown      Close Shop Session
Test Tags           {key}


*** Test Cases ***
Hand Written Logout
    Given The user "frank" is logged in
    When Logout
    Then User Should Be Logged Out
"""


def test_orphaned_ticket_is_listed_and_removed_only_once_ticked(
    rest: FakeAtlassianRest, env: FakeGitLab, llm: FakeOpenAI, sample_repo: Path, tmp_path: Path
) -> None:
    gl = env
    keys = ("QA-303", "QA-304", "QA-305", "QA-306")
    paths = {key: f"tests/login/{key.lower()}_hand_written.robot" for key in keys}
    for key, path in paths.items():
        gl.push_human_commit("main", path, HAND_WRITTEN.format(key=key))
    checkout(gl, sample_repo, *paths.values())
    rest.tickets.pop("QA-303", None)  # deleted
    rest.tickets["QA-304"] = {**ticket("QA-304", "Old logout", [LOGOUT]), "status": "Closed", "resolution": "Won't Do"}
    rest.tickets["QA-305"] = ticket("QA-305", "Logout", [LOGOUT])  # no provenance in its suite: a baseline
    rest.moved["QA-306"] = "QA-305"  # moved: Jira answers the old key with the issue under its new key
    code, report = run(sample_repo, tmp_path / "first", "--keys", ",".join(keys), "--drift", "--dashboard")
    assert code == 0, report
    assert "QA-303 was deleted or is hidden" in report["QA-303"]["reason"]
    assert "QA-304 was closed as Won't Do" in report["QA-304"]["reason"]
    assert "QA-306 was moved to QA-305" in report["QA-306"]["reason"]
    assert report["QA-305"]["drift"] == {**report["QA-305"]["drift"], "state": "baseline"}
    assert report["QA-305"]["drift"]["baseline"] == {fingerprint(LOGOUT): LOGOUT}
    [board] = gl.issues.values()
    assert "- [ ] <!-- jira2robot:remove=QA-303 -->" in board.description
    assert "- [ ] <!-- jira2robot:remove=QA-304 -->" in board.description
    assert gl.mrs == {} and llm.requests == []
    assert gl.file("main", paths["QA-303"]) is not None

    # Nothing happens until a person ticks the box; then one removal MR for that ticket only.
    assert run(sample_repo, tmp_path / "again", "--keys", "QA-303", "--drift", "--dashboard")[0] == 0
    assert gl.mrs == {}
    board.description = board.description.replace(
        "- [ ] <!-- jira2robot:remove=QA-303", "- [x] <!-- jira2robot:remove=QA-303"
    )
    code, report = run(sample_repo, tmp_path / "ticked", "--keys", "QA-303,QA-304", "--drift", "--dashboard")
    assert code == 0 and report["QA-303"]["status"] == "created", report
    [removal] = gl.mrs.values()
    assert removal.source_branch == "jira2robot/QA-303-removal" and "went away" in removal.title
    assert gl.file("jira2robot/QA-303-removal", paths["QA-303"]) is None
    assert gl.file("jira2robot/QA-303-removal", paths["QA-304"]) is not None
    assert "remove=QA-303" not in board.description and "- [ ] <!-- jira2robot:remove=QA-304 -->" in board.description
