"""What the scripted OpenAI-compatible server (fake_openai.py) answers, one reply per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class Text:
    """A plain assistant answer, streamed ``chunk_size`` characters at a time.

    ``reasoning_prefix`` is streamed before ``content`` as part of the content, the way
    reasoning models served without a reasoning parser leak their ``<think>`` blocks;
    ``reasoning`` is streamed in the field the server's profile uses for it (if any), and
    ``finish`` is the finish reason sent (``content_filter``: a filtered answer).
    """

    content: str
    chunk_size: int = 7
    usage: bool = True
    reasoning_prefix: str = ""
    reasoning: str = ""
    finish: str = "stop"


@dataclass
class ToolCalls:
    """An assistant turn that calls tools: ``[(name, arguments_json_string), ...]``.

    With ``split`` each call is spread over several chunks — the id first, the name in a later
    chunk, then the arguments in small pieces — as vLLM and OpenAI stream them.
    """

    calls: list[tuple[str, str]]
    split: bool = True
    content: str = ""
    usage: bool = True
    reasoning: str = ""


@dataclass
class Error:
    """An HTTP error with an OpenAI-shaped body; ``retry_after`` is sent as the Retry-After header
    (a number of seconds, or a string such as an HTTP date, sent verbatim)."""

    status: int
    message: str
    retry_after: float | str | None = None
    param: str | None = None
    code: str | None = None


@dataclass
class Malformed:
    """A stream that starts well, then sends a line that is not JSON and ends."""


@dataclass
class RejectResponseFormat:
    """Answers 400 only if the request asks for ``response_format``; otherwise the next reply is used."""


@dataclass
class Hang:
    """Accepts the request and never answers: no status line, no headers (a wedged server)."""


@dataclass
class Cut:
    """An answer that stops part-way: ``content`` is streamed, then, depending on ``how``:

    - ``"stall"``: nothing more is sent and the connection stays open;
    - ``"abort"``: the connection is dropped in the middle of the body;
    - ``"close"``: the response ends cleanly but without ``finish_reason`` or ``[DONE]``
      (a proxy giving up);
    - ``"length"``: the answer ends with ``finish_reason="length"`` (the token limit).
    """

    content: str
    how: Literal["stall", "abort", "close", "length"]


Reply = Text | ToolCalls | Error | Malformed | RejectResponseFormat | Hang | Cut
