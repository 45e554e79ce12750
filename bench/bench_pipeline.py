"""Benchmark: the happy path of one run over the bundled tickets, with an instant LLM.

The OpenAI-compatible test server answers at once (no latency, no token pacing) with a valid
spec and a `.robot` file that passes dryrun, so a ticket's seconds are the pipeline's own
overhead: gather, prompt building, spec parsing, `robot --dryrun`, publish. Concurrency 1, so
stages never wait for each other. Targets: 2 LLM calls per ticket; the per-stage breakdown
shows where the rest of the time goes.

    cd /work/main && python bench/bench_pipeline.py [--repetitions 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (
    PHASES,
    BenchLLM,
    TimedStream,
    copy_sample_repo,
    isolated_cache,
    make_settings,
    median,
    plans_for,
    print_table,
    run_pipeline,
    ticket_phases,
)

from generator.retrieval.inventory import last_build_from_cache
from generator.run.context import build_repo_context
from generator.standin.files import DEMO_TICKETS_DIR

KEYS = ("QA-101", "QA-102", "QA-103", "QA-104")


def one_repetition(llm: BenchLLM, work: Path) -> dict:
    """A fresh repo copy and an empty inventory cache: context build cold, warm, then the run."""
    repo = copy_sample_repo(work / "repo")
    settings = make_settings(
        repo=repo,
        output_dir=work / "out",
        llm=llm,
        tickets_dir=DEMO_TICKETS_DIR,
        keys=KEYS,
        concurrency=1,
        llm_concurrency=1,
        publish="local",
    )
    with isolated_cache(work / "cache"):
        started = time.perf_counter()
        build_repo_context(settings)
        cold = time.perf_counter() - started
        cold_from_cache = last_build_from_cache()
        started = time.perf_counter()
        build_repo_context(settings)
        warm = time.perf_counter() - started
        if cold_from_cache or not last_build_from_cache():
            raise SystemExit("keyword inventory cache did not behave as cold-then-warm")
        llm.clear()
        stream = TimedStream()
        results, wall = run_pipeline(settings, stream)
    busy: dict[str, dict[str, float]] = {}
    for call in llm.calls:
        busy.setdefault(call.key, {}).setdefault(call.role, 0.0)
        busy[call.key][call.role] += call.busy
    return {
        "cold": cold,
        "warm": warm,
        "wall": wall,
        "results": {r.key: r for r in results},
        "busy": busy,
        "phases": ticket_phases(stream),
        "requests": len(llm.requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=3)
    ns = parser.parse_args()

    reps = []
    with BenchLLM(plans_for(DEMO_TICKETS_DIR)) as llm:
        for _ in range(ns.repetitions):
            with tempfile.TemporaryDirectory(prefix="jira2robot-bench-") as tmp:
                reps.append(one_repetition(llm, Path(tmp)))

    print(f"jira2robot pipeline benchmark: {len(KEYS)} bundled tickets, sample repo, concurrency 1,")
    print(f"instant LLM (latency 0, no token pacing), --publish local; median of {len(reps)} repetition(s)")
    print()

    rows = []
    for key in KEYS:
        entries = [rep["results"][key] for rep in reps]
        statuses = "/".join(sorted({e.status for e in entries}))
        llm_s = [sum(rep["busy"].get(key, {}).values()) for rep in reps]
        ours = [e.seconds - s for e, s in zip(entries, llm_s, strict=True)]
        rows.append(
            [
                key,
                statuses,
                median([e.llm.calls for e in entries]),
                median([e.attempts for e in entries]),
                median([e.llm.prompt_tokens for e in entries]),
                median([e.llm.completion_tokens for e in entries]),
                median([e.seconds for e in entries]),
                median(llm_s),
                median(ours),
            ]
        )
    rows.append(["average", "", *[sum(r[i] for r in rows) / len(rows) for i in range(2, 9)]])
    print_table(
        [
            "ticket",
            "status",
            "LLM calls",
            "attempts",
            "prompt tok",
            "compl. tok",
            "ticket s",
            "in LLM s",
            "ticket s excl. LLM",
        ],
        rows,
    )
    calls = [rep["results"][k].llm.calls for rep in reps for k in KEYS]
    verdict = "met" if all(c == 2 for c in calls) else f"MISSED (calls seen: {sorted(set(calls))})"
    print(f"target: 2 LLM calls per ticket -> {verdict}")
    print()

    print("where a ticket's time goes (seconds, median over repetitions, mean over tickets):")
    stage_rows = []
    for phase in PHASES:
        per_key = [median([rep["phases"].get(key, {}).get(phase, 0.0) for rep in reps]) for key in KEYS]
        stage_rows.append([phase, sum(per_key) / len(per_key)])
    for role, phase in (("planner", "plan"), ("writer", "write")):
        in_llm = [median([rep["busy"].get(key, {}).get(role, 0.0) for rep in reps]) for key in KEYS]
        stage_rows.append([f"  of which {phase}: inside the {role} call", sum(in_llm) / len(in_llm)])
    print_table(["stage", "seconds"], stage_rows)
    print(
        "  gather = ticket + Confluence over MCP, examples; plan = planner call + spec parsing + writer prompt;\n"
        "  write = writer call; validate = static checks + robot --dryrun; after_dryrun = keywords used;\n"
        "  publish = write into the working tree"
    )
    print()

    walls = [rep["wall"] for rep in reps]
    tickets_s = [sum(r.seconds for r in rep["results"].values()) for rep in reps]
    print_table(
        ["run", "median s", "per repetition s"],
        [
            ["repo context, cold cache", median([r["cold"] for r in reps]), _each(r["cold"] for r in reps)],
            ["repo context, warm cache", median([r["warm"] for r in reps]), _each(r["warm"] for r in reps)],
            ["run wall (4 tickets)", median(walls), _each(walls)],
            [
                "run wall minus ticket seconds",
                median([w - t for w, t in zip(walls, tickets_s, strict=True)]),
                _each(w - t for w, t in zip(walls, tickets_s, strict=True)),
            ],
        ],
    )
    print(
        "  repo context = keyword inventory + suites index (generator.run.context.build_repo_context);\n"
        "  run wall minus ticket seconds = start-up (ticket folder check, embedded MCP server, connect,\n"
        "  repo context from the warm cache) and shutdown"
    )


def _each(values) -> str:
    return " ".join(f"{v:.3f}" for v in values)


if __name__ == "__main__":
    main()
