"""Backlog mode: JQL selection, skip rules, draft MRs through the CLI, sharding, shared back-off, logs."""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from generator.cli import main
from generator.run import shard
from tests.conftest import offline_args
from tests.servers.fake_gitlab import FakeGitLab
from tests.servers.fake_openai import Error, Text
from tests.test_run_e2e import GOOD_ROBOT, spec_json

TARGETS = {
    "QA-101": "tests/login/qa-101_login_lockout.robot",
    "QA-102": "tests/cart/qa-102_discount.robot",
    "QA-103": "tests/orders/qa-103_cancel.robot",
    "QA-104": "tests/orders/qa-104_guest.robot",
}


pytestmark = pytest.mark.usefixtures("clean_env")


def responder(calls: list[tuple[float, str, str]] | None = None):
    """Planner → a spec for the ticket in the prompt; writer → a valid file tagged with that key."""

    def reply(body: dict):
        prompt = body["messages"][1]["content"]
        key = re.search(r"QA-\d+", prompt).group(0)
        role = "planner" if "PLANNER" in body["messages"][0]["content"] else "writer"
        if calls is not None:
            calls.append((time.monotonic(), key, role))
        if role == "planner":
            return Text(spec_json(key, TARGETS[key]))
        return Text(GOOD_ROBOT.replace("QA-101", key))

    return reply


def report(out: Path) -> dict[str, dict]:
    return {t["key"]: t for t in json.loads((out / "report.json").read_text())["tickets"]}


def test_shards_are_disjoint_covering_balanced_and_stable():
    keys = [f"QA-{n}" for n in range(1, 101)]
    shards = [shard(keys, i, 3) for i in (1, 2, 3)]
    assert sorted(k for s in shards for k in s) == sorted(keys)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    shuffled = keys[:]
    random.Random(7).shuffle(shuffled)
    assert [set(shard(shuffled, i, 3)) for i in (1, 2, 3)] == [set(s) for s in shards]
    assert shard(keys, 1, 1) == keys


def test_gitlab_backlog_skips_covered_tickets_before_any_llm_call(llm, atlassian, sample_repo, tmp_path):
    os.environ.update(
        OPENAI_BASE_URL=llm.base_url,
        JIRA_MCP_URL=atlassian.url,
        GITLAB_TOKEN="glpat-secret-token-123",
        CI_PROJECT_PATH="qa/shop-tests",
    )
    llm.responder = responder()
    with FakeGitLab(token="glpat-secret-token-123") as gl:
        os.environ["CI_SERVER_URL"] = gl.url
        common = ["--repo", str(sample_repo), "--publish", "gitlab"]
        # Earlier runs: QA-102 got an MR that was merged, QA-103 has an open MR.
        assert main(["run", "--keys", "QA-102,QA-103", *common, "--output-dir", str(tmp_path / "first")]) == 0
        first = report(tmp_path / "first")
        assert {first[k]["status"] for k in first} == {"created"}
        assert len(gl.mrs) == 2 and all(mr.title.startswith("Draft: [QA-10") for mr in gl.mrs.values())
        merged_iid = next(iid for iid, mr in gl.mrs.items() if mr.source_branch == "jira2robot/QA-102")
        gl.set_mr_state(merged_iid, "merged")
        requests_before = len(llm.requests)

        out = tmp_path / "backlog"
        code = main(["run", "--jql", "labels = jira2robot ORDER BY key", *common, "--output-dir", str(out)])
        assert code == 0
        by_key = report(out)
        assert set(by_key) == {"QA-101", "QA-102", "QA-103", "QA-104"}
        assert by_key["QA-102"]["status"] == "skipped" and "merged MR" in by_key["QA-102"]["reason"]
        assert by_key["QA-103"]["status"] == "skipped" and "open MR" in by_key["QA-103"]["reason"]
        assert by_key["QA-102"]["llm"]["calls"] == by_key["QA-103"]["llm"]["calls"] == 0
        for key in ("QA-101", "QA-104"):
            assert by_key[key]["status"] == "created", by_key[key]
            assert by_key[key]["mr_url"].startswith(gl.url)
        # Only the two new tickets cost LLM calls: 2 each.
        assert len(llm.requests) - requests_before == 4

        # An explicit re-run of an open ticket regenerates it; same file → no new commit.
        commits = len(gl.branch_commits("jira2robot/QA-103"))
        assert main(["run", "--keys", "QA-103", *common, "--output-dir", str(tmp_path / "again")]) == 0
        again = report(tmp_path / "again")["QA-103"]
        assert again["status"] == "skipped" and again["reason"].startswith("unchanged")
        assert len(gl.branch_commits("jira2robot/QA-103")) == commits
        everything = json.dumps([mr.description for mr in gl.mrs.values()]) + (out / "report.json").read_text()
        assert "glpat-secret-token-123" not in everything


