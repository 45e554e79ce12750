"""The repository's own configuration, `.jira2robot.yml`: its models (unknown keys and wrong
types are errors naming the key), the tests-folder rule, and the one rule for Jira keys.
`generator.config.settings` layers it under the environment and the command line."""

from __future__ import annotations

import posixpath
import re
import shlex
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from generator.clients.mcp.tools import ToolNames

REPO_CONFIG_FILE = ".jira2robot.yml"


class ConfigError(Exception):
    """Usage or configuration problem; the message lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, defer_build=True)


class Limits(_Strict):
    max_attempts: int = Field(3, ge=1, le=10, description="Writer attempts per ticket (first + repairs).")
    max_tool_rounds: int = Field(6, ge=0, le=50, description="Tool-call rounds per writer attempt.")
    llm_timeout: float = Field(300.0, gt=0, description="Seconds for one LLM call, streaming included.")
    llm_connect_timeout: float = Field(10.0, gt=0, description="Seconds to open a connection to the LLM server.")
    llm_stall_timeout: float = Field(45.0, gt=0, description="Seconds without a streamed chunk before giving up.")
    ticket_timeout: float = Field(900.0, gt=0, description="Seconds for one ticket, gather to publish.")
    mcp_timeout: float = Field(60.0, gt=0, description="Seconds for one MCP tool call.")
    breaker_threshold: int = Field(
        3, ge=1, le=100, description="Consecutive connection failures/timeouts before an endpoint counts as down."
    )
    max_ticket_chars: int = Field(
        20_000, ge=500, description="Characters of each ticket field (description, criteria, comments) in prompts."
    )
    max_page_chars: int = Field(8_000, ge=500, description="Characters of each Confluence page in prompts.")
    llm_retries: int = Field(4, ge=0, le=20, description="Retries on 429/5xx/timeouts per LLM call.")
    concurrency: int = Field(4, ge=1, le=64, description="Tickets processed at the same time.")
    llm_concurrency: int = Field(2, ge=1, le=64, description="LLM calls in flight (safe for a self-hosted model).")
    mcp_concurrency: int = Field(4, ge=1, le=64)
    gitlab_concurrency: int = Field(2, ge=1, le=16)
    dryrun_workers: int = Field(2, ge=1, le=16, description="Processes running robot --dryrun.")
    max_tokens_per_ticket: int | None = Field(None, ge=1)
    max_tokens_per_run: int | None = Field(None, ge=1)
    cost_per_1k_tokens: float | None = Field(None, ge=0)
    max_open_mrs: int = Field(10, ge=0)
    max_new_mrs: int = Field(5, ge=0)
    examples: int = Field(2, ge=0, le=10, description="Similar existing tests shown to the writer.")
    scan_timeout: float = Field(
        60.0, gt=0, description="Seconds one repo library or variable file may take to import in the keyword scan."
    )


class MergeRequestSettings(_Strict):
    branch_prefix: str = "jira2robot/"
    labels: list[str] = Field(default_factory=lambda: ["jira2robot"])
    assignee: str | None = None
    reviewers: list[str] = Field(default_factory=list)
    comment_on_jira: bool = False
    dashboard: bool = False  # keep the "jira2robot dashboard" issue current (generator/publish/dashboard.py)


class ModelOptions(_Strict):
    """Request fields for one model (`models.<name>` in `.jira2robot.yml`), for the servers that
    need them: reasoning models that only take their default temperature, a reasoning effort, a
    server's own fields (`extra_body`, sent as they are). See docs/model-servers.md."""

    temperature: float | None = Field(
        None, ge=0, le=2, description="Overrides the run's temperature for this model; null: none sent."
    )
    reasoning_effort: str | None = Field(None, description="e.g. low, medium, high (OpenAI o-series/gpt-5, DeepSeek).")
    max_tokens: int | None = Field(
        None, ge=1, description="Output cap; sent as max_completion_tokens when the server asks."
    )
    extra_body: dict[str, Any] = Field(default_factory=dict, description="More request fields, sent as they are.")

    def request_fields(self) -> dict[str, Any]:
        """The fields to add to every request for this model; a None value means "send none"."""
        fields: dict[str, Any] = dict(self.extra_body)
        if self.reasoning_effort is not None:
            fields["reasoning_effort"] = self.reasoning_effort
        if self.max_tokens is not None:
            fields["max_tokens"] = self.max_tokens
        if "temperature" in self.model_fields_set:
            fields["temperature"] = self.temperature
        return fields


