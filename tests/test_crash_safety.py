"""A host write killed with SIGKILL at any point leaves a data folder whose service starts, with an index that
holds exactly the hosts of record; and a service that was running through the crash never serves hosts the
database does not have.

The writer is a subprocess (`tests.catalogue_driver`, the catalogue over a slowed fake embedder) killed
either at a named step (`HOSTMATCH_CRASH_AT`, matcher.crashpoints), including between saving the index
snapshot and committing the database, or at a random time; 25 kills in all, each in a fresh folder. The
slow tests kill the real `hostmatch index build` the same way.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matcher.catalogue import Catalogue
from matcher.crashpoints import STEPS
from matcher.generation import Generation
from matcher.store import Store
from models.profiles import HostLab
from service import create_app
from tests.catalogue_driver import SLOW_S, Folder, initial_hosts, sample, states
from tests.conftest import researcher_record, stored_hosts

ROOT = Path(__file__).parents[1]
STATEMENT = "Subduction zone earthquakes, slow slip events and tsunami early warning from seafloor geodesy."
DRIVER_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the initial hosts, their vectors in its cache; each test writes to a copy."""
    root = tmp_path_factory.mktemp("template")
    Folder(root).open().upsert_hosts(initial_hosts())
    return root


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Folder:
    root = tmp_path / "home"
    shutil.copytree(template, root)
    return Folder(root)


def start_driver(root: Path, scenario: str, crash_at: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DRIVER_SLOW_S": "0" if crash_at else str(SLOW_S)}
    env.pop("HOSTMATCH_CRASH_AT", None)
    if crash_at:
        env["HOSTMATCH_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.catalogue_driver", str(root), scenario],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def killed_at(root: Path, scenario: str, step: str) -> None:
    """Run the scenario until the driver kills itself at `step`."""
    driver = start_driver(root, scenario, crash_at=step)
    _, err = driver.communicate(timeout=DRIVER_TIMEOUT_S)
    assert driver.returncode == -signal.SIGKILL, err.decode()[-2000:]


def killed_after(root: Path, scenario: str, seconds: float) -> None:
    """Run the scenario and `kill -9` it after `seconds` (or let it finish, if it is quicker)."""
    driver = start_driver(root, scenario)
    try:
        driver.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        driver.send_signal(signal.SIGKILL)
    _, err = driver.communicate(timeout=DRIVER_TIMEOUT_S)
    assert driver.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]


def assert_in_step(folder: Folder, reader: Catalogue, possible: list[dict[str, HostLab]]) -> None:
    """After the kill: the running reader holds exactly the hosts of record, which are one of the states the
    writes pass through (all or nothing); a new start opens, its index holds them and its manifest names
    the committed generation; the app over it is ready and matches only stored hosts."""
    stored = stored_hosts(folder.store)
    assert stored in possible, "the database holds part of a write"
    reader.refresh()
    assert reader.engine.hosts == stored, "the running service serves hosts the database does not have"

    catalogue = folder.open(serving=True)
    assert catalogue.engine.hosts == stored and catalogue.engine.index.host_ids == sorted(stored)
    manifest = json.loads((folder.index_dir / "manifest.json").read_text())
    assert Generation.from_json(manifest["generation"]) == folder.store.generation() == catalogue.generation
    cli = Catalogue.committed_engine(folder.store, folder.embedder(), index_dir=folder.index_dir)
    assert cli.hosts == stored

    client = create_app({"TESTING": True, "HOME": str(folder.root)}, catalogue=catalogue).test_client()
    assert client.get("/readyz").get_json()["details"]["hosts"] == len(stored)
    response = client.post("/v1/matches", json={"researcher": researcher_record(statement=STATEMENT), "top": 20})
    assert response.status_code == 200, response.get_json()
    found = [m["host_id"] for m in response.get_json()["matches"]]
    assert found and set(found) <= set(stored)


DETERMINISTIC = [
    *(("replace", step) for step in STEPS),
    *(("add", step) for step in STEPS),
    *(("remove", step) for step in STEPS if step != "embedded"),  # a removal embeds nothing
    ("writes", "snapshot-saved:7"),  # the seventh of thirty small writes
]


