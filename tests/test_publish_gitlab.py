"""GitLabPublisher through the real python-gitlab client against the stateful GitLab double.

Each test is one scenario a QA team meets when the job runs again and again on the same
backlog: first run, re-runs with and without changes, a reviewer pushing to the branch,
closing or merging the MR, limits, and GitLab misbehaving (conflicts, 5xx, bad token).
A new publisher per run mirrors a new pipeline: nothing is remembered but GitLab's state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from generator.config.repo_file import MergeRequestSettings
from generator.models import (
    Diagnostic,
    GeneratedTest,
    LLMUsage,
    SpecConfluence,
    SpecMeta,
    SpecRF,
    SpecSource,
    SpecTestCase,
    TestSpec,
    Ticket,
    TicketResult,
    ValidationResult,
)
from generator.publish import AUTHOR_EMAIL, PublishOutcome
from generator.publish.dashboard import Requests, merge_state, read_requests, read_state, render_dashboard
from generator.publish.describe import render_mr_description, render_mr_title
from generator.publish.gitlab import FOREIGN_NOTE_MARKER, GitLabPublisher, PublishError
from generator.publish.markdown import BLOCK_END, BLOCK_START, fingerprint, merge_block, read_marker, title_digest
from tests.servers.fake_gitlab import FakeGitLab

TOKEN = "glpat-s3cr3t-value-never-shown"
BRANCH = "jira2robot/QA-1"
TEXT = "*** Test Cases ***\nLogin Works\n    Open Login Page\n"


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab(token=TOKEN) as server:
        yield server


def publisher(fake: FakeGitLab, **overrides: Any) -> GitLabPublisher:
    options: dict[str, Any] = {
        "url": fake.url,
        "token": TOKEN,
        "project": fake.project_path,
        "target_branch": "main",
        "settings": MergeRequestSettings(),
        "max_open_mrs": 10,
        "max_new_mrs": 5,
        "retries": 2,
        "retry_base_delay": 0.01,
        "jira_url": "https://jira.example.com",
    }
    options.update(overrides)
    return GitLabPublisher(**options)


def inputs(
    key: str = "QA-1", *, text: str = TEXT, summary: str = "User can log in", path: str | None = None
) -> tuple[Ticket, TestSpec, GeneratedTest, ValidationResult, TicketResult]:
    ticket = Ticket(key=key, summary=summary, url=f"https://jira.example.com/browse/{key}")
    target = path or f"tests/generated/{key.lower().replace('-', '_')}.robot"
    spec = TestSpec(
        meta=SpecMeta(jira_key=key, title=summary),
        confluence=SpecConfluence(sources=[SpecSource(page_id="123", title="Login architecture", space_key="ARCH")]),
        rf=SpecRF(
            target_path=target,
            test_cases=[
                SpecTestCase(
                    name="Login Works", covers=["Given a user, when they log in, then they see home"], steps=["x"]
                )
            ],
        ),
    )
    test = GeneratedTest(target_path=target, text=text, open_questions=["Which locale?"])
    validation = ValidationResult(ok=True)
    result = TicketResult(
        key=key,
        status="created",
        attempts=2,
        llm=LLMUsage(calls=3, prompt_tokens=1200, completion_tokens=340),
        keywords_used=["Open Login Page"],
        steps_total=3,
        steps_mapped=2,
        tests_total=1,
        tests_incomplete=1,
    )
    return ticket, spec, test, validation, result


def publish(pub: GitLabPublisher, key: str = "QA-1", **kwargs: Any) -> PublishOutcome:
    return anyio.run(pub.publish, *inputs(key, **kwargs))


def covered(pub: GitLabPublisher, key: str = "QA-1") -> str | None:
    return anyio.run(pub.covered, key)


def assert_no_token(fake: FakeGitLab, *outcomes: PublishOutcome) -> None:
    stored = json.dumps(
        {
            "mrs": [asdict(mr) for mr in fake.mrs.values()],
            "commits": [asdict(c) for c in fake.commits.values()],
            "outcomes": [o.model_dump() for o in outcomes],
        }
    )
    assert TOKEN not in stored


# --------------------------------------------------------------------------- first run


def test_first_run_creates_branch_commit_and_draft_mr_in_one_go(fake: FakeGitLab) -> None:
    outcome = publish(publisher(fake))

    assert outcome.status == "created"
    assert outcome.reason == "draft MR !1 created"
    assert outcome.mr_url == f"{fake.url}/qa/shop-tests/-/merge_requests/1"
    commits = fake.branch_commits(BRANCH)
    assert len(commits) == 1
    assert commits[0].author_email == AUTHOR_EMAIL
    assert fake.file(BRANCH, "tests/generated/qa_1.robot") == TEXT
    assert fake.count("POST", r"/repository/commits$") == 1
    assert fake.count("POST", r"/repository/branches$") == 0  # the commit created the branch
    mr = fake.mrs[1]
    assert mr.title == "Draft: [QA-1] User can log in"
    assert mr.source_branch == BRANCH and mr.target_branch == "main"
    assert mr.labels == ["jira2robot"]
    assert mr.remove_source_branch
    assert "[QA-1](https://jira.example.com/browse/QA-1)" in mr.description
    assert mr.description.startswith(BLOCK_START) and mr.description.rstrip().endswith(BLOCK_END)
    fields = read_marker(mr.description)
    assert (fields["key"], fields["fingerprint"]) == ("QA-1", fingerprint(TEXT))
    assert fields["title"] == title_digest(mr.title)
    assert_no_token(fake, outcome)


def test_file_already_on_target_branch_is_updated_not_created(fake: FakeGitLab) -> None:
    outcome = publish(publisher(fake), path="tests/existing.robot")

    assert outcome.status == "created"
    assert fake.file(BRANCH, "tests/existing.robot") == TEXT
    assert fake.file("main", "tests/existing.robot") != TEXT


def test_assignee_and_reviewers_resolved_and_unknown_user_is_a_warning(fake: FakeGitLab) -> None:
    settings = MergeRequestSettings(assignee="alice", reviewers=["bob", "ghost"], labels=["qa", "jira2robot"])
    outcome = publish(publisher(fake, settings=settings))

    assert outcome.status == "created"
    assert "unknown GitLab user(s) not assigned: ghost" in outcome.reason
    mr = fake.mrs[1]
    assert mr.assignee_id == fake.users["alice"]
    assert mr.reviewer_ids == [fake.users["bob"]]
    assert mr.labels == ["qa", "jira2robot"]


# --------------------------------------------------------------------------- re-runs


def test_rerun_with_same_test_changes_nothing(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    outcome = publish(publisher(fake))

    assert outcome.status == "skipped"
    assert outcome.reason == "unchanged: MR !1 already up to date"
    assert len(fake.branch_commits(BRANCH)) == 1
    assert fake.count("POST", r"/repository/commits$") == 1
    assert fake.count("PUT", r"/merge_requests/\d+$") == 0
    assert len(fake.mrs) == 1


def test_rerun_with_changed_test_adds_one_commit_to_the_same_mr(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    changed = TEXT + "    Page Should Show Home\n"
    outcome = publish(publisher(fake), text=changed)

    assert outcome.status == "updated"
    assert outcome.reason == "MR !1 updated with a new commit"
    assert len(fake.branch_commits(BRANCH)) == 2
    assert fake.file(BRANCH, "tests/generated/qa_1.robot") == changed
    assert list(fake.mrs) == [1]
    assert fingerprint(changed) in fake.mrs[1].description
    assert fingerprint(TEXT) not in fake.mrs[1].description


def test_someone_elses_commit_stops_updates_with_exactly_one_note(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    fake.push_human_commit(BRANCH, "tests/generated/qa_1.robot", "hand-tuned\n")

    first = publish(publisher(fake), text=TEXT + "# v2\n")
    second = publish(publisher(fake), text=TEXT + "# v3\n")

    for outcome in (first, second):
        assert outcome.status == "skipped"
        assert outcome.reason.startswith(f"branch {BRANCH} has commits by someone else (Alice Reviewer")
        assert outcome.reason.endswith("; not overwritten")
        assert outcome.mr_url == f"{fake.url}/qa/shop-tests/-/merge_requests/1"
    assert fake.file(BRANCH, "tests/generated/qa_1.robot") == "hand-tuned\n"
    notes = fake.mrs[1].notes
    assert len(notes) == 1
    assert FOREIGN_NOTE_MARKER in notes[0]["body"]
    assert "--recreate" in notes[0]["body"]


def test_stale_view_of_a_concurrently_opened_mr_is_resolved_by_rereading(fake: FakeGitLab) -> None:
    late = publisher(fake)
    assert covered(late) is None  # caches "no MR yet"
    publish(publisher(fake))  # another job opens it meanwhile

    outcome = publish(late)

    assert outcome.status == "skipped"
    assert outcome.reason == "unchanged: MR !1 already up to date"
    assert len(fake.mrs) == 1
    assert len(fake.branch_commits(BRANCH)) == 1


# --------------------------------------------------------------------------- closed / merged


def test_closed_mr_is_respected_unless_recreate(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    fake.set_mr_state(1, "closed")

    plain = publisher(fake)
    assert covered(plain) == "closed MR !1 not recreated (use --recreate)"
    outcome = publish(plain, text=TEXT + "# v2\n")
    assert outcome.status == "skipped"
    assert outcome.reason == "closed MR !1 not recreated (use --recreate)"

    again = publisher(fake, recreate=True)
    assert covered(again) is None
    outcome = publish(again, text=TEXT + "# v2\n")
    assert outcome.status == "created"
    assert outcome.reason == "draft MR !2 created"
    assert fake.mrs[1].state == "closed" and fake.mrs[2].state == "opened"
    assert fake.count("DELETE", rf"/repository/branches/{BRANCH}$") == 1
    commits = fake.branch_commits(BRANCH)
    assert len(commits) == 1 and commits[0].author_email == AUTHOR_EMAIL


def test_merged_mr_means_covered(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    fake.set_mr_state(1, "merged")

    pub = publisher(fake, recreate=True)
    assert covered(pub) == "already covered by merged MR !1"
    outcome = publish(pub)
    assert outcome.status == "skipped"
    assert outcome.reason == "covered by merged MR !1"
    assert len(fake.mrs) == 1


# --------------------------------------------------------------------------- limits


def test_max_new_mrs_skips_new_tickets_but_not_updates(fake: FakeGitLab) -> None:
    pub = publisher(fake, max_new_mrs=1)
    assert publish(pub, "QA-1").status == "created"
    skipped = publish(pub, "QA-2")
    assert skipped.status == "skipped"
    assert skipped.reason == "limit max_new_mrs=1 reached"
    assert "jira2robot/QA-2" not in fake.branches

    update = publish(publisher(fake, max_new_mrs=0), "QA-1", text=TEXT + "# v2\n")
    assert update.status == "updated"


def test_max_open_mrs_counts_existing_open_mrs_and_this_runs_new_ones(fake: FakeGitLab) -> None:
    first = publisher(fake)
    publish(first, "QA-1")
    publish(first, "QA-2")

    pub = publisher(fake, max_open_mrs=3)
    assert publish(pub, "QA-3").status == "created"
    blocked = publish(pub, "QA-4")
    assert blocked.status == "skipped"
    assert blocked.reason == "limit max_open_mrs=3 reached (3 open jira2robot merge requests)"
    assert sorted(mr.source_branch for mr in fake.mrs.values()) == [f"jira2robot/QA-{n}" for n in (1, 2, 3)]


def test_without_labels_open_mrs_are_counted_by_branch_prefix(fake: FakeGitLab) -> None:
    unlabelled = MergeRequestSettings(labels=[])
    publish(publisher(fake, settings=unlabelled), "QA-1")
    fake.branches["feature/other"] = fake.branches["main"]
    fake.mrs[99] = replace(fake.mrs[1], iid=99, source_branch="feature/other", title="Other work")

    pub = publisher(fake, settings=unlabelled, max_open_mrs=2)
    assert publish(pub, "QA-2").status == "created"
    assert publish(pub, "QA-3").reason == "limit max_open_mrs=2 reached (2 open jira2robot merge requests)"


def test_failed_creation_gives_its_new_mr_slot_back(fake: FakeGitLab) -> None:
    pub = publisher(fake, max_new_mrs=1)
    fake.fail_next("POST", r"/repository/commits$", 403)
    with pytest.raises(PublishError, match=r"token lacks api scope or Developer role"):
        publish(pub)
    assert publish(pub).status == "created"


# --------------------------------------------------------------------------- GitLab misbehaving


def test_conflict_once_on_mr_creation_then_idempotent_success(fake: FakeGitLab) -> None:
    fake.fail_next("POST", r"/merge_requests$", 409)
    outcome = publish(publisher(fake))

    assert outcome.status == "created"
    assert fake.count("POST", r"/merge_requests$") == 2
    assert len(fake.mrs) == 1
    assert len(fake.branch_commits(BRANCH)) == 1  # the re-read saw the commit already there


def test_transient_5xx_is_retried(fake: FakeGitLab) -> None:
    fake.fail_next("POST", r"/repository/commits$", 500, times=2)
    outcome = publish(publisher(fake))

    assert outcome.status == "created"
    assert fake.count("POST", r"/repository/commits$") == 3
    assert len(fake.branch_commits(BRANCH)) == 1


def test_persistent_5xx_is_a_clear_publish_error(fake: FakeGitLab) -> None:
    fake.fail_next("GET", r"/merge_requests$", 503, times=100, message="503 upstream down")
    with pytest.raises(PublishError) as info:
        publish(publisher(fake))

    assert str(info.value) == (
        f"GitLab failed listing merge requests of {BRANCH}: HTTP 503 after 2 retries (503 upstream down)"
    )
    assert fake.count("GET", r"/merge_requests$") == 3


def test_rejected_token_names_the_variable_not_the_value(fake: FakeGitLab) -> None:
    wrong = "glpat-wrong-but-still-secret"
    pub = publisher(fake, token=wrong)
    with pytest.raises(PublishError) as info:
        covered(pub)
    message = str(info.value)
    assert message.startswith("GITLAB_TOKEN rejected (401): check the project access token")
    assert wrong not in message and TOKEN not in message
    with pytest.raises(PublishError, match="GITLAB_TOKEN rejected"):
        publish(pub)
    assert fake.mrs == {}


def test_unknown_project_is_named(fake: FakeGitLab) -> None:
    with pytest.raises(PublishError, match=r"^project qa/missing not found or not visible to the token$"):
        publish(publisher(fake, project="qa/missing"))


def test_project_by_numeric_id(fake: FakeGitLab) -> None:
    assert publish(publisher(fake, project=str(fake.project_id))).status == "created"


# --------------------------------------------------------------------------- description safety


def test_hostile_summary_cannot_run_quick_actions_or_inject_html(fake: FakeGitLab) -> None:
    summary = "Login\n/merge\n  /approve\n<script>alert(1)</script> @all Closes #12 [x](javascript:alert(1))"
    publish(publisher(fake), summary=summary)
    description = fake.mrs[1].description

    assert not [line for line in description.splitlines() if line.lstrip().startswith("/")]
    assert "<script>" not in description and "&lt;script&gt;" in description
    assert "@all" not in description
    assert "#12" not in description
    assert "[x](javascript:" not in description and r"\[x\](javascript:" in description
    title = fake.mrs[1].title
    assert title.startswith("Draft: [QA-1] Login /merge /approve")
    assert "\n" not in title


def test_description_reports_sources_coverage_validation_and_usage() -> None:
    ticket, spec, test, _, result = inputs()
    spec.rf.test_cases.append(SpecTestCase(name="Pipe | In Name", covers=["A | B", "C"], steps=["s"]))
    validation = ValidationResult(
        ok=False, diagnostics=[Diagnostic(message="No keyword with name 'Foo' found.", line=7)]
    )
    result.open_questions = ["Which locale?", "Is SSO in scope?"]
    text = render_mr_description(ticket, spec, test, validation, result)

    assert "- Login architecture (`123`, space `ARCH`)" in text
    assert "| Login Works | Given a user, when they log in, then they see home |" in text
    assert r"| Pipe \| In Name | A \| B<br>C |" in text
    assert "- `Open Login Page`" in text
    assert text.count("Which locale?") == 1 and "Is SSO in scope?" in text
    assert "❌ `robot --dryrun` failed with 1 error(s)" in text
    assert "line 7: No keyword with name 'Foo' found." in text
    assert "- Attempts: 2" in text
    assert "3 call(s), 1200 prompt + 340 completion tokens" in text
    assert "- Steps mapped to existing keywords: 2/3" in text


def test_title_is_truncated_to_gitlab_limit() -> None:
    title = render_mr_title(Ticket(key="QA-1", summary="word " * 100))
    assert 190 <= len(title) <= 200  # GitLab's limit is 255; the cap leaves room
    assert title.endswith("word…")
    assert title.startswith("Draft: [QA-1] word word")


# --------------------------------------------------------------------------- humans win


def test_reviewer_title_undraft_and_text_outside_the_block_survive_an_update(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    mr = fake.mrs[1]
    note = "Reviewer: please also cover the locked-account case.\n"
    fake.edit_mr(1, title="[QA-1] Login happy path", description=f"{note}\n{mr.description}\nThanks!\n")

    outcome = publish(publisher(fake), text=TEXT + "# v2\n", summary="User can log in again")

    assert outcome.status == "updated"
    assert mr.title == "[QA-1] Login happy path"  # not renamed, not re-drafted
    assert mr.description.startswith(note)
    assert mr.description.endswith("Thanks!\n")
    assert mr.description.count(BLOCK_START) == 1 and mr.description.count(BLOCK_END) == 1
    assert read_marker(mr.description)["fingerprint"] == fingerprint(TEXT + "# v2\n")
    assert "User can log in again" in mr.description


def test_bot_title_follows_a_renamed_summary_while_nobody_touched_it(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    publish(publisher(fake), text=TEXT + "# v2\n", summary="User can sign in")
    assert fake.mrs[1].title == "Draft: [QA-1] User can sign in"

    fake.edit_mr(1, title="[QA-1] User can sign in")  # "Mark as ready"
    publish(publisher(fake), text=TEXT + "# v3\n", summary="User can sign in with SSO")
    assert fake.mrs[1].title == "[QA-1] User can sign in"


def test_description_without_the_block_gets_it_appended_after_the_human_text(fake: FakeGitLab) -> None:
    publish(publisher(fake))
    fake.edit_mr(1, description="Rewritten by hand.")

    publish(publisher(fake), text=TEXT + "# v2\n")

    description = fake.mrs[1].description
    assert description.startswith("Rewritten by hand.\n\n" + BLOCK_START)
    assert fake.mrs[1].title == "Draft: [QA-1] User can log in"  # no marker: the title is left alone


# --------------------------------------------------------------------------- one file per ticket


def test_renamed_summary_keeps_the_file_path_of_the_branch(fake: FakeGitLab) -> None:
    publish(publisher(fake), path="tests/login/qa-1_user_can_log_in.robot")

    outcome = publish(publisher(fake), text=TEXT + "# v2\n", path="tests/login/qa-1_user_signs_in.robot")

    assert outcome.status == "updated"
    assert outcome.test_path == "tests/login/qa-1_user_can_log_in.robot"
    assert fake.file(BRANCH, "tests/login/qa-1_user_can_log_in.robot") == TEXT + "# v2\n"
    assert fake.file(BRANCH, "tests/login/qa-1_user_signs_in.robot") is None
    assert "`tests/login/qa-1_user_can_log_in.robot`" in fake.mrs[1].description


def test_new_folder_moves_the_file_in_one_commit(fake: FakeGitLab) -> None:
    publish(publisher(fake), path="tests/login/qa-1_login.robot")
    commits = fake.count("POST", r"/repository/commits$")

    outcome = publish(publisher(fake), path="tests/auth/qa-1_login.robot")

    assert outcome.status == "updated" and outcome.test_path == "tests/auth/qa-1_login.robot"
    assert fake.count("POST", r"/repository/commits$") == commits + 1
    assert fake.file(BRANCH, "tests/auth/qa-1_login.robot") == TEXT
    assert fake.file(BRANCH, "tests/login/qa-1_login.robot") is None


def test_a_second_file_left_by_an_older_run_is_removed(fake: FakeGitLab) -> None:
    publish(publisher(fake), path="tests/login/qa-1_a.robot")
    # What the old publisher left behind after a renamed summary: two files of the same ticket.
    fake.branches[BRANCH] = fake._new_commit(
        fake.branches[BRANCH],
        "Add generated Robot Framework test for QA-1",
        "jira2robot",
        AUTHOR_EMAIL,
        {**fake.commits[fake.branches[BRANCH]].files, "tests/login/qa-1_b.robot": TEXT},
    ).id

    outcome = publish(publisher(fake), path="tests/login/qa-1_a.robot")

    assert outcome.status == "updated"
    assert fake.file(BRANCH, "tests/login/qa-1_a.robot") == TEXT
    assert fake.file(BRANCH, "tests/login/qa-1_b.robot") is None


# --------------------------------------------------------------------------- lost responses


def test_mr_created_but_response_lost_is_reported_created_and_counted(fake: FakeGitLab) -> None:
    pub = publisher(fake, max_new_mrs=1)
    fake.drop_response_after("POST", r"/merge_requests$")

    outcome = publish(pub)

    assert outcome.status == "created", outcome
    assert outcome.reason == "draft MR !1 created"
    assert outcome.mr_url == f"{fake.url}/qa/shop-tests/-/merge_requests/1"
    assert len(fake.mrs) == 1 and fake.count("POST", r"/merge_requests$") == 1
    assert anyio.run(pub.new_mr_capacity) == (0, "limit max_new_mrs=1 reached")
    assert publish(pub, "QA-2").reason == "limit max_new_mrs=1 reached"


def test_capacity_is_the_tighter_of_the_two_limits(fake: FakeGitLab) -> None:
    publish(publisher(fake), "QA-1")
    assert anyio.run(publisher(fake, max_new_mrs=5, max_open_mrs=3).new_mr_capacity) == (
        2,
        "limit max_open_mrs=3 reached (1 open jira2robot merge requests)",
    )
    assert anyio.run(publisher(fake, max_new_mrs=1, max_open_mrs=3).new_mr_capacity)[0] == 1
    assert anyio.run(publisher(fake, max_open_mrs=1).new_mr_capacity)[0] == 0


# --------------------------------------------------------------------------- rendered text (golden files)

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/<name>; `UPDATE_GOLDEN=1 pytest ...` rewrites it after a deliberate change."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; review, then UPDATE_GOLDEN=1"


def golden_results() -> list[TicketResult]:
    hostile = "Broken <b>html</b> @all #12 [x](javascript:alert(1))\n/close"
    return [
        TicketResult(
            key="QA-1",
            status="created",
            reason="draft MR !1 created",
            mr_url="https://gitlab.example.com/qa/shop-tests/-/merge_requests/1",
            open_questions=["Which locale?", hostile, "Is SSO in scope?", "Which browser?"],
        ),
        TicketResult(key="QA-2", status="failed", reason=f"planner spec never valid: {hostile}"),
        TicketResult(
            key="QA-3",
            status="skipped",
            reason="closed MR !3 not recreated (use --recreate)",
            mr_url="https://gitlab.example.com/qa/shop-tests/-/merge_requests/3",
        ),
        TicketResult(key="QA-4", status="skipped", reason="already covered by tests/login/qa-4.robot (tagged QA-4)"),
    ]


def test_mr_description_matches_its_golden_file() -> None:
    ticket, spec, test, validation, result = inputs(summary="User can log in <script> @all\n/merge")
    text = render_mr_description(
        ticket, spec, test, validation, result, jira_url=None, title_hash="0123456789abcdef", run_id="run0001"
    )
    assert_golden("mr_description.md", text)


def test_updated_mr_description_keeps_the_reviewers_text_golden() -> None:
    ticket, spec, test, validation, result = inputs()
    first = render_mr_description(ticket, spec, test, validation, result, title_hash="0123456789abcdef")
    edited = f"Reviewer: also cover SSO.\n\n{first}\n- [ ] checked on staging\n"
    test.text += "# v2\n"
    validation = ValidationResult(ok=False, diagnostics=[Diagnostic(message="No keyword 'Foo' found.", line=3)])
    block = render_mr_description(ticket, spec, test, validation, result, title_hash="0123456789abcdef")
    assert_golden("mr_description_update.md", merge_block(edited, block))


def test_dashboard_matches_its_golden_file() -> None:
    state = merge_state({}, golden_results())
    assert_golden("dashboard.md", render_dashboard(state, still_asked=Requests(retry={"QA-2"})))


def test_dashboard_round_trips_its_state_and_reads_only_ticked_boxes_inside_its_block() -> None:
    text = render_dashboard(merge_state({}, golden_results()))
    assert read_state(text) == merge_state({}, golden_results())
    assert read_requests(text) == Requests()

    ticked = text.replace("- [ ] <!-- jira2robot:retry=QA-2 -->", "- [x] <!-- jira2robot:retry=QA-2 -->")
    ticked = ticked.replace("- [ ] <!-- jira2robot:recreate=QA-3 -->", "- [X] <!-- jira2robot:recreate=QA-3 -->")
    outside = "- [x] <!-- jira2robot:retry=QA-9 -->\n"
    assert read_requests(outside + ticked) == Requests(retry={"QA-2"}, recreate={"QA-3"})
    assert read_state("<!-- jira2robot:state=not*base64 -->") == {}
    assert not [line for line in text.splitlines() if line.lstrip().startswith("/")]
    assert "@all" not in text and "<b>" not in text and "[x](javascript:" not in text


def test_dashboard_issue_is_created_once_labelled_and_never_shows_the_token(fake: FakeGitLab) -> None:
    board = publisher(fake, settings=MergeRequestSettings(labels=["qa", "jira2robot"])).dashboard()
    leaky = TicketResult(key="QA-7", status="failed", reason=f"GitLab said {TOKEN} is wrong")

    url = anyio.run(lambda: board.write([leaky], handled={"QA-7"}, asked=Requests()))
    anyio.run(lambda: board.write(golden_results(), handled={"QA-1"}, asked=Requests()))

    (issue,) = fake.issues.values()
    assert url == f"{fake.url}/qa/shop-tests/-/issues/1"
    assert (issue.title, issue.labels) == ("jira2robot dashboard", ["qa"])
    assert TOKEN not in issue.description and r"GitLab said \[MASKED\] is wrong" in issue.description
    assert set(read_state(issue.description)) == {"QA-1", "QA-2", "QA-3", "QA-4", "QA-7"}