class RepoConfig(_Strict):
    """The keys allowed in `.jira2robot.yml` (also settable by flag or env where listed)."""

    tests_dir: str = Field("tests", description="Detected from where the suites are when not set; '.' is the root.")
    convention_doc: str = "doc/convention.md"
    convention_optional: bool = Field(
        True, description="Without the document, conventions are derived from the suites; false makes it required."
    )
    python: str | None = Field(
        None, description="The repo's own Python (a venv with its RF and libraries): dryrun and scan run there."
    )
    confluence_query: str = "architecture"
    confluence_limit: int = Field(3, ge=0, le=20)
    acceptance_field: str = Field(
        "",
        description="Jira field holding the acceptance criteria: an id (customfield_10100) or a display name. "
        "Empty: a custom field named 'Acceptance Criteria' if Jira has one, else the description's section.",
    )
    robot_options: list[str] = Field(default_factory=list, description="Extra robot options, e.g. ['-v', 'env:x'].")
    pythonpath: list[str] = Field(default_factory=list, description="Repo-relative folders added to PYTHONPATH.")
    dryrun_env: list[str] = Field(
        default_factory=list,
        description="Secret-looking environment variables the repo's code may still see in the dryrun "
        "(the run's own tokens never): see docs/security.md.",
    )
    tools: ToolNames = Field(default_factory=ToolNames)
    limits: Limits = Field(default_factory=Limits)
    merge_request: MergeRequestSettings = Field(default_factory=MergeRequestSettings)
    planner_model: str | None = None
    writer_model: str | None = None
    temperature: float | None = Field(
        0.1, ge=0, le=2, description="Sampling temperature of every LLM call; null: none sent (the server's default)."
    )
    writer_tools: bool = Field(True, description="false: the writer gets no tools (servers or models without them).")
    models: dict[str, ModelOptions] = Field(default_factory=dict, description="Request fields per model name.")
    # How generated tests are written (docs/quality.md); unset keys follow the convention doc.
    incomplete: Literal["skip", "fail"] | None = Field(None, description="How a test with a missing step ends.")
    test_name_max_words: int | None = Field(None, ge=2, le=30)
    slug_max_words: int | None = Field(None, ge=1, le=20)
    line_length: int | None = Field(None, ge=60, le=400)

    @field_validator("tests_dir")
    @classmethod
    def _repo_relative_folder(cls, value: str) -> str:
        return tests_folder(value)


def tests_folder(value: str, repo: Path | None = None) -> str:
    """The tests folder in one spelling (`''`, `./` and `.` are the root; `tests/` is `tests`), so
    every path check compares like with like; ValueError when it is outside the repo.

    The one owner of the rule: the config key's validator checks the text (absolute, `..`);
    once the repo is known (`repo`), a symlink that leads out of it is outside too.
    """
    if "\\" in value or value.strip().startswith("/") or re.match(r"^[A-Za-z]:", value.strip()):
        raise ValueError(
            "an absolute path is outside the repo: give a folder relative to the repo root, with '/' separators ('.' is the root)"
        )
    folder = posixpath.normpath(value.strip() or ".")
    if folder == ".." or folder.startswith("../"):
        raise ValueError(
            "the tests folder is outside the repo ('..' leaves it): use a folder relative to the repo root"
        )
    if repo is not None and not (repo / folder).resolve().is_relative_to(repo.resolve()):
        raise ValueError(_outside(value, repo))
    return folder


#: A Jira key, ASCII only: `\d` would accept Unicode digits, `$` a trailing newline.
KEY_PATTERN = r"[A-Z][A-Z0-9_]*-[0-9]+"
KEY_RE = re.compile(KEY_PATTERN, re.ASCII)


def valid_key(key: str) -> bool:
    """The one key check for every source (flags, env, ticket files, JQL results, payloads).

    Keys become branch names and file paths, so anything else is refused before use.
    """
    return isinstance(key, str) and KEY_RE.fullmatch(key) is not None


def describe_key(raw: object) -> str:
    """A rejected key as it may be shown: repr (control characters visible), truncated."""
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def split_keys(raw: str | None) -> list[str]:
    """Keys from `--keys`/`JIRA_KEYS`: comma or whitespace separated, order kept, duplicates dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,\s]+", raw or ""):
        if part:
            seen.setdefault(part.strip().upper(), None)
    return list(seen)


def format_pydantic(prefix: str, err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        if e["type"] == "extra_forbidden":
            problems.append(f"{prefix}unknown key '{loc}' (check the spelling; see README 'Configuration')")
        else:
            problems.append(f"{prefix}key '{loc}': {e['msg']} (got {e.get('input')!r})")
    return problems


def load_repo_config(repo: Path) -> RepoConfig:
    """Read `.jira2robot.yml` at the repo root; absent file means defaults."""
    path = repo / REPO_CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        return RepoConfig()
    import yaml  # most repos have no configuration file: the parser loads only for one

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8 (or delete it to use the defaults)"]
        ) from None
    except OSError as exc:
        raise ConfigError(
            [f"{path}: cannot be read ({exc.strerror or type(exc).__name__}): make it a readable file, or delete it"]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of keys, got {type(data).__name__}"])
    if isinstance(data.get("robot_options"), str):
        data["robot_options"] = shlex.split(data["robot_options"])
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_pydantic(f"{REPO_CONFIG_FILE}: ", exc)) from exc


def escaping_paths(repo: Path, cfg: RepoConfig) -> list[str]:
    """Repo paths from the config that lead outside the repo (absolute, `..`, or via a symlink).

    The tests folder is walked, the convention document is sent to the model and pythonpath
    folders are imported by the dryrun: none of them may reach the rest of the file system.
    `tests_dir: .` (the repo root itself) is inside.
    """
    problems = []
    try:
        tests_folder(cfg.tests_dir, repo)
    except ValueError as exc:
        problems.append(f"tests_dir: {exc}")
    named = [("convention_doc", cfg.convention_doc)]
    named += [(f"pythonpath[{i}]", entry) for i, entry in enumerate(cfg.pythonpath)]
    for name, value in named:
        if Path(value).is_absolute() or not (repo / value).resolve().is_relative_to(repo.resolve()):
            problems.append(f"{name}: {_outside(value, repo)}")
    return problems


def _outside(value: str, repo: Path) -> str:
    return (
        f"{value!r} is outside the repo {repo}: use a path relative to the repo root, "
        "without '..' and not through a symlink that leaves the repo"
    )
