"""Retrieval by reconstruction: does the writer see the keywords the original test used?

Two repo shapes are generated at bench time (bench/retrieval_repos.py: a large API suite with a
wrapper resource, a deprecated library keyword and mirror product lines; a small WebDemo-like
UI suite), plus any `--repo PATH[:TESTS_DIR[:PYTHON]]` fetched by hand (never commit it; PYTHON: the
interpreter of a venv holding the repo's own libraries, passed as the product's `python:` setting,
so libdoc documents them as a run would). For each sampled
test, a ticket and spec are made whose steps paraphrase the test's calls without its keyword
names; the test's suite is left out of the suite index; then the product's own writer sessions
are built (no model is called; examples picked with the spec's target path, as a run does after
planning) and compared with the original calls:

- prompt recall: share of the original's keywords named anywhere in the LLM writer's prompt;
- list recall / precision: the same against the "Keywords available" list only;
- offline: share of steps the offline writer maps to the keyword the original called;
- prompt chars: median size of the writer's first request;
- sibling example: share of tickets shown a suite of the original test's own folder.

`--misses` prints, per ticket, the original's keywords the prompt does not name and the steps the
offline writer maps to another keyword than the original's.

Numbers only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import isolated_cache, make_settings, print_table
from retrieval_repos import make_api_repo, make_ui_repo, paraphrase
from robot.api import get_model
from robot.api.parsing import KeywordCall, TestCase

from generator.models import SpecMeta, SpecRF, SpecTestCase, TestSpec, Ticket, TicketContext
from generator.retrieval.examples import find_examples
from generator.retrieval.rank import Retriever
from generator.run.context import build_repo_context
from generator.write.llm import LLMWriter, LLMWriterSession
from generator.write.offline import OfflineWriterSession


def sample_tests(repo: Path, suites: list, count: int, seed: int) -> list[tuple[str, str, list[tuple[str, list[str]]]]]:
    """(suite path, test name, calls) for `count` tests spread over the suites, deterministic."""
    found = []
    for suite in suites:
        for section in get_model(repo / suite.path).sections:
            for test in section.body:
                if isinstance(test, TestCase):
                    calls = [(n.keyword, list(n.args)) for n in test.body if isinstance(n, KeywordCall) and n.keyword]
                    if calls:
                        found.append((suite.path, test.name, calls))
    return random.Random(seed).sample(found, min(count, len(found)))


_MARK = "# written by bench_retrieval.py\n"


def configure(repo: Path, tests_dir: str, python: str | None) -> None:
    """A foreign repo's `.jira2robot.yml`: its tests folder, its Python, no convention doc needed.

    A repo's own file is kept; one this bench wrote before is rewritten (the options may differ).
    """
    config = repo / ".jira2robot.yml"
    if config.is_file() and not config.read_text("utf-8").startswith(_MARK):
        return
    text = f"{_MARK}tests_dir: {tests_dir}\nconvention_optional: true\n"
    config.write_text(text + (f"python: {python}\n" if python else ""), "utf-8")


def measure(
    repo: Path, name: str, tests_dir: str, count: int, work: Path, show_misses: bool = False
) -> dict[str, float | str]:
    settings = make_settings(repo=repo, output_dir=work / name / "out", llm=None, tickets_dir=work, keys=["X-1"])
    repo_ctx, suites = build_repo_context(settings)
    rng = random.Random(3)
    rows = []
    for n, (path, test_name, calls) in enumerate(sample_tests(repo, suites, count, seed=5)):
        key = f"BENCH-{n + 1}"
        steps = [paraphrase(kw, args, rng) for kw, args in calls]
        folder = str(Path(path).parent)
        ticket = Ticket(key=key, summary=test_name, description=test_name, acceptance_criteria=steps,
                        components=[Path(folder).name])  # fmt: skip
        spec = TestSpec(
            meta=SpecMeta(jira_key=key, title=test_name),
            rf=SpecRF(
                target_path=f"{folder}/{key.lower()}_new.robot", test_cases=[SpecTestCase(name=test_name, steps=steps)]
            ),
        )
        others = [s for s in suites if s.path != path]
        matcher = Retriever(repo_ctx.inventory, others)  # the held-out suite's usage is not known
        ctx = TicketContext(
            ticket=ticket, repo=repo_ctx, examples=find_examples(others, ticket, limit=2, target=spec.rf.target_path)
        )
        llm = LLMWriterSession(LLMWriter(None, "bench"), spec, ctx, matcher, None, None)
        prompt = "\n".join(m["content"] for m in llm.messages)
        original = [matcher.lookup(call) for call, _ in calls]  # per step: what the test called
        wanted = [kw for kw in original if kw is not None and kw.owner != "BuiltIn"]
        names = {kw.name for kw in wanted}
        if not names:  # calls only BuiltIn or keywords the inventory does not know: nothing to retrieve
            continue
        listed = {kw.name for kw in llm.keywords}
        offline = OfflineWriterSession(spec, ctx, matcher, None)
        # Per step whose original call is one to retrieve: (step, offline keyword, original keyword).
        mapped = [
            (step, m.keyword, kw.name)
            for step, m, kw in zip(steps, offline.mappings[0], original, strict=True)
            if kw is not None and kw.owner != "BuiltIn"
        ]
        missed = sorted(x for x in names if x not in prompt)
        if missed and show_misses:
            print(f"{name} {key} {test_name!r}: not in the prompt: {missed}; steps: {steps}")
        if show_misses:
            for step, got, kw in mapped:
                if got != kw:
                    print(f"{name} {key} offline: {step!r} -> {got!r}, the original called {kw!r}")
        rows.append(
            {
                "prompt_recall": sum(x in prompt for x in names) / len(names),
                "list_recall": len(names & listed) / len(names),
                "precision": len(names & listed) / max(len(listed), 1),
                "offline": sum(got == kw for _, got, kw in mapped) / len(mapped),
                "chars": len(prompt),
                "sibling": any(str(Path(e.path).parent) == folder for e in ctx.examples),
            }
        )
    mean = {k: statistics.mean(float(r[k]) for r in rows) for k in rows[0] if k != "chars"}
    return {"repo": name, "tickets": len(rows), **mean, "chars": statistics.median(r["chars"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", default=[], help="another RF repo as PATH[:TESTS_DIR[:PYTHON]]")
    parser.add_argument("--tests", type=int, default=24, help="tickets per repo at most")
    parser.add_argument("--misses", action="store_true", help="print, per ticket, the keywords the prompt misses")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp, isolated_cache(Path(tmp) / "cache"):
        work = Path(tmp)
        repos = [("api", make_api_repo(work / "api"), "tests"), ("ui", make_ui_repo(work / "ui"), "tests")]
        for spec in args.repo:
            path, *rest = spec.split(":", 2)
            tests_dir, python = (rest[0] if rest else "tests"), (rest[1] if len(rest) > 1 else None)
            configure(Path(path), tests_dir, python)
            repos.append((Path(path).name, Path(path), tests_dir))
        rows = [measure(path, name, tests_dir, args.tests, work, args.misses) for name, path, tests_dir in repos]
    head = ("repo", "tickets", "prompt recall", "list recall", "list precision", "offline same kw", "sibling example", "prompt chars")  # fmt: skip
    cols = ("prompt_recall", "list_recall", "precision", "offline", "sibling")
    print_table(head, [[r["repo"], r["tickets"], *(f"{r[c]:.0%}" for c in cols), int(r["chars"])] for r in rows])


if __name__ == "__main__":
    main()
