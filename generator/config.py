"""Settings: CLI flags over environment variables over `.jira2robot.yml` over defaults.

All problems are collected and raised together as one `ConfigError` (exit code 2), so a
user fixes a broken CI variable set in one round trip instead of one per pipeline run.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

REPO_CONFIG_FILE = ".jira2robot.yml"


class ConfigError(Exception):
    """Usage or configuration problem; the message lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


class ToolNames(_Strict):
    """MCP tool names; defaults are those of the mcp-atlassian server."""

    jira_get_issue: str = "jira_get_issue"
    jira_search: str = "jira_search"
    confluence_search: str = "confluence_search"
    confluence_get_page: str = "confluence_get_page"
    jira_add_comment: str = "jira_add_comment"


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


class MergeRequestSettings(_Strict):
    branch_prefix: str = "jira2robot/"
    labels: list[str] = Field(default_factory=lambda: ["jira2robot"])
    assignee: str | None = None
    reviewers: list[str] = Field(default_factory=list)
    comment_on_jira: bool = False


class RepoConfig(_Strict):
    """The keys allowed in `.jira2robot.yml` (also settable by flag or env where listed)."""

    tests_dir: str = "tests"
    convention_doc: str = "doc/convention.md"
    convention_optional: bool = False
    confluence_query: str = "architecture"
    confluence_limit: int = Field(3, ge=0, le=20)
    acceptance_field: str = Field("", description="Jira custom field holding the acceptance criteria, if any.")
    robot_options: list[str] = Field(default_factory=list, description="Extra robot options, e.g. ['-v', 'env:x'].")
    pythonpath: list[str] = Field(default_factory=list, description="Repo-relative folders added to PYTHONPATH.")
    tools: ToolNames = Field(default_factory=ToolNames)
    limits: Limits = Field(default_factory=Limits)
    merge_request: MergeRequestSettings = Field(default_factory=MergeRequestSettings)
    planner_model: str | None = None
    writer_model: str | None = None


class Settings(BaseModel):
    """Everything one `jira2robot run` needs, already validated."""

    model_config = ConfigDict(extra="forbid")

    keys: list[str] = Field(default_factory=list)
    jql: str | None = None
    max_tickets: int = 50
    tickets_dir: Path | None = None
    pages_dir: Path | None = None
    repo: Path
    output_dir: Path
    publish: Literal["gitlab", "local", "none"] = "local"
    llm: Literal["openai", "offline"] = "openai"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    model_planner: str = "magistral-2509"
    model_writer: str = "magistral-2509"
    jira_mcp_url: str | None = None
    jira_mcp_token: SecretStr | None = None
    gitlab_mcp_url: str | None = None
    gitlab_url: str | None = None
    gitlab_project: str | None = None
    gitlab_token: SecretStr | None = None
    target_branch: str = "main"
    recreate: bool = False
    node_index: int = 1
    node_total: int = 1
    repo_config: RepoConfig = Field(default_factory=RepoConfig)

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, reports or merge requests."""
        return [
            s.get_secret_value()
            for s in (self.openai_api_key, self.gitlab_token, self.jira_mcp_token)
            if s is not None and s.get_secret_value()
        ]


KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


def split_keys(raw: str | None) -> list[str]:
    """Keys from `--keys`/`JIRA_KEYS`: comma or whitespace separated, order kept, duplicates dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,\s]+", raw or ""):
        if part:
            seen.setdefault(part.strip().upper(), None)
    return list(seen)


def _format_pydantic(prefix: str, err: ValidationError) -> list[str]:
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
    if not path.is_file():
        return RepoConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of keys, got {type(data).__name__}"])
    if isinstance(data.get("robot_options"), str):
        data["robot_options"] = shlex.split(data["robot_options"])
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_pydantic(f"{REPO_CONFIG_FILE}: ", exc)) from exc


