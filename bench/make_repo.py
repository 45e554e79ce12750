"""A synthetic but valid Robot Framework test repository, for benchmarks.

Sized like a large real test repo (default 1,000 resource files, 5,000 keywords) with the
shapes the inventory and matcher must handle: positional and default arguments, embedded
arguments, documentation, suites importing resources and libraries, a Python keyword library,
a variables file and a convention document. Deterministic: the same call writes the same
bytes, so benchmark runs are comparable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

VERBS = (
    "Create", "Cancel", "Approve", "Reject", "Archive", "Restore", "Submit", "Review",
    "Export", "Import", "Validate", "Refund", "Assign", "Close", "Reopen", "Publish",
    "Suspend", "Activate", "Verify", "Update",
)  # fmt: skip
NOUNS = (
    "Order", "Invoice", "Customer", "Account", "Payment", "Shipment", "Contract", "Ticket",
    "Product", "Subscription", "Voucher", "Supplier", "Report", "Budget", "Warehouse",
    "Delivery", "Quote", "Claim", "Policy", "Refund Request", "Mandate", "Transfer",
    "Beneficiary", "Card", "Loan",
)  # fmt: skip
AREAS = (
    "Back Office", "Web Shop", "Mobile App", "Partner Portal", "Admin Console",
    "Public Api", "Batch Job", "Call Center", "Self Service", "Legacy System",
)  # fmt: skip
STATES = ("active", "closed", "pending", "rejected", "archived")


def keyword_names(count: int) -> list[str]:
    """`count` distinct business keyword names, the same list on every call."""
    names = [f"{verb} {noun} In {area}" for area in AREAS for noun in NOUNS for verb in VERBS]
    if count > len(names):
        names += [f"{name} Again {i // len(names)}" for i, name in enumerate(names * (count // len(names)))]
    return names[:count]


def _slug(text: str) -> str:
    return text.lower().replace(" ", "_")


def _keyword_block(name: str, index: int) -> str:
    noun = name.split(" In ")[0].split(" ", 1)[1]
    var = _slug(noun)
    if index % 10 == 9:
        # Embedded arguments: the step text itself is the call.
        state = STATES[(index // 10) % len(STATES)]
        return (
            f'The {noun.lower()} "${{{var}}}" is {state} in {name.split(" In ")[1].lower()}\n'
            f"    [Documentation]    Checks that the {noun.lower()} is {state}. Fails otherwise.\n"
            f"    Log    ${{{var}}}\n"
        )
    args = f"${{{var}_id}}" if index % 3 else f"${{{var}_id}}    ${{count}}=1"
    return (
        f"{name}\n"
        f"    [Documentation]    {name.split(' ', 1)[0]}s the {noun.lower()} through the "
        f"{name.split(' In ')[1].lower()}. Second sentence with details.\n"
        f"    [Arguments]    {args}\n"
        f"    [Tags]    {_slug(noun)}\n"
        f"    Log    ${{{var}_id}}\n"
    )


def make_repo(root: Path, resources: int = 1000, keywords_per_resource: int = 5) -> Path:
    """Write the repo under `root` (created if needed) and return `root`."""
    root.mkdir(parents=True, exist_ok=True)
    names = keyword_names(resources * keywords_per_resource)
    (root / "doc").mkdir(exist_ok=True)
    (root / "doc" / "convention.md").write_text(
        "# Test conventions\n\n"
        "- One suite per feature under `tests/`, named `<feature>.robot`.\n"
        "- Import business keywords from `resources/`; never call libraries directly in tests.\n"
        "- Use Given/When/Then steps; tag every test with its Jira key.\n",
        encoding="utf-8",
    )
    (root / "variables").mkdir(exist_ok=True)
    (root / "variables" / "env.py").write_text('BASE_URL = "http://127.0.0.1:8080"\n', encoding="utf-8")
    (root / "libraries").mkdir(exist_ok=True)
    (root / "libraries" / "BenchLibrary.py").write_text(
        "class BenchLibrary:\n"
        '    """Technical helpers of the benchmark repo."""\n\n'
        "    def wait_for_backend(self, timeout='10s'):\n"
        '        """Waits until the backend answers."""\n\n'
        "    def reset_test_data(self):\n"
        '        """Resets the test data set."""\n',
        encoding="utf-8",
    )
    resource_paths = []
    for r in range(resources):
        folder = root / "resources" / f"domain_{r // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"feature_{r:04d}.resource"
        chunk = names[r * keywords_per_resource : (r + 1) * keywords_per_resource]
        blocks = [_keyword_block(name, r * keywords_per_resource + i) for i, name in enumerate(chunk)]
        path.write_text(
            "*** Settings ***\n"
            f"Documentation    Keywords of feature {r}.\n"
            "Library    Collections\n"
            "Library    ../../libraries/BenchLibrary.py\n"
            "\n*** Keywords ***\n" + "\n".join(blocks),
            encoding="utf-8",
        )
        resource_paths.append((path.relative_to(root).as_posix(), chunk))
    tests = root / "tests"
    tests.mkdir(exist_ok=True)
    suites = max(1, resources // 100)
    for s in range(suites):
        imported = resource_paths[s * 10 : s * 10 + 10] or resource_paths[:1]
        settings = "".join(f"Resource    ../{rel}\n" for rel, _ in imported)
        calls = [
            f"    {name}    {i}\n"
            for i, (_, chunk) in enumerate(imported)
            for name in chunk[:1]
            if chunk and "${" not in name
        ]
        (tests / f"suite_{s:02d}.robot").write_text(
            "*** Settings ***\n"
            "Library    Collections\n"
            "Variables    ../variables/env.py\n" + settings + "\n*** Test Cases ***\n"
            f"Scenario {s}\n" + ("".join(calls) or "    No Operation\n"),
            encoding="utf-8",
        )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--keywords-per-resource", type=int, default=5)
    ns = parser.parse_args()
    make_repo(ns.root, ns.resources, ns.keywords_per_resource)
    print(ns.root)


if __name__ == "__main__":
    main()
