"""Settings: CLI flags over environment variables over `.jira2robot.yml` over defaults.

`build_settings` layers the three sources and checks them all at once: every problem is
collected and raised together as one `ConfigError` (exit code 2), so a user fixes a broken CI
variable set in one round trip instead of one per pipeline run. The repository's own file and
its models are in `generator.config.repo_file`.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from generator.clients.mcp.auth import AUTH_SCHEMES, auth_headers
from generator.config.repo_file import (
    ConfigError,
    RepoConfig,
    describe_key,
    escaping_paths,
    format_pydantic,
    load_repo_config,
    split_keys,
    valid_key,
)
from generator.safety.redact import Redactor, url_credentials
from generator.safety.repo_env import RepoPythonError, check_supported, resolve_python

if TYPE_CHECKING:
    from generator.gather.repo import SuiteInfo


class Settings(BaseModel):
    """Everything one `jira2robot run` needs, already validated."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    #: The index of every suite of the repo, when finding the tests folder built it.
    _repo_suites: list[SuiteInfo] | None = PrivateAttr(default=None)

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
    jira_mcp_auth: Literal["bearer", "token", "basic"] = "bearer"
    jira_mcp_user: str | None = None
    jira_mcp_headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra headers for the Jira MCP server (values may be tokens)."
    )
    gitlab_mcp_url: str | None = None
    gitlab_url: str | None = None
    gitlab_project: str | None = None
    gitlab_token: SecretStr | None = None
    target_branch: str = "main"
    recreate: bool = False
    drift: bool | None = Field(None, description="Check covered tickets for requirement drift; None: on for JQL runs.")
    node_index: int = 1
    node_total: int = 1
    repo_config: RepoConfig = Field(default_factory=RepoConfig)
    repo_python: str | None = Field(None, description="The repo's own interpreter, checked; None: this one.")
    layout_note: str = Field("", description="Where the tests folder came from, printed at start.")

    @property
    def drift_on(self) -> bool:
        """Drift detection for this run: as asked, else on for backlog (JQL) runs, where covered
        tickets are revisited on a schedule, and off for keyed runs (a covered key stays a
        start-up-cost decision, no server asked)."""
        return self.drift if self.drift is not None else bool(self.jql)

    def suites(self) -> list[SuiteInfo]:
        """The suites of the tests folder, parsed (`gather.repo.index_suites`); taken from the
        whole repo's index when detecting the folder read it already, not read a second time."""
        from generator.gather.repo import index_suites, suites_within

        tests_dir = self.repo_config.tests_dir
        if (
            self._repo_suites is not None
            and (found := suites_within(self._repo_suites, self.repo, tests_dir)) is not None
        ):
            return found
        return index_suites(self.repo, tests_dir)

    def secret_items(self) -> dict[str, str]:
        """Every credential the run holds, by where it came from: tokens and URL user-info."""
        items = {
            name: s.get_secret_value()
            for name, s in (
                ("OPENAI_API_KEY", self.openai_api_key),
                ("GITLAB_TOKEN", self.gitlab_token),
                ("JIRA_MCP_TOKEN", self.jira_mcp_token),
            )
            if s is not None and s.get_secret_value()
        }
        items.update(
            {f"JIRA_MCP_HEADERS {name}": v.get_secret_value() for name, v in self.jira_mcp_headers.items() if v}
        )
        for name, url in (
            ("JIRA_MCP_URL", self.jira_mcp_url),
            ("GITLAB_MCP_URL", self.gitlab_mcp_url),
            ("OPENAI_BASE_URL", self.openai_base_url),
            ("CI_SERVER_URL", self.gitlab_url),
        ):
            items.update({f"{name} {part}": value for part, value in url_credentials(url).items()})
        return items

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, reports, merge requests or the dryrun's environment."""
        return list(dict.fromkeys(self.secret_items().values()))

    def redactor(self) -> Redactor:
        """The run's one redaction function (see generator/safety/redact.py)."""
        return Redactor(self.secret_items())

    def jira_mcp_http_headers(self) -> dict[str, str]:
        """What every request to the Jira MCP server carries: the chosen auth scheme, then extra headers."""
        token = self.jira_mcp_token.get_secret_value() if self.jira_mcp_token else None
        extra = {name: value.get_secret_value() for name, value in self.jira_mcp_headers.items()}
        return {**auth_headers(self.jira_mcp_auth, token, self.jira_mcp_user), **extra}


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def _headers(problems: list[str], raw: str | None) -> dict[str, SecretStr]:
    """`JIRA_MCP_HEADERS`: `Name: value` pairs, one per line or separated by `;`.

    For servers that take credentials in their own headers, e.g. mcp-atlassian's
    `X-Atlassian-Jira-Url` + `X-Atlassian-Jira-Personal-Token` pair.
    """
    headers: dict[str, SecretStr] = {}
    items = [item for item in re.split(r"[;\n]", raw or "") if item.strip()]
    for number, item in enumerate(items, 1):
        name, sep, value = item.partition(":")
        if not sep or not _HEADER_NAME.match(name.strip()) or not value.strip():
            # The item itself is not echoed: it may be a token.
            problems.append(f"JIRA_MCP_HEADERS: item {number} is not a 'Name: value' pair (pairs are separated by ';')")
            continue
        headers[name.strip()] = SecretStr(value.strip())
    return headers


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
    configured = set(repo_config.model_fields_set)

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
    if cli.get("dashboard"):
        mr["dashboard"] = True
    overrides["merge_request"] = mr
    if (value := pick("scan_timeout", "JIRA2ROBOT_SCAN_TIMEOUT")) is not None:
        try:
            limits["scan_timeout"] = float(value)
        except ValueError:
            problems.append(f"--scan-timeout / JIRA2ROBOT_SCAN_TIMEOUT: expected seconds, got {value!r}")
    usable = repo.is_dir()
    try:
        # Only what was set: a model's unset `temperature` must stay unset, not become "send none".
        repo_config = RepoConfig.model_validate({**repo_config.model_dump(exclude_unset=True), **overrides})
    except ValidationError as exc:
        problems.extend(format_pydantic("", exc))
        usable = False
    else:
        escaping = escaping_paths(repo, repo_config)
        problems.extend(escaping)
        usable = usable and not escaping
    configured |= set(overrides)
    layout_note, repo_suites = "", None
    if usable and command != "validate":  # validate checks a file where it is: no tests folder to find
        layout_note, repo_suites = _settle_tests_dir(repo, repo_config, explicit="tests_dir" in configured)
        if command in ("run", "demo"):
            problems += _convention_problems(repo, repo_config, explicit="convention_doc" in configured)

    keys = split_keys(pick("keys", "JIRA_KEYS"))
    bad = [describe_key(k) for k in keys if not valid_key(k)]
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
    jira_mcp_token = pick("jira_mcp_token", "JIRA_MCP_TOKEN")
    jira_mcp_auth = str(pick("jira_mcp_auth", "JIRA_MCP_AUTH") or "bearer").strip().lower()
    jira_mcp_user = pick("jira_mcp_user", "JIRA_MCP_USER")
    if jira_mcp_auth not in AUTH_SCHEMES:
        problems.append(f"JIRA_MCP_AUTH: expected bearer, token or basic, got {jira_mcp_auth!r}")
        jira_mcp_auth = "bearer"
    if jira_mcp_auth == "basic" and jira_mcp_url and not (jira_mcp_user and jira_mcp_token):
        problems.append(
            "JIRA_MCP_AUTH=basic (Jira Cloud) needs JIRA_MCP_USER (the Atlassian account's email) "
            "and JIRA_MCP_TOKEN (an API token of that account)"
        )
    jira_mcp_headers = _headers(problems, pick("jira_mcp_headers", "JIRA_MCP_HEADERS"))

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
        token = "GITLAB_TOKEN (a project access token with api scope; CI_JOB_TOKEN cannot open MRs)"
        if env.get("CI_COMMIT_REF_PROTECTED") == "false":
            # The usual cause in a job: the variable is protected and this branch is not.
            ref = env.get("CI_COMMIT_REF_NAME") or "this ref"
            token += f"; {ref} is not protected, and a protected CI/CD variable reaches only pipelines of protected branches and tags"
        missing = [
            name
            for name, value in (
                ("CI_SERVER_URL", gitlab_url),
                ("CI_PROJECT_ID or CI_PROJECT_PATH", gitlab_project),
                (token, gitlab_token),
            )
            if not value
        ]
        if missing:
            problems.append("--publish gitlab needs " + ", ".join(missing))

    node_index = _int(problems, "CI_NODE_INDEX", pick("node_index", "CI_NODE_INDEX"), 1)
    node_total = _int(problems, "CI_NODE_TOTAL", pick("node_total", "CI_NODE_TOTAL"), 1)
    if not 1 <= node_index <= max(node_total, 1):
        problems.append(f"CI_NODE_INDEX={node_index} is outside 1..CI_NODE_TOTAL={node_total}")
    drift = _flag(problems, pick("drift", "JIRA2ROBOT_DRIFT"), "--drift/--no-drift / JIRA2ROBOT_DRIFT")
    max_tickets = _int(
        problems, "--max-tickets / JIRA2ROBOT_MAX_TICKETS", pick("max_tickets", "JIRA2ROBOT_MAX_TICKETS"), 50
    )

    repo_python = None
    if (raw_python := pick("repo_python", "JIRA2ROBOT_REPO_PYTHON") or repo_config.python) and usable:
        secrets = [s for s in (api_key, gitlab_token, pick("jira_mcp_token", "JIRA_MCP_TOKEN")) if s]
        try:
            found = resolve_python(raw_python, repo)
            check_supported(found, secrets)
            repo_python = str(found)
        except RepoPythonError as exc:
            problems.append(f"--repo-python / JIRA2ROBOT_REPO_PYTHON / python: {exc}")

    if problems:
        raise ConfigError(problems)

    output_dir = Path(pick("output_dir", "OUTPUT_DIR") or "generated").resolve()
    settings = Settings(
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
        jira_mcp_token=SecretStr(jira_mcp_token) if jira_mcp_token else None,
        jira_mcp_auth=jira_mcp_auth,
        jira_mcp_user=jira_mcp_user,
        jira_mcp_headers=jira_mcp_headers,
        gitlab_mcp_url=pick("gitlab_mcp_url", "GITLAB_MCP_URL"),
        gitlab_url=gitlab_url,
        gitlab_project=gitlab_project,
        gitlab_token=SecretStr(gitlab_token) if gitlab_token else None,
        target_branch=pick("target_branch", "CI_DEFAULT_BRANCH") or "main",
        recreate=bool(cli.get("recreate")),
        drift=drift,
        node_index=node_index,
        node_total=node_total,
        repo_config=repo_config,
        repo_python=repo_python,
        layout_note=layout_note,
    )
    settings._repo_suites = repo_suites
    return settings