def test_rate_limit_slows_every_ticket_down(llm, atlassian, sample_repo, tmp_path):
    """One 429 with Retry-After pauses all tickets (shared back-off), not only the one that got it,
    and also the requests already queued for an LLM slot when it came back.

    One LLM call at a time, so no request is on the wire when the 429 is answered: every later
    request, whichever ticket sends it, is decided after the client saw the 429. The server and
    the client share one monotonic clock, so each of them arriving no earlier than the server's
    Retry-After allows is an ordering of events, not a timing window.
    """
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url)
    calls: list[tuple[float, str, str]] = []
    normal = responder(calls)
    retry_after = 0.5
    limited: list[tuple[float, str]] = []  # (when the 429 was answered, the ticket it went to)

    def reply(body: dict):
        if not limited:
            limited.append((time.monotonic(), re.search(r"QA-\d+", body["messages"][1]["content"]).group(0)))
            return Error(429, "rate limited", retry_after=retry_after)
        return normal(body)

    llm.responder = reply
    args = ["--keys", "QA-101,QA-102,QA-103", "--concurrency", "3", "--llm-concurrency", "1"]
    code = main(["run", *args, "--repo", str(sample_repo), "--publish", "none", "--output-dir", str(tmp_path / "out")])
    assert code == 0
    [(limited_at, limited_key)] = limited  # one 429: nobody ran into the limit again
    early = [(round(t - limited_at, 3), key, role) for t, key, role in calls if t < limited_at + retry_after]
    assert early == []
    # Every ticket's calls came after the pause, the limited ticket's retry and everyone else's.
    assert {key for _, key, _ in calls} == {"QA-101", "QA-102", "QA-103"}
    assert (limited_key, "planner") in {(key, role) for _, key, role in calls}


