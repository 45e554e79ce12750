"""Benchmark: keyword inventory (cold and cached) and step matching on a large synthetic repo.

Targets (2-core CI machine): 1,000 resource files / 5,000 keywords build in under 10 s cold
and under 1 s from cache; 100 steps match in well under a second.

    python bench/bench_inventory.py [--resources 1000] [--keywords-per-resource 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from make_repo import AREAS, NOUNS, STATES, VERBS, make_repo

from generator.retrieval.inventory import build_inventory, last_build_from_cache
from generator.retrieval.matcher import KeywordMatcher


def bench_steps(count: int = 100) -> list[str]:
    """Steps phrased the way a planner writes them, over the synthetic repo's vocabulary."""
    steps = []
    for i in range(count):
        verb, noun, area = VERBS[i % len(VERBS)], NOUNS[i % len(NOUNS)], AREAS[i % len(AREAS)]
        kind = i % 4
        if kind == 0:
            steps.append(f'When the agent {verb.lower()}s the {noun.lower()} "N-{i}" in the {area.lower()}')
        elif kind == 1:
            steps.append(f'Then the {noun.lower()} "N-{i}" is {STATES[i % len(STATES)]} in {area.lower()}')
        elif kind == 2:
            steps.append(f"Given {verb} {noun} In {area}    N-{i}")
        else:
            steps.append(f"And the weather in {area.lower()} is sunny")
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--keywords-per-resource", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    ns = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jira2robot-bench-") as tmp:
        repo, cache = Path(tmp) / "repo", Path(tmp) / "cache"
        started = time.perf_counter()
        make_repo(repo, ns.resources, ns.keywords_per_resource)
        print(f"repo written:        {time.perf_counter() - started:7.3f} s  ({ns.resources} resource files)")

        started = time.perf_counter()
        inventory = build_inventory(repo, cache_dir=cache)
        cold = time.perf_counter() - started
        assert not last_build_from_cache()
        started = time.perf_counter()
        cached = build_inventory(repo, cache_dir=cache)
        warm = time.perf_counter() - started
        assert last_build_from_cache() and cached == inventory
        user = sum(1 for kw in inventory.keywords if kw.owner_kind == "resource")
        print(f"inventory cold:      {cold:7.3f} s  (target < 10 s)")
        print(f"inventory cached:    {warm:7.3f} s  (target < 1 s)")
        print(
            f"keywords:            {len(inventory.keywords):7d}    ({user} from resources, errors: {len(inventory.errors)})"
        )

        started = time.perf_counter()
        matcher = KeywordMatcher(inventory)
        setup = time.perf_counter() - started
        steps = bench_steps(ns.steps)
        started = time.perf_counter()
        mappings = [matcher.match(step) for step in steps]
        elapsed = time.perf_counter() - started
        counts: dict[str, int] = {}
        for mapping in mappings:
            counts[mapping.how] = counts.get(mapping.how, 0) + 1
        print(f"matcher setup:       {setup:7.3f} s")
        print(
            f"match {len(steps)} steps:      {elapsed:7.3f} s  ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
        )


if __name__ == "__main__":
    main()
