"""Shared parts of the pipeline benchmarks: tickets, a scripted LLM, timed logs, table printing.

The benchmarks drive the real pipeline (`generator.run.run`) against real servers on
127.0.0.1: the embedded Atlassian MCP server serving a tickets folder and the OpenAI-compatible
test server of `tests/servers/fake_openai.py`. What is scripted is only what an LLM would say:
a valid spec and a `.robot` file built from the sample repo's real keywords, so every ticket
goes the happy path (two LLM calls, one dryrun) and the numbers measure the pipeline, not
repair loops.

The LLM server records, for every call it serves, which ticket and role it was for, how many
completion tokens it streamed and how long it was busy, so a benchmark can subtract the time
spent waiting for the model from a ticket's time and compute the LLM-bound limit of a run from
the replies actually served.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import re
import resource
import shutil
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
import yaml

from generator.config.settings import Settings, build_settings
from generator.models import TicketResult
from generator.outputs.logs import Console
from generator.run import run
from generator.standin.files import DEMO_PAGES_DIR, SAMPLE_REPO_DIR, load_tickets
from tests.servers.fake_openai import Error, FakeOpenAI, Reply, Text

COMPONENTS = ("login", "cart", "orders")
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "karl", "lena")


@dataclass(frozen=True)
class Scenario:
    """One acceptance scenario: the Gherkin a ticket states and the Robot steps that cover it.

    The Robot steps call only keywords of the sample repo with the right argument counts, so a
    file made of them passes `robot --dryrun` there. `{u}` is replaced by a user name.
    """

    title: str
    gherkin: tuple[str, ...]
    robot: tuple[str, ...]


SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "login": (
        Scenario(
            "account locked after three failures",
            (
                'Given the user "{u}" has an account',
                'When "{u}" enters a wrong password 3 times',
                'Then the account "{u}" is locked',
            ),
            (
                'Given The user "{u}" has an account',
                'When "{u}" Enters A Wrong Password "3" Times',
                'Then Account "{u}" Should Be Locked',
            ),
        ),
        Scenario(
            "registered user can log in",
            (
                'Given the user "{u}" has an account',
                'When "{u}" logs in with the correct password',
                'Then "{u}" is logged in',
                'And the failed login count of "{u}" is 0',
            ),
            (
                'Given The user "{u}" has an account',
                "When Login As    {u}",
                "Then User Should Be Logged In    {u}",
                'And Failed Login Count Of "{u}" Should Be "0"',
            ),
        ),
        Scenario(
            "wrong password is rejected",
            (
                'Given the user "{u}" has an account',
                'When "{u}" logs in with the password "nope"',
                'Then the login fails with the message "Invalid username or password"',
                'And the account "{u}" is still active',
            ),
            (
                'Given The user "{u}" has an account',
                "When Login Should Fail With Message    {u}    nope    Invalid username or password",
                'Then Account "{u}" Should Be Active',
            ),
        ),
        Scenario(
            "logging out ends the session",
            ('Given the user "{u}" is logged in', "When the user logs out", "Then the user is logged out"),
            ('Given The user "{u}" is logged in', "When Logout", "Then User Should Be Logged Out"),
        ),
    ),
    "cart": (
        Scenario(
            "products added appear in the cart",
            (
                'Given the user "{u}" is logged in',
                'When the user adds 2 "Blue T-Shirt" to the cart',
                'Then the cart contains 2 "Blue T-Shirt"',
            ),
            (
                'Given The user "{u}" is logged in',
                'When Add "2" Of "Blue T-Shirt" To Cart',
                "Then Cart Should Contain    Blue T-Shirt    2",
            ),
        ),
        Scenario(
            "a removed product leaves the cart",
            (
                'Given the user "{u}" is logged in',
                'And the cart contains 1 "Notebook"',
                'When the user removes "Notebook" from the cart',
                "Then the cart is empty",
            ),
            (
                'Given The user "{u}" is logged in',
                'And The cart contains "1" of "Notebook"',
                'When Remove "Notebook" From Cart',
                "Then Cart Should Be Empty",
            ),
        ),
        Scenario(
            "the welcome code takes 10 % off",
            (
                'Given the user "{u}" is logged in',
                'And the cart contains 2 "Blue T-Shirt"',
                "When the user applies the discount code WELCOME10",
                "Then the cart total is 35.98",
            ),
            (
                'Given The user "{u}" is logged in',
                'And The cart contains "2" of "Blue T-Shirt"',
                "When Apply Discount Code    WELCOME10",
                "Then Cart Total Should Be    35.98",
            ),
        ),
        Scenario(
            "the cart never exceeds the stock",
            (
                'Given the user "{u}" is logged in',
                'And the shop has 2 "Wireless Headphones" in stock',
                'Then adding 3 "Wireless Headphones" fails with "Only 2 left in stock for Wireless Headphones"',
                "And the cart is empty",
            ),
            (
                'Given The user "{u}" is logged in',
                'And The shop has "2" of "Wireless Headphones" in stock',
                "Then Adding To Cart Should Fail With Message    Wireless Headphones    3    "
                "Only 2 left in stock for Wireless Headphones",
                "And Cart Should Be Empty",
            ),
        ),
    ),
    "orders": (
        Scenario(
            "paying with a valid card creates a paid order",
            (
                'Given the user "{u}" is logged in',
                'And the cart contains 2 "Coffee Mug"',
                "When the user checks out with a valid card",
                "Then the order status is PAID",
                "And the cart is empty",
            ),
            (
                'Given The user "{u}" is logged in',
                'And The cart contains "2" of "Coffee Mug"',
                "When Checkout With Card",
                "Then Order Status Should Be    PAID",
                "And Cart Should Be Empty",
            ),
        ),
        Scenario(
            "a declined card keeps the cart",
            (
                'Given the user "{u}" is logged in',
                'And the cart contains 1 "Notebook"',
                'Then checking out with a declined card fails with "Payment declined"',
                'And the cart still contains "Notebook"',
            ),
            (
                'Given The user "{u}" is logged in',
                'And The cart contains "1" of "Notebook"',
                "Then Checkout Should Fail With Message    Payment declined    ${DECLINED_CARD}",
                "And Cart Should Contain    Notebook",
            ),
        ),
        Scenario(
            "a shipped order has the status SHIPPED",
            (
                'Given the user "{u}" has a placed order',
                "When the order is shipped",
                "Then the order status is SHIPPED",
            ),
            (
                'Given The user "{u}" has a placed order',
                "When The order has been shipped",
                "Then Order Status Should Be    SHIPPED",
            ),
        ),
        Scenario(
            "an order cancelled before shipping is refunded",
            (
                'Given the user "{u}" has a placed order',
                "When the user cancels the order",
                "Then the order status is CANCELLED",
                "And the full amount is refunded",
            ),
            (
                'Given The user "{u}" has a placed order',
                "When Cancel Order",
                "Then Order Status Should Be    CANCELLED",
                "And Order Should Be Refunded",
            ),
        ),
    ),
}

FEATURES: dict[str, tuple[str, ...]] = {
    "login": ("Account lockout", "Login with email", "Session handling", "Password policy", "Remember me"),
    "cart": ("Cart quantities", "Discount codes", "Stock limits", "Cart persistence", "Gift wrapping"),
    "orders": ("Checkout", "Declined payments", "Shipping status", "Order cancellation", "Refunds"),
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


@dataclass(frozen=True)
class TicketPlan:
    """What the scripted planner and writer answer for one ticket."""

    key: str
    component: str
    summary: str
    scenarios: tuple[Scenario, ...]
    user: str

    @property
    def target_path(self) -> str:
        """In the component's folder, named as the sample repo's convention asks."""
        return f"tests/{self.component}/{self.key.lower()}_{_slug(self.summary)}.robot"

    def spec_reply(self) -> str:
        """The planner's answer: the spec JSON in a fence, as chat models usually return it.

        Compact, because the test server counts a token per 4 characters: indentation would
        inflate the completion (and the LLM time of a paced run) far beyond what a real
        tokenizer, which merges runs of spaces, would charge.
        """
        spec = {
            "meta": {"jira_key": self.key, "title": self.summary},
            "confluence": {"sources": [], "rules": ["Tag every test with the Jira key"]},
            "rf": {
                "target_path": self.target_path,
                "suite_doc": f"{self.key}: {self.summary}",
                "test_cases": [
                    {
                        "name": s.title[:1].upper() + s.title[1:],
                        "covers": [f"Scenario: {s.title}"],
                        "tags": [self.key, self.component],
                        "steps": [line.replace("{u}", self.user) for line in s.gherkin],
                    }
                    for s in self.scenarios
                ],
            },
            "writer_constraints": {"must_read_files": ["doc/convention.md"]},
        }
        return "```json\n" + json.dumps(spec) + "\n```"

    def robot_reply(self) -> str:
        return robot_file(self.key, self.summary, self.component, self.scenarios, self.user)


def _title_case_call(line: str) -> str:
    """`Given The user "bob" is logged in` as a careful writer calls it, `Given The User "bob" Is
    Logged In`: robocop's wrong-case-in-keyword-call would otherwise send the file back."""
    parts = re.split(r'("[^"]*")', line)
    return "".join(p if p.startswith('"') else re.sub(r"\b[a-z]", lambda m: m.group().upper(), p) for p in parts)


