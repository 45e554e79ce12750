"""False positives of the trust rule on real suites: the share of a repository's own files it rejects.

A generated file copies what the repo's suites write, so the rule must let through what real
suites legitimately do (docs/security.md). This runs the static trust rule
(`generator.validate.trust.untrusted_code`, with the repo's own variable names as the
`validate` command passes them) over every `.robot` and `.resource` file of each repository
given, and prints per repository: files, files rejected, the rate, and the most frequent
reasons with one example each. No import allow-list here: whether a file's imports are the
repo's own depends on the repo, not on the rule.

    python bench/bench_trust_corpus.py PATH [PATH...]
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from robot.api import get_model

from generator.validate.trust import defined_names, untrusted_code

_SUFFIXES = (".robot", ".resource")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in _SUFFIXES and p.is_file())


def _kind(message: str) -> str:
    """A reason without its specifics, for counting."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|\$\{[^}]*\}", "…", message)[:110]


def measure(root: Path) -> None:
    files = _files(root)
    models = {}
    for path in files:
        try:
            models[path] = get_model(path)
        except Exception as exc:  # a file Robot itself cannot read is not the rule's verdict
            print(f"  skipped {path.relative_to(root)}: {exc}")
    # The repo's own variable names, as `validate` passes them (resources and suites alike).
    known = sorted({name for model in models.values() for name in defined_names(model)})
    rejected: dict[Path, list[str]] = {}
    reasons: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for path, model in models.items():
        found = untrusted_code(model, known_variables=[f"${{{n}}}" for n in known])
        if found:
            rejected[path] = [d.message for d in found]
            for d in found:
                reasons[_kind(d.message)] += 1
                examples.setdefault(_kind(d.message), f"{path.relative_to(root)}:{d.line}: {d.message[:160]}")
    rate = 100 * len(rejected) / max(len(models), 1)
    print(f"{root.name}: {len(models)} files, {len(rejected)} rejected ({rate:.1f}%)")
    for reason, count in reasons.most_common(5):
        print(f"  {count:4d} × {examples[reason]}")


def main(argv: list[str]) -> None:
    for path in argv:
        measure(Path(path))


if __name__ == "__main__":
    main(sys.argv[1:])
