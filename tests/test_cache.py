"""The repo cache (generator/gather/cache.py): keyed by content and settings only, bounded by size.

Real files, real builds: an entry is proven to be used by editing it on disk and seeing the
edit come back, and a cold or warm inventory build is told by `last_build_from_cache`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from generator.gather import cache
from generator.gather.repo import index_suites
from generator.retrieval.inventory import build_inventory, last_build_from_cache, without_importer

NEW_SUITE = """*** Settings ***
Resource    ../resources/common.resource

*** Test Cases ***
Fresh Test
    Log    hello
"""


def test_the_suite_index_is_served_from_the_cache(sample_repo: Path, tmp_path: Path):
    first = index_suites(sample_repo, "tests", cache_dir=tmp_path)
    [entry] = tmp_path.glob("suites-*.json")
    stored = json.loads(entry.read_text(encoding="utf-8"))
    stored[0]["tags"] = ["FROM-THE-CACHE"]
    entry.write_text(json.dumps(stored), encoding="utf-8")

    again = index_suites(sample_repo, "tests", cache_dir=tmp_path)

    assert again[0].tags == {"FROM-THE-CACHE"}
    assert [s.text for s in again] == [s.text for s in first]  # texts are the files', not stored
    assert [s.test_settings for s in again[1:]] == [s.test_settings for s in first[1:]]


def test_an_edited_suite_is_parsed_again(sample_repo: Path, tmp_path: Path):
    index_suites(sample_repo, "tests", cache_dir=tmp_path)
    suite = sample_repo / "tests" / "cart" / "cart_add_remove.robot"
    suite.write_text(suite.read_text(encoding="utf-8").replace("QA-4", "QA-444"), encoding="utf-8")

    tags = set().union(*(s.tags for s in index_suites(sample_repo, "tests", cache_dir=tmp_path)))

    assert "QA-444" in tags and "QA-4" not in tags


def test_after_a_suite_is_added_only_that_suite_is_parsed(
    sample_repo: Path, tmp_path: Path, robot_parses: list[tuple[object, bool]]
) -> None:
    """Re-parsing a thousand suites because one was added took seconds: the checkout's last
    index still holds every suite whose bytes did not change."""
    first = index_suites(sample_repo, "tests", cache_dir=tmp_path)
    (sample_repo / "tests" / "fresh.robot").write_text(NEW_SUITE, encoding="utf-8")
    robot_parses.clear()  # only what the second build parses counts
    again = index_suites(sample_repo, "tests", cache_dir=tmp_path)

    assert [source for source, _ in robot_parses] == [NEW_SUITE]
    assert [s.path for s in again] == sorted([*(s.path for s in first), "tests/fresh.robot"])
    fresh = next(s for s in again if s.path == "tests/fresh.robot")
    assert fresh.test_names == ["Fresh Test"] and fresh.doc is not None
    kept = {s.path: (s.tags, s.test_names, s.test_settings) for s in again}
    assert all(kept[s.path] == (s.tags, s.test_names, s.test_settings) for s in first)


def test_after_a_suite_is_added_the_inventory_parses_only_that_file(
    sample_repo: Path, tmp_path: Path, robot_parses: list[tuple[object, bool]]
) -> None:
    """A new suite changes the inventory's key (its imports join the allow-list), but not what
    the other files hold: the build parses the new file and takes the rest from the last build."""
    before = build_inventory(sample_repo, cache_dir=tmp_path)
    (sample_repo / "tests" / "fresh.robot").write_text(NEW_SUITE, encoding="utf-8")
    robot_parses.clear()  # only what the second build parses counts
    after = build_inventory(sample_repo, cache_dir=tmp_path)

    assert not last_build_from_cache()
    assert [source for source, _ in robot_parses] == [NEW_SUITE]
    assert after.keywords == before.keywords and after.variable_names == before.variable_names
    assert "tests/fresh.robot" in after.importers["RESOURCE:resources/common.resource"]


def test_the_key_ignores_where_the_repo_sits(sample_repo: Path, tmp_path: Path):
    """Shards and pipelines check the repo out at different paths: one entry serves them all."""
    elsewhere = shutil.copytree(sample_repo, tmp_path / "another" / "checkout")
    index_suites(sample_repo, "tests", cache_dir=tmp_path / "c")
    build_inventory(sample_repo, cache_dir=tmp_path / "c")
    index_suites(elsewhere, "tests", cache_dir=tmp_path / "c")
    build_inventory(elsewhere, cache_dir=tmp_path / "c")
    assert last_build_from_cache()
    checkout_memos = ("stat-", "last-")  # named by a checkout's files or path, by design
    kinds = sorted(
        p.name.split("-")[0] for p in (tmp_path / "c").glob("*.json") if not p.name.startswith(checkout_memos)
    )
    assert kinds == ["imports", "inventory", "suites"]  # one entry of each for both checkouts


def test_validating_a_new_file_hits_the_warm_inventory(sample_repo: Path, tmp_path: Path):
    warm = build_inventory(sample_repo, cache_dir=tmp_path)
    new = sample_repo / "tests" / "cart" / "fresh.robot"
    new.write_text(NEW_SUITE, encoding="utf-8")

    seen = build_inventory(sample_repo, cache_dir=tmp_path, exclude=["tests/cart/fresh.robot"])
    assert last_build_from_cache()
    assert seen == warm

    build_inventory(sample_repo, cache_dir=tmp_path)  # the repo with the file is other content
    assert not last_build_from_cache()


def test_validating_a_file_already_in_the_repo_uses_the_whole_repos_entry(sample_repo: Path, tmp_path: Path):
    whole = build_inventory(sample_repo, cache_dir=tmp_path)
    rel = "tests/cart/cart_add_remove.robot"
    seen = build_inventory(sample_repo, cache_dir=tmp_path, exclude=[rel])
    assert last_build_from_cache() and seen == whole
    assert without_importer(seen, rel).resources == without_importer(whole, rel).resources


def test_the_working_directory_is_not_part_of_the_key(
    sample_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An `*.egg-info` folder where the command runs once made a second entry for the same repo."""
    build_inventory(sample_repo, cache_dir=tmp_path / "c")
    workdir = tmp_path / "work"
    (workdir / "something.egg-info").mkdir(parents=True)
    (workdir / "something.egg-info" / "PKG-INFO").write_text("Name: something\nVersion: 1.0\n", encoding="utf-8")
    monkeypatch.chdir(workdir)
    monkeypatch.syspath_prepend(str(workdir))

    build_inventory(sample_repo, cache_dir=tmp_path / "c")

    assert last_build_from_cache()