def robot_file(key: str, summary: str, component: str, scenarios: Sequence[Scenario], user: str) -> str:
    """A suite two folders below the repo root that passes `robot --dryrun` in the sample repo
    and the lint gate (a good writer's answer: the run makes no repair request)."""
    cases = []
    for s in scenarios:
        steps = "".join("    " + _title_case_call(line.replace("{u}", user)) + "\n" for line in s.robot)
        cases.append(f"{s.title[:1].upper() + s.title[1:]}\n    [Documentation]    {key}: {s.title}.\n" + steps)
    return (
        "*** Settings ***\n"
        f"Documentation       {key}: {summary}\n"
        "Resource            ../../resources/shop.resource\n"
        "Suite Setup         Open Shop Session\n"
        "Suite Teardown      Close Shop Session\n"
        f"Test Tags           {key}    {component}\n"
        "\n\n*** Test Cases ***\n" + "\n".join(cases)
    )


def _plan(key: str, component: str, summary: str) -> TicketPlan:
    number = int(key.rsplit("-", 1)[1])
    pool = SCENARIOS[component]
    picked = (pool[number % len(pool)], pool[(number + 1) % len(pool)])
    return TicketPlan(key, component, summary, picked, USERS[number % len(USERS)])


def plans_for(tickets_dir: Path) -> dict[str, TicketPlan]:
    """A plan per ticket of the folder, read with the generator's own loader.

    The component decides the target folder and the keywords; tickets without a known
    component go to `login`.
    """
    plans = {}
    for key, ticket in load_tickets(tickets_dir).items():
        components = [c for c in ticket["components"] if c in SCENARIOS]
        plans[key] = _plan(key, components[0] if components else "login", ticket["summary"])
    return plans


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so generated tickets read like the bundled ones."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str)