def test_concurrent_tickets_keep_their_log_sections_whole(llm, atlassian, sample_repo, tmp_path, capsys):
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url, GITLAB_CI="true")
    llm.responder = responder()
    keys = ["QA-101", "QA-102", "QA-103"]
    assert (
        main(
            [
                "run",
                "--keys",
                ",".join(keys),
                "--concurrency",
                "3",
                "--repo",
                str(sample_repo),
                "--publish",
                "none",
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    sections = re.findall(
        r"section_start:\d+:jira2robot_(qa-\d+)\r\x1b\[0K(.*?)\x1b\[0Ksection_end:\d+:jira2robot_\1\r", out, re.S
    )
    assert sorted(name.upper() for name, _ in sections) == keys
    for name, body in sections:
        key = name.upper()
        # Inside a section only that ticket's lines (LLM stream included): nothing interleaved.
        tagged = [line for line in body.splitlines() if re.match(r"\[QA-\d+", line)]
        assert tagged and all(line.startswith(f"[{key}") for line in tagged)
        assert f"[{key} writer] *** Test Cases ***" in body
        assert f"[{key}] dryrun passed" in body  # the stage detail is in the section...
    # ...and only there: each ticket line is printed once, live lines being one `started` each.
    stage_lines = Counter(line for line in out.splitlines() if re.match(r"\[QA-\d+\] ", line))
    assert {line: n for line, n in stage_lines.items() if n > 1} == {}
    outside = re.sub(r"section_start:.*?section_end:\S+", "", out, flags=re.S)
    live = [line for line in outside.splitlines() if line.startswith("[QA-")]
    assert sorted(live) == [f"[{k}] started" for k in keys]
    summary = out.split("jira2robot summary:")[1]
    assert all(re.search(rf"{k}\s+created", summary) for k in keys)


def test_parallel_shards_then_merge_reports(atlassian, sample_repo, tmp_path, capsys):
    keys = "QA-101,QA-102,QA-103,QA-104"
    for index in (1, 2):
        os.environ.update(CI_NODE_INDEX=str(index), CI_NODE_TOTAL="2")
        code = main(
            [
                "run",
                "--keys",
                keys,
                "--publish",
                "none",
                *offline_args(sample_repo, tmp_path / f"shard-{index}"),
            ]
        )
        assert code == 0
    shard_keys = [set(report(tmp_path / f"shard-{i}")) for i in (1, 2)]
    assert {t["shard"] for t in report(tmp_path / "shard-2").values()} == {2}
    assert shard_keys[0].isdisjoint(shard_keys[1])
    assert shard_keys[0] | shard_keys[1] == set(keys.split(","))
    merged = tmp_path / "merged"
    assert (
        main(
            [
                "merge-reports",
                str(tmp_path / "shard-1" / "report.json"),
                str(tmp_path / "shard-2" / "report.json"),
                "-o",
                str(merged),
            ]
        )
        == 0
    )
    data = json.loads((merged / "report.json").read_text())
    assert [t["key"] for t in data["tickets"]] == sorted(keys.split(","))
    assert data["summary"]["created"] == 4
    assert (merged / "junit.xml").read_text().count("<testcase") == 4


def test_merge_reports_missing_file_is_usage_error(tmp_path, capsys):
    assert main(["merge-reports", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_mr_link_is_commented_on_the_ticket_when_enabled(llm, atlassian, sample_repo, tmp_path):
    config = sample_repo / ".jira2robot.yml"
    config.write_text(config.read_text() + "merge_request:\n  comment_on_jira: true\n  labels: [qa, generated]\n")
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url, GITLAB_TOKEN="glpat-x-123456")
    os.environ["CI_PROJECT_ID"] = "7"
    llm.responder = responder()
    with FakeGitLab(token="glpat-x-123456") as gl:
        os.environ["CI_SERVER_URL"] = gl.url
        out = tmp_path / "out"
        assert (
            main(
                ["run", "--keys", "QA-104", "--repo", str(sample_repo), "--publish", "gitlab", "--output-dir", str(out)]
            )
            == 0
        )
        entry = report(out)["QA-104"]
        (mr,) = gl.mrs.values()
        assert mr.labels == ["qa", "generated"]
        assert entry["mr_url"].endswith(f"/merge_requests/{mr.iid}")
        assert ("QA-104", f"jira2robot opened a draft merge request: {entry['mr_url']}") in atlassian.added_comments
        assert "QA-104" in mr.description and "dryrun" in mr.description.lower()


def test_mr_limits_are_checked_before_spending_llm_calls(llm, atlassian, sample_repo, tmp_path):
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url, GITLAB_TOKEN="glpat-x-123456")
    os.environ["CI_PROJECT_ID"] = "7"
    llm.responder = responder()
    with FakeGitLab(token="glpat-x-123456") as gl:
        os.environ["CI_SERVER_URL"] = gl.url
        out = tmp_path / "out"
        code = main(
            [
                "run",
                "--keys",
                "QA-101,QA-104",
                "--concurrency",
                "1",
                "--max-new-mrs",
                "1",
                "--repo",
                str(sample_repo),
                "--publish",
                "gitlab",
                "--output-dir",
                str(out),
            ]
        )
        assert code == 0
        by_key = report(out)
        assert by_key["QA-101"]["status"] == "created"
        assert by_key["QA-104"]["status"] == "skipped"
        assert by_key["QA-104"]["reason"] == "limit max_new_mrs=1 reached"
        assert by_key["QA-104"]["llm"]["calls"] == 0
        assert len(gl.mrs) == 1 and len(llm.requests) == 2


@pytest.fixture
def gl(llm, atlassian):
    """The GitLab double, with the environment of a `--publish gitlab` run pointing at it."""
    os.environ.update(OPENAI_BASE_URL=llm.base_url, JIRA_MCP_URL=atlassian.url, GITLAB_TOKEN="glpat-x-123456")
    os.environ["CI_PROJECT_ID"] = "7"
    with FakeGitLab(token="glpat-x-123456") as gl:
        os.environ["CI_SERVER_URL"] = gl.url
        yield gl


def _gitlab_run(gl: FakeGitLab, sample_repo: Path, out: Path, keys: str, *extra: str) -> int:
    return main(
        ["run", "--keys", keys, "--repo", str(sample_repo), "--publish", "gitlab", "--output-dir", str(out), *extra]
    )


def test_slots_are_reserved_in_the_given_order_before_any_generation(llm, gl, sample_repo, tmp_path):
    """3 tickets, 1 new MR, default concurrency: only the first key given reaches the planner."""
    calls: list[tuple[float, str, str]] = []
    llm.responder = responder(calls)
    assert _gitlab_run(gl, sample_repo, tmp_path / "out", "QA-104,QA-101,QA-103", "--max-new-mrs", "1") == 0

    by_key = report(tmp_path / "out")
    assert by_key["QA-104"]["status"] == "created"
    for key in ("QA-101", "QA-103"):
        assert by_key[key]["status"] == "skipped"
        assert by_key[key]["reason"] == "limit max_new_mrs=1 reached"
        assert by_key[key]["llm"]["calls"] == 0
    assert {key for _, key, _ in calls} == {"QA-104"}
    assert len(llm.requests) == 2
    assert [mr.source_branch for mr in gl.mrs.values()] == ["jira2robot/QA-104"]


def test_a_failed_ticket_gives_its_slot_to_the_next_one_in_order(llm, gl, sample_repo, tmp_path):
    calls: list[tuple[float, str, str]] = []
    good = responder(calls)

    def reply(body: dict):
        answer = good(body)
        return Text("this is not a test spec") if calls[-1][1:] == ("QA-101", "planner") else answer

    llm.responder = reply
    code = _gitlab_run(gl, sample_repo, tmp_path / "out", "QA-101,QA-104,QA-103", "--max-new-mrs", "1")
    assert code == 1

    by_key = report(tmp_path / "out")
    assert by_key["QA-101"]["status"] == "failed"
    assert by_key["QA-104"]["status"] == "created"
    assert by_key["QA-103"]["status"] == "skipped"
    assert by_key["QA-103"]["reason"] == "limit max_new_mrs=1 reached"
    assert "QA-103" not in {key for _, key, _ in calls}
    assert [mr.source_branch for mr in gl.mrs.values()] == ["jira2robot/QA-104"]


def test_updates_need_no_slot_and_max_open_mrs_counts_existing_ones(llm, gl, sample_repo, tmp_path):
    calls: list[tuple[float, str, str]] = []
    llm.responder = responder(calls)
    assert _gitlab_run(gl, sample_repo, tmp_path / "first", "QA-101") == 0
    calls.clear()

    code = _gitlab_run(gl, sample_repo, tmp_path / "out", "QA-103,QA-101,QA-104", "--max-open-mrs", "2")

    assert code == 0
    by_key = report(tmp_path / "out")
    assert by_key["QA-101"]["status"] == "skipped" and by_key["QA-101"]["reason"].startswith("unchanged")
    assert by_key["QA-103"]["status"] == "created"
    assert by_key["QA-104"]["reason"] == "limit max_open_mrs=2 reached (1 open jira2robot merge requests)"
    assert {key for _, key, _ in calls} == {"QA-101", "QA-103"}


def test_mr_created_but_response_lost_is_created_in_the_report(llm, gl, sample_repo, tmp_path):
    llm.responder = responder()
    gl.drop_response_after("POST", r"/merge_requests$")
    code = _gitlab_run(gl, sample_repo, tmp_path / "out", "QA-101,QA-104", "--max-new-mrs", "1", "--concurrency", "1")

    assert code == 0
    by_key = report(tmp_path / "out")
    assert by_key["QA-101"]["status"] == "created"
    assert by_key["QA-101"]["mr_url"].endswith("/merge_requests/1")
    assert by_key["QA-104"]["reason"] == "limit max_new_mrs=1 reached"
    assert len(gl.mrs) == 1


def test_run_on_the_bots_own_branch_does_nothing(gl, sample_repo, tmp_path, capsys):
    os.environ["CI_COMMIT_REF_NAME"] = "bot/QA-101"
    code = _gitlab_run(gl, sample_repo, tmp_path / "out", "QA-101", "--recreate", "--branch-prefix", "bot/")

    assert code == 0
    assert "bot/QA-101 is one of jira2robot's own branches (bot/*): nothing to do." in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
    assert gl.requests == []

    os.environ["CI_COMMIT_REF_NAME"] = "main"
    args = ("--branch-prefix", "bot/", "--llm", "offline")
    assert _gitlab_run(gl, sample_repo, tmp_path / "out", "QA-101", *args) == 0
    assert [mr.source_branch for mr in gl.mrs.values()] == ["bot/QA-101"]


def test_version_comes_from_the_package_metadata(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"jira2robot {version('jira2robot')}"


def test_dashboard_issue_lists_tickets_and_its_checkboxes_drive_the_next_run(llm, gl, sample_repo, tmp_path):
    calls: list[tuple[float, str, str]] = []
    good = responder(calls)
    broken = {"QA-104"}

    def reply(body: dict):
        answer = good(body)
        return Text("no spec today") if calls[-1][1] in broken and calls[-1][2] == "planner" else answer

    llm.responder = reply
    assert _gitlab_run(gl, sample_repo, tmp_path / "one", "QA-101,QA-104", "--dashboard") == 1
    (issue,) = gl.issues.values()
    assert issue.title == "jira2robot dashboard" and issue.labels == ["jira2robot"]
    assert "- [ ] <!-- jira2robot:retry=QA-104 --> `QA-104`: planner spec never valid" in issue.description
    assert "| `QA-101` | created | [MR 1](" in issue.description

    # A reviewer ticks "retry" for QA-104 and closes QA-101's MR.
    broken.clear()
    issue.description = issue.description.replace(
        "- [ ] <!-- jira2robot:retry=QA-104", "- [x] <!-- jira2robot:retry=QA-104"
    )
    gl.set_mr_state(1, "closed")
    calls.clear()
    assert _gitlab_run(gl, sample_repo, tmp_path / "two", "QA-101", "--dashboard") == 0
    two = report(tmp_path / "two")
    assert two["QA-104"]["status"] == "created"  # asked for by the ticked box, not by --keys
    assert two["QA-101"]["reason"] == "closed MR !1 not recreated (use --recreate)"
    assert {key for _, key, _ in calls} == {"QA-104"}
    assert "retry=QA-104" not in issue.description and "| `QA-104` | created |" in issue.description
    assert "- [ ] <!-- jira2robot:recreate=QA-101 --> `QA-101`: [MR 1](" in issue.description

    # Ticking "recreate" replaces the closed MR on the next run, and only that one.
    issue.description = issue.description.replace("- [ ] <!-- jira2robot:recreate", "- [x] <!-- jira2robot:recreate")
    assert _gitlab_run(gl, sample_repo, tmp_path / "three", "QA-104", "--dashboard") == 0
    three = report(tmp_path / "three")
    assert three["QA-101"]["status"] == "created" and three["QA-101"]["reason"] == "draft MR !3 created"
    assert "recreate=QA-101" not in issue.description
    assert len(gl.issues) == 1

    # A ticked ticket held back by the MR limits keeps its ticked box for a later run.
    broken.add("QA-103")
    assert _gitlab_run(gl, sample_repo, tmp_path / "four", "QA-103", "--dashboard") == 1
    issue.description = issue.description.replace(
        "- [ ] <!-- jira2robot:retry=QA-103", "- [x] <!-- jira2robot:retry=QA-103"
    )
    assert _gitlab_run(gl, sample_repo, tmp_path / "five", "QA-104", "--dashboard", "--max-new-mrs", "0") == 0
    assert report(tmp_path / "five")["QA-103"]["reason"] == "limit max_new_mrs=0 reached"
    assert "- [x] <!-- jira2robot:retry=QA-103 -->" in issue.description


def test_rerun_keeps_the_branchs_file_and_the_reviewers_edits(llm, gl, sample_repo, tmp_path):
    """A renamed summary (new planned file name) and a reviewer's edits, then a re-run through the CLI."""
    version = {"path": "tests/login/qa-101_login_lockout.robot", "extra": ""}

    def reply(body: dict):
        if "PLANNER" in body["messages"][0]["content"]:
            return Text(spec_json("QA-101", version["path"]))
        return Text(GOOD_ROBOT + version["extra"])

    llm.responder = reply
    assert _gitlab_run(gl, sample_repo, tmp_path / "one", "QA-101") == 0
    (mr,) = gl.mrs.values()
    gl.edit_mr(mr.iid, title="[QA-101] Lockout", description=f"Please check the lockout timer.\n\n{mr.description}")

    version.update(path="tests/login/qa-101_account_lockout.robot", extra="\n# reworded after review\n")
    assert _gitlab_run(gl, sample_repo, tmp_path / "two", "QA-101") == 0

    entry = report(tmp_path / "two")["QA-101"]
    assert entry["status"] == "updated"
    assert entry["test_path"] == "tests/login/qa-101_login_lockout.robot"
    branch_files = {p for p in gl.commits[gl.branches["jira2robot/QA-101"]].files if p.startswith("tests/login/qa-101")}
    assert branch_files == {"tests/login/qa-101_login_lockout.robot"}
    assert gl.file("jira2robot/QA-101", "tests/login/qa-101_login_lockout.robot").endswith("# reworded after review\n")
    assert mr.title == "[QA-101] Lockout"
    assert mr.description.startswith("Please check the lockout timer.\n\n<!-- jira2robot:start -->")
