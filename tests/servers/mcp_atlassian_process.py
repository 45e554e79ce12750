"""The real mcp-atlassian server as a child process on 127.0.0.1, in front of a REST double.

mcp-atlassian pins `mcp` 1.x while jira2robot uses 2.x, so it lives in its own virtualenv
(`.venv-mcp-atlassian`, made by `ci/test.sh`, which `.ci/run` runs; or `MCP_ATLASSIAN_BIN` naming its executable).
It runs as an operator would run it for a team: streamable HTTP, Jira (and optionally
Confluence) URLs configured on the server, each client sending its own token.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv-mcp-atlassian" / "bin" / "mcp-atlassian"
#: The version `ci/test.sh` installs and the fixtures in generator/standin/recorded/ were recorded with.
VERSION = "0.23.1"


def executable() -> Path | None:
    """Where the real server is installed, or None (tests then skip and say how to install it)."""
    configured = os.environ.get("MCP_ATLASSIAN_BIN")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    return VENV_BIN if VENV_BIN.is_file() else None


def installed_version() -> str:
    """`mcp-atlassian <version>` of the installed server, as recordings name it."""
    binary = executable()
    if binary is None:
        raise RuntimeError(MISSING)
    shown = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=True)
    return "mcp-atlassian " + shown.stdout.strip().rsplit(" ", 1)[-1]


MISSING = (
    "the real mcp-atlassian is not installed: run `python3 -m venv .venv-mcp-atlassian && "
    f".venv-mcp-atlassian/bin/pip install mcp-atlassian=={VERSION}` (as ci/test.sh does) or set MCP_ATLASSIAN_BIN"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class McpAtlassianProcess:
    """`with McpAtlassianProcess(rest.url) as server: ... server.url ...` (…/mcp).

    `confluence=False` is the Jira-only deployment: no CONFLUENCE_URL on the server, so its
    Confluence tools are not offered at all.
    """

    def __init__(self, rest_url: str, *, confluence: bool = True, extra_env: dict[str, str] | None = None):
        binary = executable()
        if binary is None:
            raise RuntimeError(MISSING)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            # The server needs a configured URL and credential to offer the service at all;
            # requests are then made with each client's own token (no global fallback).
            "JIRA_URL": rest_url,
            "JIRA_PERSONAL_TOKEN": "server-side-token-never-used",
            "READ_ONLY_MODE": "false",
            "MCP_VERY_VERBOSE": "false",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        if confluence:
            env |= {"CONFLUENCE_URL": rest_url, "CONFLUENCE_PERSONAL_TOKEN": "server-side-token-never-used"}
        env |= extra_env or {}
        self._command = [str(binary), "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(self.port)]
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: an unread pipe fills up and blocks the server mid-request.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (read after stop, freed with self)

    @property
    def log(self) -> str:
        """What the server printed (its log goes to stderr), for failure messages."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def start(self, timeout: float = 90.0) -> McpAtlassianProcess:
        self._process = subprocess.Popen(
            self._command, env=self._env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mcp-atlassian exited with {self._process.returncode}:\n{self.log[-3000:]}")
            try:
                httpx2.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1.0)
                return self
            except httpx2.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"mcp-atlassian did not listen on 127.0.0.1:{self.port} in {timeout:.0f}s:\n{self.log[-3000:]}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        # Its own session: the whole group goes, whatever the server started.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> McpAtlassianProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