def write_tickets(folder: Path, keys: Sequence[str]) -> dict[str, TicketPlan]:
    """One YAML file per key, like `generator/demo/data/tickets/QA-101.yaml`; returns the plans.

    Components rotate over login/cart/orders; half the tickets keep the Gherkin criteria in the
    description (under "h3. Acceptance Criteria"), the other half in the acceptance-criteria
    field, the two layouts the gatherer must handle.
    """
    folder.mkdir(parents=True, exist_ok=True)
    plans = {}
    for i, key in enumerate(keys):
        component = COMPONENTS[i % len(COMPONENTS)]
        feature = FEATURES[component][(i // len(COMPONENTS)) % len(FEATURES[component])]
        plan = _plan(key, component, "")
        plan = _plan(key, component, f"{feature}: {plan.scenarios[0].title}")
        criteria = "\n\n".join(
            f"Scenario: {s.title}\n" + "\n".join(line.replace("{u}", plan.user) for line in s.gherkin)
            for s in plan.scenarios
        )
        story = (
            f"As a shop customer I want {plan.scenarios[0].title}, so that the {component} "
            "behaves as the product owner specified.\n"
        )
        record: dict[str, Any] = {
            "key": key,
            "id": str(10000 + int(key.rsplit("-", 1)[1])),
            "summary": plan.summary,
            "issue_type": "Story",
            "status": "To Do",
            "labels": ["jira2robot", component],
            "components": [component],
            "url": f"https://jira.shop.example.com/browse/{key}",
        }
        if i % 2:
            record["description"] = story
            record["acceptance_criteria"] = criteria + "\n"
        else:
            record["description"] = story + "\nh3. Acceptance Criteria\n\n" + criteria + "\n"
        record["comments"] = [{"author": "Product Owner", "body": f"Keep the {component} messages unchanged."}]
        (folder / f"{key}.yaml").write_text(
            yaml.dump(record, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        plans[key] = plan
    return plans


# --------------------------------------------------------------------------- the scripted LLM

_PLANNER_KEY = re.compile(r"\bKey: ([A-Z][A-Z0-9_]*-\d+)")
_WRITER_KEY = re.compile(r"Write the file \S+ for ([A-Z][A-Z0-9_]*-\d+)\.")


@dataclass
class ServedCall:
    """One chat completion the server answered: for whom, how big, how long it kept the caller waiting."""

    key: str
    role: str
    completion_tokens: int
    arrived: float
    finished: float | None = None

    @property
    def busy(self) -> float:
        """Seconds from the request's arrival to the last byte sent (latency + streaming)."""
        return (self.finished or self.arrived) - self.arrived


class BenchLLM(FakeOpenAI):
    """The OpenAI-compatible test server answering every ticket's planner and writer correctly.

    Calls are told apart by the system prompt (the planner's says PLANNER) and attributed to a
    ticket by the key the prompt states. An unknown key gets a 500 so a mismatch shows up as a
    failed ticket instead of a wrong number.
    """

    def __init__(
        self,
        plans: dict[str, TicketPlan],
        *,
        latency: float = 0.0,
        token_rate: float | None = None,
        chunk_size: int = 7,
    ) -> None:
        super().__init__(latency=latency, token_rate=token_rate)
        self.plans = plans
        self.chunk_size = chunk_size
        self.calls: list[ServedCall] = []
        self._open: dict[int, ServedCall] = {}
        self._calls_lock = threading.Lock()
        self._schedules: dict[asyncio.Task[Any] | None, tuple[float, float]] = {}
        self.responder = self._reply

    def clear(self) -> None:
        """Forget requests and calls between runs (the responder stays)."""
        self.reset()
        self.responder = self._reply
        with self._calls_lock:
            self.calls.clear()
            self._open.clear()

    def nominal_seconds(self, call: ServedCall) -> float:
        """What the call should cost by the server's settings: latency + completion tokens / token rate."""
        return self.latency + (call.completion_tokens / self.token_rate if self.token_rate else 0.0)

    def _reply(self, body: dict[str, Any]) -> Reply:
        arrived = time.monotonic() - self.latency  # the responder runs after the latency sleep
        messages = body.get("messages", [])
        system = str(messages[0].get("content", "")) if messages else ""
        user = str(messages[1].get("content", "")) if len(messages) > 1 else ""
        role = "planner" if "PLANNER" in system else "writer"
        match = (_PLANNER_KEY if role == "planner" else _WRITER_KEY).search(user)
        plan = self.plans.get(match.group(1)) if match else None
        if plan is None:
            return Error(500, f"bench LLM: no plan for this {role} prompt")
        text = plan.spec_reply() if role == "planner" else plan.robot_reply()
        call = ServedCall(plan.key, role, len(text) // 4, arrived)
        with self._calls_lock:
            self.calls.append(call)
            self._open[id(body)] = call
        return Text(text, chunk_size=self.chunk_size)

    async def _stream(self, body: dict[str, Any], reply: Reply, completion_id: str) -> AsyncIterator[str]:
        try:
            async for event in super()._stream(body, reply, completion_id):
                yield event
        finally:
            self._schedules.pop(asyncio.current_task(), None)
            with self._calls_lock:
                call = self._open.pop(id(body), None)
            if call is not None:
                call.finished = time.monotonic()

    async def _pace(self, piece: str) -> None:
        """Send each chunk at its scheduled time: start of the stream + tokens so far / token rate.

        The test server sleeps a fixed delay per chunk, so every wake-up's lateness (whole
        milliseconds in epoll, the GIL it shares with the pipeline here) adds up: about 10 % over
        a reply of a few hundred chunks. A real server generates at its own rate whatever the
        client does, so the lateness must not accumulate; the schedule is per stream (per task).
        """
        if not self.token_rate:
            return
        task = asyncio.current_task()
        start, tokens = self._schedules.get(task, (time.monotonic(), 0.0))
        tokens += max(len(piece) / 4, 1)
        self._schedules[task] = (start, tokens)
        delay = start + tokens / self.token_rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def busy_by_ticket(self) -> dict[str, float]:
        busy: dict[str, float] = {}
        for call in self.calls:
            busy[call.key] = busy.get(call.key, 0.0) + call.busy
        return busy


# --------------------------------------------------------------------------- running the pipeline


class TimedStream(io.TextIOBase):
    """The console's stream: keeps every write with the moment it happened.

    The pipeline logs its stage transitions ("planner: asking…", "validating…", "dryrun passed")
    live, so their timestamps give a per-stage breakdown without touching the pipeline.
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[float, str]] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.events.append((time.monotonic(), text))
        return len(text)

    def lines(self) -> Iterator[tuple[float, str]]:
        for at, text in self.events:
            for line in text.splitlines():
                if line.strip():
                    yield at, line

    def first(self, pattern: str) -> float | None:
        """Time of the first line matching the regex."""
        regex = re.compile(pattern)
        return next((at for at, line in self.lines() if regex.search(line)), None)


_TICKET_LINE = re.compile(r"^\[(?P<key>[A-Z][A-Z0-9_]*-\d+)\] (?P<message>.*)$")
_MARKERS = (
    ("gather", re.compile(r"^gathering ticket")),
    ("plan", re.compile(r"^planner: asking")),
    ("write", re.compile(r"^writer: writing")),
    ("validate", re.compile(r"^validating ")),
    ("after_dryrun", re.compile(r"^dryrun passed")),
    ("publish", re.compile(r"^publishing \(")),
    ("end", re.compile(r"^(created|updated|skipped|failed): ")),
)
PHASES = ("gather", "plan", "write", "validate", "after_dryrun", "publish")


def ticket_phases(stream: TimedStream) -> dict[str, dict[str, float]]:
    """Seconds per stage and ticket, from the time each stage's line was logged.

    Only a run with one ticket at a time prints stage lines as they happen: with several in
    flight a ticket's section is printed whole when it ends, so its lines carry no stage times
    and a caller must not read them (see `bench_backlog.py`).
    """
    seen: dict[str, dict[str, float]] = {}
    for at, line in stream.lines():
        match = _TICKET_LINE.match(line)
        if not match:
            continue
        marks = seen.setdefault(match["key"], {})
        for name, regex in _MARKERS:
            if name not in marks and regex.match(match["message"]):
                marks[name] = at
    phases: dict[str, dict[str, float]] = {}
    order = [name for name, _ in _MARKERS]
    for key, marks in seen.items():
        present = [name for name in order if name in marks]
        phases[key] = {a: marks[b] - marks[a] for a, b in itertools.pairwise(present)}
    return phases


def make_settings(
    *,
    repo: Path,
    output_dir: Path,
    llm: BenchLLM | None,
    tickets_dir: Path,
    keys: Sequence[str] = (),
    jql: str | None = None,
    max_tickets: int | None = None,
    concurrency: int | None = None,
    llm_concurrency: int | None = None,
    publish: str = "none",
) -> Settings:
    """Settings as the CLI would build them, from flags only: the caller's environment is ignored."""
    cli: dict[str, Any] = {
        "repo": str(repo),
        "output_dir": str(output_dir),
        "tickets_dir": str(tickets_dir),
        "pages_dir": str(DEMO_PAGES_DIR),
        "publish": publish,
        "llm": "openai",
        "openai_base_url": llm.base_url if llm else "http://127.0.0.1:9/v1",
        "keys": ",".join(keys) or None,
        "jql": jql,
        "max_tickets": max_tickets,
        "concurrency": concurrency,
        "llm_concurrency": llm_concurrency,
    }
    return build_settings(cli, environ={})


def run_pipeline(settings: Settings, stream: io.TextIOBase | None = None) -> tuple[list[TicketResult], float]:
    """One in-process `jira2robot run`; returns the results and the wall time."""
    console = Console(stream=stream or TimedStream(), sections=False)  # type: ignore[arg-type]
    started = time.perf_counter()
    results = anyio.run(run, settings, console)
    return results, time.perf_counter() - started


def copy_sample_repo(dest: Path) -> Path:
    shutil.copytree(SAMPLE_REPO_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@contextmanager
def isolated_cache(folder: Path) -> Iterator[Path]:
    """Point the keyword-inventory cache at `folder` so "cold" is cold and the user's cache is untouched."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = previous


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildPeakSampler:
    """Peak RSS of this process's `robot` children (fresh ones and warm dryrun workers), sampled
    from /proc (Linux) every `interval` s.

    `getrusage(RUSAGE_CHILDREN).ru_maxrss` cannot be used for that: Linux carries the parent's
    high-water mark into a child across fork/exec, so it reports the (bigger) parent, not the
    dryrun process. `VmHWM` of a child after its exec is the child's own peak; only processes
    whose command line is `python -m robot …` are counted, so a child caught between fork and
    exec (still showing the parent's command line and memory) is not.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_kb = 0
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="child-rss-sampler", daemon=True)

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def __enter__(self) -> ChildPeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.interval):
            for pid in _children(me):
                hwm = _robot_hwm_kb(pid)
                if hwm:
                    self.pids.add(pid)
                    self.peak_kb = max(self.peak_kb, hwm)


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        if int(stat.rsplit(b")", 1)[1].split()[1]) == parent:
            found.append(int(entry))
    return found


def _robot_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
            # A fresh `python -m robot` or a warm dryrun worker (generator/validate/dryrun_worker.py).
            if b"\0-m\0robot\0" not in command and b"dryrun_worker.py\0--dryrun" not in command:
                return 0
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain aligned table: numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True))

    print(fmt(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(fmt(row))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)
