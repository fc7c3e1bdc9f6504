"""A process that writes hosts through the catalogue, for the crash-safety tests to kill (`kill -9`).

    python -m tests.catalogue_driver HOME SCENARIO

HOME holds the database (`db.sqlite3`), the index (`index/`) and the embedding cache (`cache.sqlite3`), as
`Folder` below opens them. SCENARIO is a name in `SCENARIOS`: a list of writes (`Write`), run in turn. The
embedder is the tests' fake, slowed down by $DRIVER_SLOW_S seconds per text embedded (`SLOW_S` for the
random kills), so that a kill at a random time lands while texts are embedded as well as while they are
written; `HOSTMATCH_CRASH_AT` (matcher.crashpoints) kills
the process at a named step instead. "open" only opens the catalogue (a start-up, which repairs).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

from matcher.catalogue import Catalogue
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.progress import Progress
from matcher.records import read_hosts, sample_path
from matcher.store import Store
from models.profiles import HostLab
from tests.conftest import FakeEmbedder

SLOW_S = 0.002  # per text embedded: ~0.5 s for the texts of 40 new or changed sample labs


class SlowFakeEmbedder(FakeEmbedder):
    """The tests' fake, taking `slow_s` (default: $DRIVER_SLOW_S, else 0) per text it embeds."""

    def __init__(self, slow_s: float | None = None) -> None:
        super().__init__()
        self.slow_s = float(os.environ.get("DRIVER_SLOW_S", "0")) if slow_s is None else slow_s

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        time.sleep(self.slow_s * len(texts))
        return super().encode(texts, progress=progress)


class Folder:
    """The data folder the driver writes to and the tests read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.index_dir = root / "index"
        self.store = Store(f"sqlite:///{root / 'db.sqlite3'}")

    def embedder(self) -> CachingEmbedder:
        return CachingEmbedder(SlowFakeEmbedder(), EmbeddingCache(self.root / "cache.sqlite3"))

    def open(self, *, serving: bool = False) -> Catalogue:
        return Catalogue.open(self.store, self.embedder(), index_dir=self.index_dir, serving=serving)


@dataclass(frozen=True)
class Write:
    kind: Literal["upsert", "replace", "delete"]
    hosts: tuple[HostLab, ...] = ()
    host_id: str = ""

    def run(self, catalogue: Catalogue) -> None:
        if self.kind == "upsert":
            catalogue.upsert_hosts(self.hosts)
        elif self.kind == "replace":
            catalogue.replace_all(self.hosts)
        else:
            catalogue.delete_host(self.host_id)

    def applied(self, hosts: dict[str, HostLab]) -> dict[str, HostLab]:
        """The hosts of record after this write, given those before it."""
        if self.kind == "delete":
            return {k: v for k, v in hosts.items() if k != self.host_id}
        after = {} if self.kind == "replace" else dict(hosts)
        after.update((h.id, h) for h in self.hosts)
        return dict(sorted(after.items()))


@cache
def sample() -> tuple[HostLab, ...]:
    return tuple(read_hosts(sample_path("hosts")))


def revised(host: HostLab, n: int = 1) -> HostLab:
    return host.model_copy(update={"description": f"{host.description} Revised ({n}) for the next call."})


def initial_hosts() -> list[HostLab]:
    """What the folder holds before a scenario: the first 80 sample labs."""
    return list(sample()[:80])


def scenario(name: str) -> list[Write]:
    labs = sample()
    if name == "replace":  # labs 40-123, every third one revised: 40 removed, 44 added, 14 updated
        return [Write("replace", tuple(revised(h) if i % 3 == 0 else h for i, h in enumerate(labs[40:])))]
    if name == "add":  # 20 new labs and one revised
        return [Write("upsert", (*labs[80:100], revised(labs[0])))]
    if name == "remove":
        return [Write("delete", host_id=labs[1].id)]
    if name == "writes":  # 30 small writes in turn: revise one lab, add one, remove one
        writes = []
        for i in range(10):
            writes.append(Write("upsert", (revised(labs[i], i),)))
            writes.append(Write("upsert", (labs[80 + i],)))
            writes.append(Write("delete", host_id=labs[40 + i].id))
        return writes
    if name == "open":
        return []
    raise ValueError(f"no scenario {name!r}")


def states(name: str, before: dict[str, HostLab]) -> list[dict[str, HostLab]]:
    """Every state of the hosts of record the scenario passes through, the one before it first."""
    found = [before]
    for write in scenario(name):
        found.append(write.applied(found[-1]))
    return found


def main(argv: list[str] | None = None) -> None:
    home, name = (argv if argv is not None else sys.argv[1:])[:2]
    catalogue = Folder(Path(home)).open()
    for write in scenario(name):
        write.run(catalogue)


if __name__ == "__main__":
    main()
