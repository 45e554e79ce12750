"""Validation of a generated .robot file before it is published.

Two layers, cheapest first:

* `check_static` (`static.py`) — Robot Framework's own parser, the trust rule (`trust.py`: no
  inline Python, extended variable syntax, `%{ENV}` or side-door imports), path confinement
  (`paths.py`) and the import allow-list. It needs no subprocess, so a file that is broken,
  that would run code, or that tries to leave the tests folder or pull in a library the repo
  does not use never reaches `robot` at all.
* `dryrun` (`dryrun.py`, read back by `outcome.py`) — the real `robot --dryrun` inside the
  checked-out repo, with the repo's own resources, variables and options, so "No keyword with
  name 'X' found" and wrong argument counts come from Robot Framework itself, not from a
  re-implementation; run by warm workers (`pool.py`, `dryrun_worker.py`) in `run`, by a fork
  (`fork.py`) in `validate` when nothing secret is in its process, else by a fresh `robot`.

After the dryrun passes, `lint.py` formats and lints the file with robocop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio

from generator.models import KeywordInventory, ValidationResult
from generator.validate.dryrun import dryrun, dryrun_pool, forked_dryrun, remove_stale_candidates
from generator.validate.paths import UnsafePathError, safe_target_path
from generator.validate.pool import DryrunRunner
from generator.validate.static import check_static

__all__ = [
    "UnsafePathError",
    "check_static",
    "dryrun",
    "dryrun_pool",
    "forked_dryrun",
    "remove_stale_candidates",
    "safe_target_path",
    "validate",
]


async def validate(
    text: str,
    target_path: str,
    inventory: KeywordInventory,
    *,
    repo: Path,
    tests_dir: str,
    robot_options: Sequence[str] = (),
    pythonpath: Sequence[str] = (),
    limiter: anyio.CapacityLimiter | None = None,
    secrets: Sequence[str] = (),
    dryrun_env: Sequence[str] = (),
    python: str | None = None,
    pool: DryrunRunner | None = None,
) -> ValidationResult:
    """Static checks, then the dryrun only if they found no error (an unsafe file is never run).

    `secrets` (the run's own credentials) and every secret-looking variable not named in
    `dryrun_env` are kept out of the dryrun's environment; `python` is the repo's own
    interpreter for the dryrun (default: this one); `pool`: warm workers (`dryrun_pool`)."""
    static = check_static(text, target_path, inventory, repo=repo, tests_dir=tests_dir)
    if any(d.severity == "error" for d in static):
        return ValidationResult(ok=False, diagnostics=static)
    result = await dryrun(
        text,
        target_path,
        repo=repo,
        robot_options=robot_options,
        pythonpath=pythonpath,
        limiter=limiter,
        timeout=300.0,
        inventory=inventory,
        secrets=secrets,
        dryrun_env=dryrun_env,
        python=python,
        pool=pool,
    )
    result.diagnostics = static + result.diagnostics
    return result
