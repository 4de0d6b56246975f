"""The cache of validated shipped profiles (:mod:`simulator.hardware.profile_cache`, issue 21).

A hit must give the Device that validating the file gives, field for field (which fields were set
included); an entry that is corrupt, or stale because a file it was read from changed, must be
ignored (the profile validated again); a folder that cannot be written must cost nothing but the cache.
Each test points the cache at its own folder (``ROOFLINE_CACHE_DIR``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from simulator.hardware import loader, profile_cache, profile_files
from simulator.hardware.device import Device

NAMES = ("jetson-agx-orin", "h100-sxm", "nucleo-l4r5zi", "l4")  # ampere, hopper, a microcontroller, extends


def fields_set_tree(value: object) -> object:
    """Every model's ``model_fields_set`` in ``value``, nested as the models are."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set),
                {name: fields_set_tree(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, dict):
        return {key: fields_set_tree(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(fields_set_tree(item) for item in value)
    return None


def validated(name: str) -> Device:
    """The shipped profile ``name`` read and validated from its file, no cache involved."""
    return loader._load_device(loader.available_devices()[name])


def read_shipped(name: str) -> Device:
    loader._load_shipped.cache_clear()  # the in-process memo, not the cache on disk
    return loader.resolve_device(name)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(profile_cache.CACHE_DIR_VARIABLE, str(tmp_path / "cache"))
    loader._load_shipped.cache_clear()
    yield tmp_path / "cache" / "profiles"
    loader._load_shipped.cache_clear()


def refuse_validation(monkeypatch) -> None:
    """From now on, reading a file fails: only a cache hit can give a device."""
    def no_reading(path):
        raise AssertionError(f"{path} was read: not a cache hit")
    monkeypatch.setattr(loader, "read_table", no_reading)
    monkeypatch.setattr(loader, "_noting", lambda files: no_reading)


@pytest.mark.parametrize("name", NAMES)
def test_a_hit_gives_the_device_a_miss_validates(cache, monkeypatch, name):
    miss = read_shipped(name)
    assert (cache / f"device-{name}.json").is_file()
    refuse_validation(monkeypatch)
    hit = read_shipped(name)
    monkeypatch.undo()
    fresh = validated(name)
    assert hit is not miss
    assert hit == fresh and miss == fresh
    assert hit.model_dump() == fresh.model_dump()
    assert fields_set_tree(hit) == fields_set_tree(fresh)
    # types survive JSON: capacities stay ints, bandwidths floats, stores a frozenset
    assert all(type(level.capacity_bytes) is int and type(level.bandwidth_bytes_per_s) is float
               and isinstance(level.stores, frozenset) for level in hit.memory_levels)
    assert type(hit.memory_levels) is tuple


def test_a_runtime_is_cached_too(cache, monkeypatch):
    fresh = loader.load_runtime(loader.available_runtimes()["x-cube-ai-9.0"])
    loader.resolve_runtime.cache_clear()
    assert loader.resolve_runtime("x-cube-ai-9.0") == fresh
    refuse_validation(monkeypatch)
    loader.resolve_runtime.cache_clear()
    assert loader.resolve_runtime("x-cube-ai-9.0") == fresh
    loader.resolve_runtime.cache_clear()


@pytest.mark.parametrize("corrupt", [
    lambda text: text[: len(text) // 2],                                         # truncated
    lambda text: "not json at all",
    lambda text: text.replace('"capacity_bytes":', '"capacity_bytes":1', 1),     # a figure edited
    lambda text: text.replace('"format": 1', '"format": 0', 1),                  # another layout
    lambda text: text.split("\n", 1)[0] + "\n" + json.dumps({"set": [], "fields": {}}),  # payload swapped
])
def test_a_corrupt_entry_is_ignored_and_rewritten(cache, corrupt):
    fresh = validated("jetson-agx-orin")
    read_shipped("jetson-agx-orin")
    entry = cache / "device-jetson-agx-orin.json"
    good = entry.read_text(encoding="utf-8")
    entry.write_text(corrupt(good), encoding="utf-8")
    assert entry.read_text(encoding="utf-8") != good
    device = read_shipped("jetson-agx-orin")
    assert device == fresh and fields_set_tree(device) == fields_set_tree(fresh)
    assert entry.read_text(encoding="utf-8") == good  # validated again and written again


def shipped_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped folder that the loader and the cache take for the shipped one."""
    root = tmp_path / "profiles"
    shutil.copytree(profile_files.shipped_root(), root,
                    ignore=shutil.ignore_patterns("__pycache__", "measurements"))
    monkeypatch.setattr(profile_cache, "shipped_root", lambda: root)
    monkeypatch.setattr(loader, "shipped_files", lambda folder=None: {
        path.stem: path for path in sorted((root / folder if folder else root).iterdir())
        if path.suffix in profile_files.SUFFIXES})
    return root


def test_an_entry_is_stale_once_a_file_it_was_read_from_changes(cache, tmp_path, monkeypatch):
    root = shipped_copy(tmp_path, monkeypatch)
    before = read_shipped("jetson-agx-orin")
    profile = root / "jetson-agx-orin.toml"
    text = profile.read_text(encoding="utf-8")
    assert text.count("bandwidth_gb_per_s = 204.8") == 1
    profile.write_text(text.replace("bandwidth_gb_per_s = 204.8", "bandwidth_gb_per_s = 102.4"),
                       encoding="utf-8")
    after = read_shipped("jetson-agx-orin")
    assert before.memory_levels[0].bandwidth_bytes_per_s == 204.8e9  # the data sheet's 204.8 GB/s
    assert after.memory_levels[0].bandwidth_bytes_per_s == 102.4e9  # the edited file, not the entry
    # the energy table is a file of the entry too: the L2's entry at 200 pJ instead of 100 doubles the L2's
    table = root / "energy" / "horowitz-45nm.toml"
    text = table.read_text(encoding="utf-8")
    entry = "[memory_access.sram-1mib-64bit]\naccess_bits = 64\nenergy_per_access_pj = "
    assert text.count(f"{entry}100.0\n") == 1
    table.write_text(text.replace(f"{entry}100.0\n", f"{entry}200.0\n"), encoding="utf-8")
    l2_pj = before.level("l2").energy_per_access_pj
    after = read_shipped("jetson-agx-orin")
    assert after.level("l2").energy_per_access_pj == pytest.approx(2 * l2_pj, rel=1e-12)


def test_an_entry_is_stale_under_other_code_or_versions(cache, monkeypatch):
    read_shipped("h100-sxm")
    entry = cache / "device-h100-sxm.json"
    key = json.loads(entry.read_text(encoding="utf-8").split("\n", 1)[0])["key"]
    monkeypatch.setattr(profile_cache, "code_fingerprint", lambda: b"other code")
    read_shipped("h100-sxm")
    assert json.loads(entry.read_text(encoding="utf-8").split("\n", 1)[0])["key"] != key
    monkeypatch.undo()
    monkeypatch.setenv(profile_cache.CACHE_DIR_VARIABLE, str(cache.parent))
    monkeypatch.setattr("simulator.__version__", "0.0.0-other")
    read_shipped("h100-sxm")
    assert json.loads(entry.read_text(encoding="utf-8").split("\n", 1)[0])["key"] != key


def test_a_profile_given_by_path_is_never_cached(cache, tmp_path):
    path = tmp_path / "mine.toml"
    text = loader.available_devices()["l4"].read_text(encoding="utf-8")
    path.write_text(text.replace('name = "l4"', 'name = "mine"'), encoding="utf-8")
    assert loader.resolve_device(path).name == "mine"
    assert not cache.exists() or not list(cache.iterdir())


@pytest.mark.parametrize("where", ["a file", "off"])
def test_an_unusable_cache_folder_costs_only_the_cache(tmp_path, monkeypatch, where):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv(profile_cache.CACHE_DIR_VARIABLE, str(blocker) if where == "a file" else "")
    assert read_shipped("jetson-agx-orin") == validated("jetson-agx-orin")
    assert read_shipped("jetson-agx-orin") == validated("jetson-agx-orin")
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-folder"]  # nothing written anywhere here
    loader._load_shipped.cache_clear()


def test_no_home_folder_turns_the_cache_off(monkeypatch):
    """Without HOME, XDG_CACHE_HOME or a passwd entry, Path.home() raises RuntimeError: the cache is
    off (no folder), and the profile still loads, validated."""
    for variable in (profile_cache.CACHE_DIR_VARIABLE, "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(variable, raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert profile_cache.cache_dir() is None
    assert read_shipped("jetson-agx-orin") == validated("jetson-agx-orin")
    loader._load_shipped.cache_clear()


@pytest.mark.parametrize("device", ["jetson-agx-orin", "nucleo-l4r5zi@x-cube-ai-9.0"])
def test_a_cached_command_builds_no_schema(tmp_path, device):
    """Start-up (issue 21): with the entries on disk, `roofline simulate` validates nothing (a device
    with a runtime, whose classes fall back to the ideal entry, included), so pydantic neither builds a
    schema nor scans the installed distributions for plugins."""
    probe = ("import contextlib, io, sys\n"
             "from simulator.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    assert main(['simulate', 'mobilenet_v2', '--device', {device!r}]) == 0\n"
             "from simulator.hardware.device import Device\n"
             "print(Device.__pydantic_complete__, 'pydantic.plugin._loader' in sys.modules)\n")
    environment = {**os.environ, profile_cache.CACHE_DIR_VARIABLE: str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           env=environment).stdout.split() for _ in range(2)]
    assert runs[0] == ["True", "True"]  # the miss validated (and wrote the entry)
    assert runs[1] == ["False", "False"]  # the hit did neither