def _flag(problems: list[str], value: Any, name: str) -> bool | None:
    """A yes/no flag or variable (`true`/`false`, `1`/`0`, `yes`/`no`); an empty variable is unset."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "default"):
        return None
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    problems.append(f"{name}: expected true or false, got {value!r}")
    return None


def _settle_tests_dir(repo: Path, cfg: RepoConfig, *, explicit: bool) -> tuple[str, list[SuiteInfo] | None]:
    """Set `cfg.tests_dir` from where the suites are unless it was configured; say which it is,
    and hand on the whole repo's suite index when finding it read one (`Settings.suites`).

    Real repos keep suites at the root or in `login_tests/`: a fixed `tests` default would put
    every generated file into a new folder no suite of the repo is in.
    """
    from generator.gather.repo import detect_tests_dir, index_suites  # the RF parser: only when asked

    if explicit:
        return f"tests folder '{cfg.tests_dir}' (configured)", None
    suites = index_suites(repo, ".")
    detected = detect_tests_dir(suites)
    if detected is None:
        return f"tests folder '{cfg.tests_dir}' (default: no suite with tests found in the repo)", suites
    cfg.tests_dir, count = detected
    where = "the repository root" if cfg.tests_dir == "." else f"'{cfg.tests_dir}'"
    note = f"tests folder {where} detected from {count} suite(s) (set tests_dir or --tests-dir to override)"
    return note, suites


def _convention_problems(repo: Path, cfg: RepoConfig, *, explicit: bool) -> list[str]:
    """A convention document that was asked for but is missing: one error at start, not one per
    ticket. Without a configured one, conventions are derived from the suites."""
    from generator.gather.repo import read_convention

    if read_convention(repo, cfg.convention_doc) is not None or (cfg.convention_optional and not explicit):
        return []
    why = "is configured" if explicit else "is required (convention_optional: false)"
    return [
        f"convention document {cfg.convention_doc} {why} but not found in the repo: add it, fix "
        "convention_doc / --convention-doc, or remove it to derive conventions from the existing suites"
    ]
