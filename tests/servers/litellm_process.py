"""The real LiteLLM proxy as a child process on 127.0.0.1, in front of one emulated model server.

It lives in its own virtualenv (`.venv-litellm`, made by `.ci/run`; or `LITELLM_BIN` naming the
`litellm` executable) so its many pins never meet jira2robot's. It runs as an operator runs it:
a config file with a model list, a master key (the proxy refuses to start without one), no
database, the cost map read locally (no network).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx2

from tests.conftest import missing_tool

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv-litellm" / "bin" / "litellm"
#: The version `.ci/run` installs: the newest whose `proxy` extra installs from PyPI alone (later
#: ones need a `litellm-proxy` package the index does not have).
VERSION = "1.106.12"
MISSING = (
    "the real LiteLLM proxy is not installed: run `python3 -m venv .venv-litellm && "
    f".venv-litellm/bin/pip install 'litellm[proxy]=={VERSION}'` (as ci/test.sh does) or set LITELLM_BIN"
)
#: Seconds the proxy may take to answer its liveness probe (it imports a lot: ~10 s on a busy runner).
START_TIMEOUT = 120.0


def executable() -> Path | None:
    configured = os.environ.get("LITELLM_BIN")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    return VENV_BIN if VENV_BIN.is_file() else None


def require() -> Path:
    """The executable; missing, a CI run fails (a real server must be in every CI run), elsewhere it skips."""
    binary = executable()
    if binary is None:
        missing_tool(MISSING)
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiteLLMProxy:
    """`with LiteLLMProxy({"writer": ("hosted_vllm/qwen", backend_url)}) as proxy: ... proxy.url, proxy.key`.

    ``models`` maps the model names clients ask for to a LiteLLM model string and the URL of the
    server behind it. LiteLLM's own retries are off: the scripted backend answers each request once.
    """

    def __init__(self, models: dict[str, tuple[str, str]]) -> None:
        self.binary = require()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.key = "sk-" + secrets.token_hex(32)
        self._folder = tempfile.TemporaryDirectory(prefix="litellm-")
        entries = "".join(
            f"  - model_name: {name}\n    litellm_params:\n      model: {target}\n"
            f"      api_base: {backend_url}\n      api_key: sk-backend-not-a-secret\n"
            for name, (target, backend_url) in models.items()
        )
        self.config = Path(self._folder.name) / "config.yaml"
        self.config.write_text(
            "model_list:\n" + entries + "litellm_settings:\n  num_retries: 0\n  request_timeout: 60\n"
            "router_settings:\n  num_retries: 0\n"
        )
        self.log = Path(self._folder.name) / "proxy.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiteLLMProxy:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": self._folder.name,
            "LITELLM_MASTER_KEY": self.key,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        command = [str(self.binary), "--config", str(self.config), "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                command, env=env, cwd=self._folder.name, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"LiteLLM proxy exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx2.get(f"http://127.0.0.1:{self.port}/health/liveliness", timeout=2).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"LiteLLM proxy did not answer in {START_TIMEOUT:g}s:\n{self.log.read_text()[-3000:]}")

    def version(self) -> str:
        shown = subprocess.run([str(self.binary), "--version"], capture_output=True, text=True, timeout=120)
        return (shown.stdout + shown.stderr).strip()

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=20)
        self._folder.cleanup()
