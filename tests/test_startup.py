"""Start-up stays light: heavy packages load only for the commands and options that use them.

Checked on `sys.modules` of a fresh interpreter (behaviour, not timing): the embedded Atlassian
stand-in (uvicorn, starlette, the MCP server side), python-gitlab, robocop, the OpenAI SDK and numpy
cost seconds to import together, and a `run` against a remote MCP server whose tickets are all
covered needs none of them. Timings are printed by `bench/bench_startup.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from generator.standin.server import ServedAtlassian

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("uvicorn", "starlette", "mcp.server", "gitlab", "robocop", "openai", "numpy", "rank_bm25")


def _loaded_after(code: str, env: dict[str, str] | None = None, names: tuple[str, ...] = HEAVY) -> list[str]:
    """Runs `code` in a fresh interpreter, then names which of `names` it loaded."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps([m for m in {names!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_and_the_run_path_loads_no_heavy_package():
    assert _loaded_after("import generator.cli, generator.run") == []


def test_help_loads_no_heavy_package():
    code = "from generator.cli import main\ntry:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass"
    assert _loaded_after(code) == []


def test_a_covered_run_decides_before_connecting_and_loads_no_heavy_package(
    sample_repo: Path, atlassian: ServedAtlassian, tmp_path: Path, clean_env: None
):
    """QA-7 is tagged in the sample repo: the run decides "covered" from the suite index alone,
    so it loads no MCP SDK, no stand-in, no linter, no LLM SDK and no GitLab client."""
    out = tmp_path / "out"
    args = ["run", "--keys", "QA-7", "--llm", "offline", "--publish", "none"]
    args += ["--repo", str(sample_repo), "--output-dir", str(out)]
    env = {**os.environ, "JIRA_MCP_URL": atlassian.url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    names = (*HEAVY, "mcp", "generator.standin")
    loaded = _loaded_after(f"from generator.cli import main\nassert main({args!r}) == 0", env, names)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [(t["key"], t["status"]) for t in report["tickets"]] == [("QA-7", "skipped")]
    assert "already covered by tests/orders/order_checkout.robot" in report["tickets"][0]["reason"]
    assert loaded == []


def test_covered_tickets_need_no_jira_server(sample_repo: Path, tmp_path: Path, clean_env: None):
    """A re-run whose tickets all have tests succeeds while Jira is unreachable (nothing listens there)."""
    out = tmp_path / "out"
    env = {**os.environ, "JIRA_MCP_URL": "http://127.0.0.1:9/mcp", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["-m", "generator", "run", "--keys", "QA-7,QA-10", "--llm", "offline", "--publish", "none"]
    args += ["--repo", str(sample_repo), "--output-dir", str(out)]
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [(t["key"], t["status"]) for t in report["tickets"]] == [("QA-7", "skipped"), ("QA-10", "skipped")]


def test_one_uncovered_ticket_takes_the_ordinary_path(sample_repo: Path, tmp_path: Path, clean_env: None):
    """The shortcut is all or nothing: with QA-101 (not covered) the server is asked, and here
    it does not answer, so the covered ticket is decided by the ordinary path's rule."""
    out = tmp_path / "out"
    env = {**os.environ, "JIRA_MCP_URL": "http://127.0.0.1:9/mcp", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["-m", "generator", "run", "--keys", "QA-7,QA-101", "--llm", "offline", "--publish", "none"]
    args += ["--repo", str(sample_repo), "--output-dir", str(out)]
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "cannot connect to the Jira MCP server" in done.stdout


def test_the_embedded_server_loads_for_tickets_dir(sample_repo: Path, tmp_path: Path, clean_env: None):
    """The other side of the rule: `--tickets-dir` does start the stand-in (so the probe can see it)."""
    out = tmp_path / "out"
    args = ["run", "--keys", "QA-7", "--llm", "offline", "--publish", "none", "--repo", str(sample_repo)]
    args += ["--tickets-dir", str(ROOT / "generator" / "demo" / "data" / "tickets"), "--output-dir", str(out)]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    loaded = _loaded_after(f"from generator.cli import main\nassert main({args!r}) == 0", env)
    assert {"uvicorn", "mcp.server"} <= set(loaded)
    assert "robocop" not in loaded
