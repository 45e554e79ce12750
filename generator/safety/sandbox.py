"""The environment of every subprocess that runs the repository's code.

`robot --dryrun` imports the repo's libraries and variable files. What keeps a generated
file's code from running is the trust gate inside Robot's process (`validate.gate`), not this
module: code running as the job's user can read the job's own environment
(`/proc/<pid>/environ` of the parent and of the job shell). This scrub is defence in depth, so
that the repo's own code does not hold credentials it has no use for: such processes get a
copy of our environment without anything that looks like a secret (by name, or a URL with
user-info such as `CI_REPOSITORY_URL`'s `gitlab-ci-token:<token>@`), nor any variable whose
value is one of the run's configured secrets (whatever its name).

A repo that really needs one of them during its dryrun (rare: a dryrun runs no
keyword) names it in `.jira2robot.yml` under `dryrun_env`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping

# Names (upper-cased) that hold credentials in GitLab CI and in the tools we talk to.
SECRET_NAME_PATTERNS: tuple[str, ...] = (
    "GITLAB_TOKEN",
    "OPENAI_API_KEY",
    "JIRA_MCP_TOKEN",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT*",
    "CI_REPOSITORY_URL",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPLOY_PASSWORD",
    "*TOKEN*",
    "*SECRET*",
    "*PASS*",
    "*PASSWD*",
    "*WEBHOOK*",
    "*API_KEY*",
    "*APIKEY*",
    "*PRIVATE_KEY*",
    "*CREDENTIAL*",
    "*_JWT*",
    "*AUTH*",
)


# `scheme://user:password@host` or `scheme://token@host`: credentials in a URL, whatever the name.
_URL_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]+@")


def is_secret_name(name: str) -> bool:
    """True when a variable name looks like it holds a credential."""
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in SECRET_NAME_PATTERNS)


def has_url_credentials(value: str) -> bool:
    """True for a value holding a URL with user-info (`https://gitlab-ci-token:x@host/…`)."""
    return bool(_URL_USERINFO.search(value))


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
        if (is_secret_name(name) or has_url_credentials(value)) and name.upper() not in kept_names:
            continue
        env[name] = value
    return env


def repo_code_env(secrets: Iterable[str] = (), *, allow: Iterable[str] = ()) -> dict[str, str]:
    """The environment of a process that imports the repo's code (the dryrun, its warm workers,
    the keyword scan): `scrubbed_env`, and no byte-code written into the repository."""
    env = scrubbed_env(secrets, allow=allow)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
