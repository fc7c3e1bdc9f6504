"""The engine's host records, held compactly.

Matching reads a few parts of a host for every candidate (programmes, stages, window, fields, languages,
capacity, names), but its description and publications only when the host is added (to embed them), when
its conflict keys and term statistics are built, and when the index is saved. So each host is kept twice,
both small:

- what matching reads, folded into a `matcher.ranking.HostSide`;
- its whole record as zlib-compressed JSON, from which `records[host_id]` rebuilds the full `HostLab`.

At 10,000 labs of 20 publications this holds ~35 MB where full `HostLab` objects took 220 MB (measured
with scripts/bench.py's corpus). Two hosts are equal exactly when their JSON is, which also makes
"has this host changed?" a byte comparison.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, MutableMapping

from matcher.ranking import HostSide
from models.profiles import HostLab


def _packed(host: HostLab) -> bytes:
    return zlib.compress(host.model_dump_json().encode(), 1)


class HostRecords(MutableMapping[str, HostLab]):
    """host id -> HostLab (the full record, rebuilt on access); `side(id)` is the cheap view matching reads."""

    def __init__(self, hosts: Iterable[HostLab] = ()) -> None:
        self._packed: dict[str, bytes] = {}
        self._sides: dict[str, HostSide] = {}
        for host in hosts:
            self[host.id] = host

    # -- the mapping ---------------------------------------------------------------------------------------

    def __getitem__(self, host_id: str) -> HostLab:
        return HostLab.model_validate_json(zlib.decompress(self._packed[host_id]))

    def __setitem__(self, host_id: str, host: HostLab) -> None:
        if host.id != host_id:
            raise ValueError(f"record {host.id!r} stored under {host_id!r}")
        self._packed[host_id] = _packed(host)
        self._sides[host_id] = HostSide.of(host)

    def __delitem__(self, host_id: str) -> None:
        del self._packed[host_id]
        del self._sides[host_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __contains__(self, host_id: object) -> bool:
        return host_id in self._packed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HostRecords):
            return self._packed == other._packed
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- cheap views -------------------------------------------------------------------------------------

    def side(self, host_id: str) -> HostSide:
        """What matching reads of the host: score inputs, what filters test, the names results show."""
        return self._sides[host_id]

    def unchanged(self, host: HostLab) -> bool:
        """Whether `host` is already held exactly as it is."""
        return self._packed.get(host.id) == _packed(host)

    def copy(self) -> HostRecords:
        """A snapshot sharing the (immutable) stored parts."""
        snapshot = HostRecords()
        snapshot._packed = dict(self._packed)
        snapshot._sides = dict(self._sides)
        return snapshot

    def json_array(self) -> bytes:
        """Every record as one JSON array, in id order, without rebuilding any `HostLab`."""
        return b"[" + b",".join(zlib.decompress(self._packed[h]) for h in sorted(self._packed)) + b"]"