def _entry(folder: Path, kind: str, name: str, size: int, age: int) -> Path:
    path = cache.entry_path(kind, name, folder)
    path.write_bytes(b"x" * size)
    os.utime(path, (1_000_000 - age, 1_000_000 - age))
    return path


def test_entries_are_evicted_by_total_size_least_recently_used_first(tmp_path: Path):
    old = _entry(tmp_path, "inventory", "old", 400, age=30)
    used = _entry(tmp_path, "suites", "used", 400, age=20)
    new = _entry(tmp_path, "inventory", "new", 400, age=10)
    foreign = tmp_path / "other-tool.json"
    foreign.write_bytes(b"y" * 5000)
    assert cache.read(used) is not None  # a hit makes it the most recently used

    removed = cache.prune(tmp_path, limit=900, keep=new)

    assert removed == [old]
    assert used.exists() and new.exists() and foreign.exists()


def test_many_small_entries_stay_when_they_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The old bound of 32 files pushed a run's inventory out after 32 validated files."""
    monkeypatch.delenv(cache.MAX_MB_ENV, raising=False)
    first = _entry(tmp_path, "inventory", "first", 100, age=100)
    for i in range(40):
        cache.write(cache.entry_path("inventory", f"k{i}", tmp_path), "{}")
    assert first.exists()
    monkeypatch.setenv(cache.MAX_MB_ENV, "0")
    cache.write(cache.entry_path("suites", "last", tmp_path), "[]")
    assert [p.name for p in tmp_path.glob("*.json")] == ["suites-last.json"]


def test_a_content_key_is_remembered_under_the_files_stats(tmp_path: Path):
    """A warm command only stats the files; a rewrite (new ctime, even with the old size and
    mtime) and a file changed within RACY_SECONDS are hashed again."""
    files = []
    for name in ("a.robot", "b.resource"):
        (tmp_path / name).write_text(name, encoding="utf-8")
        os.utime(tmp_path / name, (1_000_000, 1_000_000))
        files.append(tmp_path / name)
    hashed: list[int] = []

    def key() -> str:
        hashed.append(1)
        return cache.content_key([p.read_bytes() for p in files])

    def stats() -> list[tuple[str, os.stat_result]]:
        return [(p.name, p.stat()) for p in files]

    folder = tmp_path / "cache"
    first = cache.memoised_key(["settings"], stats(), key, folder)
    assert not list(folder.glob("stat-*.json"))  # just written: no memo vouches for them yet
    time.sleep(cache.RACY_SECONDS + 0.1)  # not a timing assertion: the files must grow old
    assert cache.memoised_key(["settings"], stats(), key, folder) == first
    assert len(list(folder.glob("stat-*.json"))) == 1
    hashed.clear()
    assert cache.memoised_key(["settings"], stats(), key, folder) == first
    assert hashed == []  # served by the stats
    assert cache.memoised_key(["other settings"], stats(), key, folder) == first and hashed == [1]

    hashed.clear()
    files[0].write_text("A.robot", encoding="utf-8")  # same size...
    os.utime(files[0], (1_000_000, 1_000_000))  # ...and the same mtime: only the ctime moved
    changed = cache.memoised_key(["settings"], stats(), key, folder)
    assert hashed == [1] and changed != first


def test_the_tests_folder_is_a_setting_not_part_of_the_inventory_key(sample_repo: Path, tmp_path: Path):
    build_inventory(sample_repo, tests_dir="tests", cache_dir=tmp_path)
    moved = build_inventory(sample_repo, tests_dir="nowhere", cache_dir=tmp_path)
    assert last_build_from_cache()
    assert moved.errors[0].startswith("tests folder 'nowhere' not found in the repo")
    assert not any("tests folder" in e for e in build_inventory(sample_repo, cache_dir=tmp_path).errors)


def test_validate_reads_only_the_import_allow_list(sample_repo: Path, tmp_path: Path):
    whole = build_inventory(sample_repo, cache_dir=tmp_path)
    imports = build_inventory(sample_repo, cache_dir=tmp_path, imports_only=True)
    assert last_build_from_cache() and whole.keywords and not imports.keywords
    fields = ("libraries", "resources", "variables", "importers", "errors")
    assert [getattr(imports, f) for f in fields] == [getattr(whole, f) for f in fields]
