"""Job logs a person can follow: one collapsible section per ticket, the LLM stream line by line.

GitLab renders `section_start`/`section_end` markers as collapsible blocks. With several
tickets in flight, each ticket's section is buffered and printed whole when the ticket ends, so
sections never interleave; only a `[KEY] started` line goes out live meanwhile. Every line is
printed once: the stage detail lives in the section alone, not also as a live copy.

Only the markers themselves go out raw. Every message line — model tokens, diagnostics,
reasons quoting ticket or model text — first loses its control characters (`\r`, ANSI/VT
escapes), so untrusted text can neither repaint the log nor forge a section marker, and
every byte written passes the run's `Redactor`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from typing import TextIO

from generator.safety.redact import Redactor

_SECTION_NAME = re.compile(r"[^a-z0-9_.-]+")
_LOCK = threading.Lock()
# ESC sequences (CSI, OSC/DCS/PM/APC strings, two-character escapes), then any other C0/C1
# control character except newline and tab (\r included: it would overwrite the line).
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI (colours, cursor moves, erase line)
    r"|(?:\x1b[\]P^_X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC/DCS/SOS/PM/APC
    r"|\x1b[ -/]*[0-~]?"  # every other escape
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKER_WORD = re.compile(r"section_(start|end):", re.IGNORECASE)


def plain(text: str) -> str:
    """Untrusted text fit for a log line: no control characters and no section-marker keyword."""
    text = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
    return _MARKER_WORD.sub(lambda m: f"section-{m.group(1)}:", text)


class _RedactingFilter(logging.Filter):
    """Library log records (httpx, mcp, openai, ours) pass the run's redactor like our own lines."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(plain(record.getMessage())), ()
        return True


def redact_logging(redact: Redactor) -> None:
    """Mask secrets in every record the root logger's handlers emit (set up once per run)."""
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, _RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(_RedactingFilter(redact))


def in_gitlab_ci() -> bool:
    return os.environ.get("GITLAB_CI", "").lower() == "true"


class Console:
    """The run's output: every line goes through here so secrets are masked in one place."""

    def __init__(self, stream: TextIO | None = None, *, redactor: Redactor | None = None, sections: bool | None = None):
        self.stream = stream or sys.stdout
        self.redact = redactor or Redactor()
        self.sections = in_gitlab_ci() if sections is None else sections

    def write(self, text: str) -> None:
        """Text already made of `plain` lines and our own markers (the one raw path)."""
        with _LOCK:
            self.stream.write(self.redact(text))
            self.stream.flush()

    def line(self, text: str = "") -> None:
        self.write(plain(text) + "\n")

    def section_start(self, name: str, header: str, *, collapsed: bool = False) -> str:
        if not self.sections:
            return f"\n=== {header} ===\n"
        options = "[collapsed=true]" if collapsed else ""
        return f"\x1b[0Ksection_start:{int(time.time())}:{_section_id(name)}{options}\r\x1b[0K{header}\n"

    def section_end(self, name: str) -> str:
        if not self.sections:
            return ""
        return f"\x1b[0Ksection_end:{int(time.time())}:{_section_id(name)}\r\x1b[0K\n"


def _section_id(name: str) -> str:
    return "jira2robot_" + _SECTION_NAME.sub("_", name.lower())


class TicketLog:
    """Log of one ticket. Live when it is the only ticket in flight, buffered otherwise."""

    def __init__(self, console: Console, key: str, *, buffered: bool):
        self.console = console
        self.key = key
        self.buffered = buffered
        self._buffer: list[str] = []
        self._partial: dict[str, str] = {}

    def _emit(self, text: str) -> None:
        if self.buffered:
            self._buffer.append(text)
        else:
            self.console.write(text)

    def open(self, header: str) -> None:
        self._emit(self.console.section_start(self.key, f"{self.key}: {header}"))
        if self.buffered:
            self.console.line(f"[{self.key}] started")

    def info(self, message: str) -> None:
        self._emit(f"[{self.key}] {plain(message)}\n")

    def stream(self, role: str, delta: str) -> None:
        """LLM tokens, assembled into whole lines prefixed with the key and role."""
        text = self._partial.get(role, "") + delta
        *lines, rest = text.split("\n")
        for line in lines:
            self._emit(f"[{self.key} {role}] {plain(line)}\n")
        self._partial[role] = rest

    def flush_stream(self, role: str) -> None:
        rest = self._partial.pop(role, "")
        if rest:
            self._emit(f"[{self.key} {role}] {plain(rest)}\n")

    def close(self) -> None:
        for role in list(self._partial):
            self.flush_stream(role)
        self._emit(self.console.section_end(self.key))
        if self.buffered:
            self.console.write("".join(self._buffer))
            self._buffer.clear()
