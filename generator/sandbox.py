"""The environment of every subprocess that runs the repository's code.

`robot --dryrun` imports the repo's libraries and variable files, and a generated file
may have been written by a model reading hostile ticket text. Whatever slips past the
static checks must at least find no credentials to steal, so such processes get a copy
of our environment without anything that looks like a secret, nor any variable whose
value is one of the run's configured secrets (whatever its name).

A repo that really needs one of them during its dryrun (rare: a dryrun runs no
keyword) names it in `.jira2robot.yml` under `dryrun_env`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping

# Names (upper-cased) that hold credentials in GitLab CI and in the tools we talk to.
SECRET_NAME_PATTERNS: tuple[str, ...] = (
    "GITLAB_TOKEN",
    "OPENAI_API_KEY",
    "JIRA_MCP_TOKEN",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT*",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPLOY_PASSWORD",
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*API_KEY*",
    "*APIKEY*",
    "*PRIVATE_KEY*",
    "*CREDENTIAL*",
    "*_JWT*",
    "*AUTH*",
)


def is_secret_name(name: str) -> bool:
    """True when a variable name looks like it holds a credential."""
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in SECRET_NAME_PATTERNS)


def scrubbed_env(
    secrets: Iterable[str] = (),
    *,
    allow: Iterable[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A copy of `base` (default `os.environ`) without secret-looking names or secret values.

    `allow` lists names kept even though they look secret (the repo's `dryrun_env`); a
    variable whose value is one of `secrets` is dropped even then, because the run's own
    credentials never go to the repo's code.
    """
    source = os.environ if base is None else base
    kept_names = {name.upper() for name in allow}
    secret_values = {s for s in secrets if s}
    env: dict[str, str] = {}
    for name, value in source.items():
        if value in secret_values or any(s in value for s in secret_values if len(s) >= 8):
            continue
        if is_secret_name(name) and name.upper() not in kept_names:
            continue
        env[name] = value
    return env


def repo_code_env(secrets: Iterable[str] = (), *, allow: Iterable[str] = ()) -> dict[str, str]:
    """The environment of a process that imports the repo's code (the dryrun, its warm workers,
    the keyword scan): `scrubbed_env`, and no byte-code written into the repository."""
    env = scrubbed_env(secrets, allow=allow)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