@pytest.mark.parametrize(("scenario", "step"), DETERMINISTIC, ids=[f"{s}-{p}" for s, p in DETERMINISTIC])
def test_a_write_killed_at_a_step_leaves_the_index_and_the_database_in_step(
    folder: Folder, scenario: str, step: str
) -> None:
    reader = folder.open(serving=True)
    possible = states(scenario, stored_hosts(folder.store))
    killed_at(folder.root, scenario, step)
    if step.startswith("committed"):
        assert stored_hosts(folder.store) == possible[1]
    elif scenario != "writes":
        assert stored_hosts(folder.store) == possible[0]
    assert_in_step(folder, reader, possible)


def test_a_start_up_killed_while_it_repairs_a_crashed_write_is_repaired_by_the_next(folder: Folder) -> None:
    reader = folder.open(serving=True)
    possible = states("replace", stored_hosts(folder.store))
    killed_at(folder.root, "replace", "snapshot-saved")  # leaves a snapshot the database never committed
    killed_at(folder.root, "open", "snapshot-files-written")  # the repair's own save, killed midway
    assert_in_step(folder, reader, possible[:1])


@pytest.mark.parametrize("seed", range(8))
def test_writes_killed_at_a_random_time_leave_the_index_and_the_database_in_step(folder: Folder, seed: int) -> None:
    """Thirty small writes (or, for odd seeds, one bulk replace), killed after a random 0.4-2.5 s: while
    starting, embedding, writing or saving."""
    reader = folder.open(serving=True)
    scenario = "replace" if seed % 2 else "writes"
    possible = states(scenario, stored_hosts(folder.store))
    killed_after(folder.root, scenario, random.Random(seed).uniform(0.4, 2.5))
    assert_in_step(folder, reader, possible)


# -- the real command ----------------------------------------------------------------------------------


def hostmatch(home: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HOSTMATCH_CRASH_AT", None)
    if crash_at:
        env["HOSTMATCH_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "--home", str(home), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_the_real_index_build_killed_between_saving_and_committing(tmp_path: Path) -> None:
    """`hostmatch index build` with the real model, killed after saving its snapshot and before committing,
    then at a random time: the old labs stay the labs of record, and `hostmatch match` and a new start
    agree with the database."""
    home = tmp_path / "home"
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(h.model_dump_json() for h in sample()[:60]))
    assert hostmatch(home, "index", "build", "--hosts", str(first)).returncode == 0
    second = tmp_path / "second.jsonl"
    second.write_text("\n".join(h.model_dump_json() for h in sample()[30:]))
    store = Store(f"sqlite:///{home / 'hostmatch.sqlite3'}")
    before = stored_hosts(store)

    result = hostmatch(home, "index", "build", "--hosts", str(second), crash_at="snapshot-saved")
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert stored_hosts(store) == before
    manifest = json.loads((home / "index" / "manifest.json").read_text())
    assert Generation.from_json(manifest["generation"]) != store.generation()  # the orphan snapshot

    researcher = tmp_path / "me.json"
    researcher.write_text(json.dumps(researcher_record(statement=STATEMENT)))
    result = hostmatch(home, "match", "--researcher", str(researcher), "--top", "50", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert {m["host_id"] for m in json.loads(result.stdout)["matches"]} <= set(before)
    previous = json.loads((home / "index" / "manifest.previous.json").read_text())
    assert Generation.from_json(previous["generation"]) == store.generation()  # what `match` read

    build = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "--home", str(home), "index", "build", "--hosts", str(second)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(random.Random(1).uniform(3.0, 8.0))  # the model loads in ~3 s; embedding the new labs follows
    build.kill()
    build.wait(timeout=60)
    stored = stored_hosts(store)
    assert stored in ({h.id: h for h in sample()[:60]}, {h.id: h for h in sample()[30:]})
    result = hostmatch(home, "match", "--researcher", str(researcher), "--top", "50", "--json")
    assert {m["host_id"] for m in json.loads(result.stdout)["matches"]} <= set(stored)
    result = hostmatch(home, "index", "build", "--hosts", str(second))  # starts by repairing, if need be
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((home / "index" / "manifest.json").read_text())
    assert Generation.from_json(manifest["generation"]) == store.generation()
    assert stored_hosts(store) == {h.id: h for h in sample()[30:]}
