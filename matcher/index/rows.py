"""Row metadata of a `HostIndex`: row i of the FAISS index is described by row i here (host id, document
key, title, and the language the document is written in, so an operator can tell how many documents the
encoder cannot read: `unread`).

The rows are held in columns: per row a host number, a key number and a language number (into small tables
of the distinct ids, keys and languages) and a title, the titles held as one UTF-8 buffer with end offsets:
17 bytes per row plus its title's bytes. A `DocMeta` object per row cost several small Python objects per
row, allocated among the temporary ones of loading, which left the interpreter's memory fragmented once
those were freed. A removed row of the graph stays as a tombstone: host number -1.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.text.languages import reads

DEAD = ""  # host id of a tombstone row
Row = tuple[str, str, str, str]  # host id, key, title, language


@dataclass(frozen=True, slots=True)
class DocMeta:
    host_id: str
    key: str
    title: str
    language: str  # ISO 639-1 (matcher.text.languages)


@dataclass(frozen=True, slots=True)
class Unread:
    """Live documents in languages an encoder does not read, and the hosts that have any."""

    hosts: int
    documents: dict[str, int]  # language -> documents


class Rows:
    """Row metadata in columns (see the module docstring)."""

    def __init__(self, rows: Sequence[Row] = ()) -> None:
        self.names: list[str] = []  # host ids by number; a number is never reused while the table lives
        self.keys: list[str] = []
        self.languages: list[str] = []  # language codes by number (a few dozen at most: one byte per row)
        self._numbers: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
        self.host = np.zeros(0, dtype=np.int32)  # per row: number of its host, -1 for a tombstone
        self.key = np.zeros(0, dtype=np.int32)
        self.language = np.zeros(0, dtype=np.uint8)
        self._titles = b""
        self._ends = np.zeros(0, dtype=np.int64)  # per row: end of its title in `_titles`
        self.append(rows)

    def __len__(self) -> int:
        return len(self.host)

    def append(self, rows: Sequence[Row]) -> None:
        """Add rows (host id, key, title, language); the host id `DEAD` makes a tombstone."""
        if not rows:
            return
        n = len(rows)
        hosts, keys, languages = self._numbers
        host = np.fromiter((-1 if h == DEAD else _number(hosts, self.names, h) for h, *_ in rows), np.int32, n)
        key = np.fromiter((_number(keys, self.keys, r[1]) for r in rows), np.int32, n)
        language = np.fromiter((_number(languages, self.languages, r[3]) for r in rows), np.uint8, n)
        encoded = [r[2].encode() for r in rows]
        ends = np.cumsum(np.fromiter(map(len, encoded), np.int64, n)) + len(self._titles)
        self.host = np.concatenate([self.host, host])
        self.key = np.concatenate([self.key, key])
        self.language = np.concatenate([self.language, language])
        self._titles += b"".join(encoded)
        self._ends = np.concatenate([self._ends, ends])

    def meta(self, row: int) -> DocMeta:
        host = int(self.host[row])
        start = int(self._ends[row - 1]) if row else 0
        return DocMeta(
            self.names[host] if host >= 0 else DEAD,
            self.keys[int(self.key[row])],
            self._titles[start : int(self._ends[row])].decode(),
            self.languages[int(self.language[row])],
        )

    def take(self, rows: np.ndarray) -> Rows:
        """A table of these rows only, in this order, with fresh host and key tables."""
        return Rows([(m.host_id, m.key, m.title, m.language) for m in map(self.meta, rows.tolist())])

    def json(self) -> bytes:
        """Every row as saved: {"languages": [code, ...], "rows": [[host id, key, title, language number],
        ...]}. A language is a number into the table, not its code again: parsing a code per row made 200,000
        strings at load, whose memory a service over 10,000 labs kept (13 MB) once they were freed."""
        numbers = self.language.tolist()
        rows = [[m.host_id, m.key, m.title, numbers[row]] for row, m in enumerate(map(self.meta, range(len(self))))]
        return json.dumps({"languages": self.languages, "rows": rows}, ensure_ascii=False).encode()

    @staticmethod
    def parse(data: bytes) -> list[Any]:
        """The rows of `json()`, each [host id, key, title, language code] (the codes shared, not copied)."""
        saved = json.loads(data)
        table, rows = saved["languages"], saved["rows"]
        for row in rows:
            row[3] = table[row[3]]
        return rows  # type: ignore[no-any-return]

    def live(self) -> np.ndarray:
        """Rows that are not tombstones, ascending."""
        return np.flatnonzero(self.host >= 0)

    def read_by(self, read: Collection[str]) -> np.ndarray:
        """Per row, whether an encoder reading `read` reads its document's language."""
        known = np.fromiter((reads(lang, read) for lang in self.languages), dtype=bool, count=len(self.languages))
        return known[self.language] if len(known) else np.zeros(len(self.language), dtype=bool)

    def unread(self, read: Collection[str]) -> Unread:
        """Live rows in languages outside `read` (undetermined ones pass), counted, and their hosts."""
        unread = [i for i, lang in enumerate(self.languages) if not reads(lang, read)]
        mask = np.isin(self.language, unread) & (self.host >= 0)
        counts = np.bincount(self.language[mask], minlength=len(self.languages))
        documents = {self.languages[i]: int(counts[i]) for i in unread if counts[i]}
        return Unread(hosts=len(np.unique(self.host[mask])), documents=documents)

    def host_ids(self, rows: np.ndarray) -> set[str]:
        return {self.names[h] for h in np.unique(self.host[rows]).tolist() if h >= 0}

    def rows_by_host(self) -> dict[str, np.ndarray]:
        """Each live host's rows, ascending."""
        if not len(self.host):
            return {}
        order = np.argsort(self.host, kind="stable")
        codes = self.host[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        runs = np.split(order.astype(np.int64), starts[1:])
        return {self.names[int(codes[s])]: run for s, run in zip(starts.tolist(), runs, strict=True) if codes[s] >= 0}


def _number(numbers: dict[str, int], table: list[str], value: str) -> int:
    """The number of `value` in `table`, appending it the first time."""
    number = numbers.get(value)
    if number is None:
        number = numbers[value] = len(table)
        table.append(value)
    return number
