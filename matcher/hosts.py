"""The engine's host records, held compactly.

Matching reads a few parts of a host for every candidate (programmes, stages, window, fields, languages,
capacity, names), but its description and publications only when the host is added (to embed them), when
its conflict keys and term statistics are built, and when the index is saved. So each host is kept twice,
both small:

- what matching reads, folded into a `matcher.ranking.components.HostSide`;
- its whole record as zlib-compressed JSON, from which `records[host_id]` rebuilds the full `HostLab`.

At 10,000 labs of 20 publications this holds ~35 MB where full `HostLab` objects took 220 MB (measured
with scripts/bench/serving.py's corpus). Two hosts are equal exactly when their JSON is, which also makes
"has this host changed?" a byte comparison.

A third, for word search (`find`): each host's folded search text (matcher.text.search), made when the host is
set and dropped with it. On 10,000 synthetic labs of 20 publications (scripts/bench/synthetic.py, seed 1) a
two-word search took 0.76 s unpacking every record to fold its fields, 0.6 s reading the fields from the
packed JSON alone, and 9 ms over the held texts; holding them costs 6 MB, and folding them 25 ms of the
1.2 s it takes to fill the records.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, MutableMapping

from matcher.ranking.components import HostFilter, HostSide
from matcher.text.search import WordQuery, search_text
from models.profiles import HostLab


def _packed(host: HostLab) -> bytes:
    return zlib.compress(host.model_dump_json().encode(), 1)


class HostRecords(MutableMapping[str, HostLab]):
    """host id -> HostLab (the full record, rebuilt on access); `side(id)` is the cheap view matching reads."""

    def __init__(self, hosts: Iterable[HostLab] = ()) -> None:
        self._packed: dict[str, bytes] = {}
        self._sides: dict[str, HostSide] = {}
        self._texts: dict[str, str] = {}
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
        self._texts[host_id] = search_text(host)

    def __delitem__(self, host_id: str) -> None:
        del self._packed[host_id]
        del self._sides[host_id]
        del self._texts[host_id]

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
        """Whether `host` is already held exactly as it is (a host not held is not packed to say so)."""
        held = self._packed.get(host.id)
        return held is not None and held == _packed(host)

    def copy(self) -> HostRecords:
        """A snapshot sharing the (immutable) stored parts."""
        snapshot = HostRecords()
        snapshot._packed = dict(self._packed)
        snapshot._sides = dict(self._sides)
        snapshot._texts = dict(self._texts)
        return snapshot

    def find(self, host_filter: HostFilter | None = None, query: WordQuery | None = None) -> list[str]:
        """Ids of the hosts that pass `host_filter` and contain every word of `query`, in id order.

        Without either, every host. No record is unpacked: the filter reads `side`, the words the held
        search text (matcher.text.search.search_text).
        """
        return sorted(
            host_id
            for host_id in self._packed
            if (host_filter is None or host_filter.allows(self._sides[host_id]))
            and (query is None or query.matches(self._texts[host_id]))
        )

    def json_array(self) -> bytes:
        """Every record as one JSON array, in id order, without rebuilding any `HostLab`."""
        return b"[" + b",".join(zlib.decompress(self._packed[h]) for h in sorted(self._packed)) + b"]"