def _env(environ: dict[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _int(problems: list[str], name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        problems.append(f"{name}: expected a whole number, got {raw!r}")
        return default


def _seconds(problems: list[str], name: str, raw: str, default: float) -> float:
    try:
        return float(raw)
    except ValueError:
        problems.append(f"{name}: expected a number of seconds, got {raw!r}")
        return default


def build_settings(
    cli: dict[str, Any],
    environ: dict[str, str] | None = None,
    *,
    command: Literal["run", "demo", "validate", "keywords"] = "run",
) -> Settings:
    """Merge CLI values (None = not given) over env over `.jira2robot.yml`, then check completeness.

    Raises ConfigError listing every problem at once.
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []

    def pick(flag: str, *env_names: str) -> Any:
        if cli.get(flag) is not None:
            return cli[flag]
        for name in env_names:
            if (value := _env(env, name)) is not None:
                return value
        return None

    repo = Path(pick("repo", "CI_PROJECT_DIR") or ".").resolve()
    if not repo.is_dir():
        problems.append(f"--repo / CI_PROJECT_DIR: {repo} is not a folder")
        repo_config = RepoConfig()
    else:
        try:
            repo_config = load_repo_config(repo)
        except ConfigError as exc:
            problems.extend(exc.problems)
            repo_config = RepoConfig()

    overrides: dict[str, Any] = {}
    for flag, env_name in (
        ("tests_dir", "JIRA2ROBOT_TESTS_DIR"),
        ("convention_doc", "JIRA2ROBOT_CONVENTION_DOC"),
        ("confluence_query", "JIRA2ROBOT_CONFLUENCE_QUERY"),
    ):
        if (value := pick(flag, env_name)) is not None:
            overrides[flag] = value
    if (value := pick("robot_options", "JIRA2ROBOT_ROBOT_OPTIONS")) is not None:
        overrides["robot_options"] = repo_config.robot_options + shlex.split(value)
    limits = repo_config.limits.model_dump()
    for flag, env_name, parse in (
        ("max_attempts", "JIRA2ROBOT_MAX_ATTEMPTS", _int),
        ("concurrency", "JIRA2ROBOT_CONCURRENCY", _int),
        ("llm_concurrency", "JIRA2ROBOT_LLM_CONCURRENCY", _int),
        ("max_open_mrs", "JIRA2ROBOT_MAX_OPEN_MRS", _int),
        ("max_new_mrs", "JIRA2ROBOT_MAX_NEW_MRS", _int),
        ("max_tokens_per_ticket", "JIRA2ROBOT_MAX_TOKENS_PER_TICKET", _int),
        ("max_tokens_per_run", "JIRA2ROBOT_MAX_TOKENS_PER_RUN", _int),
        ("breaker_threshold", "JIRA2ROBOT_BREAKER_THRESHOLD", _int),
        ("llm_timeout", "JIRA2ROBOT_LLM_TIMEOUT", _seconds),
        ("llm_connect_timeout", "JIRA2ROBOT_LLM_CONNECT_TIMEOUT", _seconds),
        ("llm_stall_timeout", "JIRA2ROBOT_LLM_STALL_TIMEOUT", _seconds),
        ("ticket_timeout", "JIRA2ROBOT_TICKET_TIMEOUT", _seconds),
        ("mcp_timeout", "JIRA2ROBOT_MCP_TIMEOUT", _seconds),
    ):
        raw = pick(flag, env_name)
        if raw is not None:
            limits[flag] = parse(problems, f"--{flag.replace('_', '-')} / {env_name}", str(raw), limits[flag])
    overrides["limits"] = limits
    mr = repo_config.merge_request.model_dump()
    if (value := pick("labels", "JIRA2ROBOT_LABELS")) is not None:
        mr["labels"] = [x.strip() for x in str(value).split(",") if x.strip()]
    if (value := pick("branch_prefix", "JIRA2ROBOT_BRANCH_PREFIX")) is not None:
        mr["branch_prefix"] = value
    overrides["merge_request"] = mr
    try:
        repo_config = RepoConfig.model_validate({**repo_config.model_dump(), **overrides})
    except ValidationError as exc:
        problems.extend(_format_pydantic("", exc))

    keys = split_keys(pick("keys", "JIRA_KEYS"))
    bad = [k for k in keys if not KEY_RE.match(k)]
    if bad:
        problems.append(f"--keys / JIRA_KEYS: not Jira keys (expected PROJ-123): {', '.join(bad)}")
    jql = pick("jql", "JIRA_JQL")

    api_key = pick("openai_api_key", "OPENAI_API_KEY")
    base_url = pick("openai_base_url", "OPENAI_BASE_URL")
    llm = pick("llm", "JIRA2ROBOT_LLM")
    if llm is None:
        llm = "offline" if command == "demo" and not (api_key or base_url) else "openai"
    if llm not in ("openai", "offline"):
        problems.append(f"--llm / JIRA2ROBOT_LLM: expected 'openai' or 'offline', got {llm!r}")
        llm = "openai"
    publish = pick("publish", "JIRA2ROBOT_PUBLISH") or "local"
    if publish not in ("gitlab", "local", "none"):
        problems.append(f"--publish / JIRA2ROBOT_PUBLISH: expected gitlab, local or none, got {publish!r}")
        publish = "local"
    tickets_dir = pick("tickets_dir", "JIRA2ROBOT_TICKETS_DIR")
    pages_dir = pick("pages_dir", "JIRA2ROBOT_PAGES_DIR")
    if pages_dir and not Path(pages_dir).is_dir():
        problems.append(f"--pages-dir: {pages_dir} is not a folder")
    jira_mcp_url = pick("jira_mcp_url", "JIRA_MCP_URL")

    if command == "run":
        if not keys and not jql:
            problems.append("no tickets: give --keys QA-1,QA-2 (or JIRA_KEYS) or --jql '...' (or JIRA_JQL)")
        if llm == "openai" and not base_url and not api_key:
            problems.append(
                "no LLM: set OPENAI_BASE_URL (and OPENAI_API_KEY if the server needs one), "
                "or pass --llm offline for the deterministic writer"
            )
        if not jira_mcp_url and not tickets_dir:
            problems.append("no ticket source: set JIRA_MCP_URL (streamable HTTP MCP server) or --tickets-dir DIR")
        if tickets_dir and not Path(tickets_dir).is_dir():
            problems.append(f"--tickets-dir: {tickets_dir} is not a folder")
    gitlab_url = pick("gitlab_url", "CI_SERVER_URL")
    gitlab_project = pick("gitlab_project", "CI_PROJECT_ID", "CI_PROJECT_PATH")
    gitlab_token = pick("gitlab_token", "GITLAB_TOKEN")
    if publish == "gitlab" and command == "run":
        missing = [
            name
            for name, value in (
                ("CI_SERVER_URL", gitlab_url),
                ("CI_PROJECT_ID or CI_PROJECT_PATH", gitlab_project),
                ("GITLAB_TOKEN (a project access token with api scope; CI_JOB_TOKEN cannot open MRs)", gitlab_token),
            )
            if not value
        ]
        if missing:
            problems.append("--publish gitlab needs " + ", ".join(missing))

    node_index = _int(problems, "CI_NODE_INDEX", pick("node_index", "CI_NODE_INDEX"), 1)
    node_total = _int(problems, "CI_NODE_TOTAL", pick("node_total", "CI_NODE_TOTAL"), 1)
    if not 1 <= node_index <= max(node_total, 1):
        problems.append(f"CI_NODE_INDEX={node_index} is outside 1..CI_NODE_TOTAL={node_total}")
    max_tickets = _int(
        problems, "--max-tickets / JIRA2ROBOT_MAX_TICKETS", pick("max_tickets", "JIRA2ROBOT_MAX_TICKETS"), 50
    )

    if problems:
        raise ConfigError(problems)

    output_dir = Path(pick("output_dir", "OUTPUT_DIR") or "generated").resolve()
    return Settings(
        keys=keys,
        jql=jql,
        max_tickets=max_tickets,
        tickets_dir=Path(tickets_dir).resolve() if tickets_dir else None,
        pages_dir=Path(pages_dir).resolve() if pages_dir else None,
        repo=repo,
        output_dir=output_dir,
        publish=publish,
        llm=llm,
        openai_api_key=SecretStr(api_key) if api_key else None,
        openai_base_url=base_url,
        model_planner=pick("model_planner", "OPENAI_MODEL_PLANNER") or repo_config.planner_model or "magistral-2509",
        model_writer=pick("model_writer", "OPENAI_MODEL_WRITER") or repo_config.writer_model or "magistral-2509",
        jira_mcp_url=jira_mcp_url,
        jira_mcp_token=SecretStr(t) if (t := pick("jira_mcp_token", "JIRA_MCP_TOKEN")) else None,
        gitlab_mcp_url=pick("gitlab_mcp_url", "GITLAB_MCP_URL"),
        gitlab_url=gitlab_url,
        gitlab_project=gitlab_project,
        gitlab_token=SecretStr(gitlab_token) if gitlab_token else None,
        target_branch=pick("target_branch", "CI_DEFAULT_BRANCH") or "main",
        recreate=bool(cli.get("recreate")),
        node_index=node_index,
        node_total=node_total,
        repo_config=repo_config,
    )
