"""Which state of the hosts an index snapshot holds: the database's generation.

The database keeps one generation of the hosts, advanced in the same transaction as every change of them
(`Store.advance_generation`); an index snapshot's manifest names the generation whose hosts it holds. A
snapshot is the committed one exactly when it names the generation the database has committed.
`matcher.catalogue` says in what order a write publishes both, and what readers and start-up do.

A generation is a number, counting the writes, and a random stamp. The number alone could name two
snapshots: a write that saves its snapshot and then fails or is killed before committing leaves a snapshot
naming number n + 1, and the next write commits n + 1 with other hosts. The stamps tell them apart.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Generation:
    number: int
    stamp: str

    def next(self) -> Generation:
        """The generation a write that starts from this one commits."""
        return Generation(self.number + 1, secrets.token_hex(8))

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "stamp": self.stamp}

    @classmethod
    def from_json(cls, value: Any) -> Generation:
        """The generation a manifest names; INITIAL for one saved before snapshots named their generation."""
        if value is None:
            return INITIAL
        return cls(int(value["number"]), str(value["stamp"]))

    def __str__(self) -> str:
        return f"{self.number} ({self.stamp or 'initial'})"


INITIAL = Generation(0, "")  # a database before its first host write since generations were kept
