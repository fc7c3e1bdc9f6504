"""Persistence: hosts, researchers, their publications, the audit trail of match runs, and the table of API tokens.

SQLAlchemy 2 over SQLite by default (a file in the data folder); any SQLAlchemy URL works, e.g.
`postgresql+psycopg://user@db/hostmatch`. Profiles are stored as their validated JSON, with the
publications in their own table so they can be queried; reading a record back validates it again.

The API tokens' table is defined here, with the others, so that `create_all` makes it; what a token is and
may do is the HTTP layer's (`service.tokens`).

The generation of the hosts (`matcher.generation`) is one row, advanced in the transaction of every change
of the hosts (`advance_generation`), so that an index snapshot can name the database state it holds.

Audit rows are inserted with a bounded retry (`record_run`): a match must not fail because a write held the
database for a moment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    cast,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from matcher.errors import IndexMismatch
from matcher.generation import INITIAL, Generation
from models.profiles import HostLab, Publication, ResearcherProfile

log = logging.getLogger(__name__)
AUDIT_ATTEMPTS = 3  # each waits up to the busy timeout (SQLite: 10 s) for a write to finish
AUDIT_PAUSE_S = 0.1  # between attempts


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class HostRow(Base):
    __tablename__ = "hosts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lab_name: Mapped[str] = mapped_column(String(300))
    institution: Mapped[str] = mapped_column(String(300), index=True)
    prefecture: Mapped[str] = mapped_column(String(100))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)  # everything but the publications
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    publications: Mapped[list[PublicationRow]] = relationship(
        cascade="all, delete-orphan",
        order_by="PublicationRow.position",
        foreign_keys="PublicationRow.host_id",
        lazy="selectin",  # one query per batch of rows, not one per row
    )


class ResearcherRow(Base):
    __tablename__ = "researchers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    institution: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    publications: Mapped[list[PublicationRow]] = relationship(
        cascade="all, delete-orphan",
        order_by="PublicationRow.position",
        foreign_keys="PublicationRow.researcher_id",
        lazy="selectin",
    )


class PublicationRow(Base):
    __tablename__ = "publications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host_id: Mapped[str | None] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    researcher_id: Mapped[str | None] = mapped_column(ForeignKey("researchers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    year: Mapped[int | None] = mapped_column(Integer)
    coauthors: Mapped[list[str]] = mapped_column(JSON, default=list)


class TokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scope: Mapped[str] = mapped_column(String(10))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # None on tokens made before tokens expired: they expire service.tokens.DEFAULT_TOKEN_DAYS after they were made
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class MatchRunRow(Base):
    """Who asked what, when: the audit trail. Inline profiles are kept as a digest, not stored."""

    __tablename__ = "match_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[list[Any]] = mapped_column(JSON)


class GenerationRow(Base):
    """The generation of the hosts the database holds: one row (id 1), absent until the first host write."""

    __tablename__ = "host_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger)
    stamp: Mapped[str] = mapped_column(String(32))


def _publication_rows(publications: Iterable[Publication]) -> list[PublicationRow]:
    return [
        PublicationRow(position=i, title=p.title, abstract=p.abstract, year=p.year, coauthors=list(p.coauthors))
        for i, p in enumerate(publications)
    ]


def _publications(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Publication records from rows with title, abstract, year and coauthors (ORM objects or plain rows)."""
    return [{"title": r.title, "abstract": r.abstract, "year": r.year, "coauthors": r.coauthors} for r in rows]


def _publications_of(session: Session, owner: Any, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The publications of these owners (`owner` is PublicationRow.host_id or .researcher_id), in order."""
    query = (
        select(
            owner.label("owner"),
            PublicationRow.title,
            PublicationRow.abstract,
            PublicationRow.year,
            PublicationRow.coauthors,
        )
        .where(owner.in_(ids))
        .order_by(owner, PublicationRow.position)
    )
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(query):
        grouped[row.owner].append(row)
    return {key: _publications(rows) for key, rows in grouped.items()}


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: SqlEngine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Create the tables, and add the columns later versions added to tables that already exist."""
        Base.metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """`ALTER TABLE … ADD COLUMN` for every column of the models that an existing table lacks. Only
        nullable columns are ever added this way (a new column must not need a value in old rows)."""
        inspector = inspect(self.engine)
        with self.engine.begin() as connection:
            for table in Base.metadata.sorted_tables:
                present = {column["name"] for column in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name in present:
                        continue
                    if not column.nullable:
                        raise RuntimeError(f"{table.name}.{column.name} cannot be added to existing rows")
                    kind = column.type.compile(self.engine.dialect)
                    connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back (nothing stored) if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    # -- hosts -----------------------------------------------------------------------------------------

    def host_ids(self, session: Session | None = None) -> list[str]:
        """Every stored host's id, in order, without reading the hosts."""
        with self._maybe(session) as s:
            return list(s.scalars(select(HostRow.id).order_by(HostRow.id)))

    def iter_hosts(self, *, batch: int = 500) -> Iterator[HostLab]:
        """Every stored host in id order, read `batch` at a time, each batch in its own short session: memory
        stays bounded however many hosts there are (reading 10,000 at once cost a service 500 MB). Read as
        plain rows rather than ORM objects, which at 20 publications a host cost most of the time."""
        last: str | None = None
        while True:
            with self.session() as s:
                query = select(HostRow.id, HostRow.profile).order_by(HostRow.id).limit(batch)
                if last is not None:
                    query = query.where(HostRow.id > last)
                rows = s.execute(query).all()
                papers = _publications_of(s, PublicationRow.host_id, [r.id for r in rows])
                page = [HostLab.model_validate({**r.profile, "publications": papers.get(r.id, [])}) for r in rows]
            yield from page
            if len(page) < batch:
                return
            last = rows[-1].id  # the stored key (a record's id may read back normalised: lower case)

    def get_host(self, host_id: str) -> HostLab | None:
        with self.session() as s:
            row = s.get(HostRow, host_id)
            return self._host(row) if row else None

    def put_hosts(self, session: Session, hosts: Iterable[HostLab]) -> None:
        for host in hosts:
            profile = host.model_dump(mode="json", exclude={"publications"})
            row = session.get(HostRow, host.id)
            if row is None:
                row = HostRow(id=host.id)
                session.add(row)
            row.lab_name, row.institution, row.prefecture = host.lab_name, host.institution, host.prefecture
            row.profile = profile
            row.publications = _publication_rows(host.publications)

    def delete_host(self, session: Session, host_id: str) -> bool:
        result = session.execute(delete(HostRow).where(HostRow.id == host_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- the hosts' generation -------------------------------------------------------------------------

    def generation(self) -> Generation:
        """The generation of the hosts as last committed (read in its own short transaction)."""
        with self.session() as s:
            row = s.get(GenerationRow, 1)
            return Generation(row.number, row.stamp) if row is not None else INITIAL

    def advance_generation(self, session: Session, expected: Generation) -> Generation:
        """Advance the hosts' generation from `expected` in `session`'s transaction, and return the new one.

        Called first in a host write's transaction: the UPDATE takes SQLite's write lock (PostgreSQL: the
        row's lock) at once, so two writers of the hosts queue here rather than meet later.

        Raises:
            IndexMismatch: the database holds another generation than `expected` (a write from another data
                folder committed first); nothing is changed.
        """
        new = expected.next()
        row = GenerationRow
        current = (row.id == 1, row.number == expected.number, row.stamp == expected.stamp)
        result = session.execute(update(row).where(*current).values(number=new.number, stamp=new.stamp))
        if not result.rowcount:  # type: ignore[attr-defined]
            if expected != INITIAL or session.get(GenerationRow, 1) is not None:
                raise IndexMismatch(
                    f"the hosts in the database changed since generation {expected} was loaded; try again"
                )
            session.add(GenerationRow(id=1, number=new.number, stamp=new.stamp))
            session.flush()
        return new

    @staticmethod
    def _host(row: HostRow) -> HostLab:
        return HostLab.model_validate({**row.profile, "publications": _publications(row.publications)})

    # -- researchers -----------------------------------------------------------------------------------

    def researchers(self) -> dict[str, ResearcherProfile]:
        with self.session() as s:
            rows = s.scalars(select(ResearcherRow).order_by(ResearcherRow.id)).all()
            return {r.id: self._researcher(r) for r in rows}

    def get_researcher(self, researcher_id: str) -> ResearcherProfile | None:
        with self.session() as s:
            row = s.get(ResearcherRow, researcher_id)
            return self._researcher(row) if row else None

    def get_researchers(self, ids: Iterable[str]) -> dict[str, ResearcherProfile]:
        """The stored researchers among `ids`, in one query."""
        with self.session() as s:
            rows = s.scalars(select(ResearcherRow).where(ResearcherRow.id.in_(list(ids)))).all()
            return {r.id: self._researcher(r) for r in rows}

    def put_researchers(self, session: Session, researchers: Iterable[ResearcherProfile]) -> None:
        for r in researchers:
            row = session.get(ResearcherRow, r.id)
            if row is None:
                row = ResearcherRow(id=r.id)
                session.add(row)
            row.name, row.institution, row.country = r.name, r.institution, r.country
            row.profile = r.model_dump(mode="json", exclude={"publications"})
            row.publications = _publication_rows(r.publications)

    def delete_researcher(self, session: Session, researcher_id: str) -> bool:
        result = session.execute(delete(ResearcherRow).where(ResearcherRow.id == researcher_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _researcher(row: ResearcherRow) -> ResearcherProfile:
        return ResearcherProfile.model_validate({**row.profile, "publications": _publications(row.publications)})

    # -- audit -----------------------------------------------------------------------------------------

    def record_run(
        self, *, actor: str, kind: str, subject: str, parameters: dict[str, Any], results: list[Any]
    ) -> None:
        """Insert an audit row (see `_audit`).

        Raises:
            OperationalError: still busy after the last attempt (the caller decides what a lost row means).
        """
        self._audit(MatchRunRow(actor=actor, kind=kind, subject=subject, parameters=parameters, results=results))

    def _audit(self, row: MatchRunRow, session: Session | None = None) -> None:
        """Add an audit row: in `session` when given (it commits or fails with the caller's change), else in
        a transaction of its own, trying again when the database is busy: up to `AUDIT_ATTEMPTS` attempts,
        each waiting up to the busy timeout for the lock (SQLite: 10 s each; host writes hold it well under a
        second), so the retry outlasts any write.

        Raises:
            OperationalError: still busy after the last attempt.
        """
        if session is not None:
            session.add(row)
            return
        for attempt in range(1, AUDIT_ATTEMPTS + 1):
            try:
                with self.session() as s:
                    s.add(row)
                return
            except OperationalError as exc:
                if attempt == AUDIT_ATTEMPTS:
                    raise
                log.warning("audit insert attempt %d of %d failed (%s); trying again", attempt, AUDIT_ATTEMPTS, exc)
                time.sleep(AUDIT_PAUSE_S * attempt)

    def record_access(
        self,
        *,
        actor: str,
        action: str,
        ids: Sequence[str],
        fields: Sequence[str] = (),
        session: Session | None = None,
    ) -> None:
        """Who read, created, updated or deleted which researcher records, and which of their fields; never
        what the fields hold. Kind `researcher.<action>`: one row for one record, its id the subject; one row
        for a list, the ids among its results."""
        row = MatchRunRow(
            actor=actor,
            kind=f"researcher.{action}",
            subject=ids[0] if len(ids) == 1 else f"{len(ids)} records",
            parameters={"fields": sorted(fields)} if fields else {},
            results=list(ids) if len(ids) != 1 else [],
        )
        self._audit(row, session)

    def pseudonymise(self, researcher_id: str, replacement: str, *, session: Session | None = None) -> int:
        """Put `replacement` (a digest) wherever the audit trail names `researcher_id`: as the subject of a
        run, in its parameters (a match of a stored researcher) or among its results (a candidate list);
        returns how many runs changed. Runs keep what was done and when."""
        needle, instead = json.dumps(researcher_id), json.dumps(replacement)
        changed = 0
        with self._maybe(session) as s:
            query = select(MatchRunRow).where(
                (MatchRunRow.subject == researcher_id)
                | cast(MatchRunRow.results, Text).contains(needle)
                | cast(MatchRunRow.parameters, Text).contains(needle)
            )
            for row in s.scalars(query):
                if row.subject == researcher_id:
                    row.subject = replacement
                row.parameters = json.loads(json.dumps(row.parameters).replace(needle, instead))
                row.results = json.loads(json.dumps(row.results).replace(needle, instead))
                changed += 1
        return changed

    def prune_runs(self, *, before: dt.datetime, dry_run: bool = False) -> tuple[int, int]:
        """Delete the runs recorded before `before` (the retention policy, `matcher.retention`); returns how many
        are deleted and how many kept (with `dry_run`: would be; nothing is deleted)."""
        with self.session() as s:
            old = MatchRunRow.at < before
            removed = int(s.scalar(select(func.count()).select_from(MatchRunRow).where(old)) or 0)
            total = int(s.scalar(select(func.count()).select_from(MatchRunRow)) or 0)
            if removed and not dry_run:
                s.execute(delete(MatchRunRow).where(old))
            return removed, total - removed

    def audit_runs(
        self,
        *,
        actor: str | None = None,
        kind: str | None = None,
        subject: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Recorded runs, newest first, filtered (actor and subject by part of the text, kind exactly, `since`
        inclusive, `until` exclusive), a page at a time; with the number of runs the filters match."""
        conditions = []
        if actor:
            conditions.append(MatchRunRow.actor.contains(actor, autoescape=True))
        if subject:
            conditions.append(MatchRunRow.subject.contains(subject, autoescape=True))
        if kind:
            conditions.append(MatchRunRow.kind == kind)
        if since:
            conditions.append(MatchRunRow.at >= since)
        if until:
            conditions.append(MatchRunRow.at < until)
        with self.session() as s:
            total = int(s.scalar(select(func.count()).select_from(MatchRunRow).where(*conditions)) or 0)
            query = select(MatchRunRow).where(*conditions).order_by(MatchRunRow.id.desc()).limit(limit).offset(offset)
            return [_run(r) for r in s.scalars(query)], total

    def audit_kinds(self) -> list[str]:
        """The kinds of run recorded so far (match, candidates, ...)."""
        with self.session() as s:
            return sorted(s.scalars(select(MatchRunRow.kind).distinct()))

    def count(self, table: Literal["hosts", "researchers", "publications"]) -> int:
        model = {"hosts": HostRow, "researchers": ResearcherRow, "publications": PublicationRow}[table]
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    @contextmanager
    def _maybe(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.session() as s:
                yield s


def _run(row: MatchRunRow) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "kind": row.kind,
        "subject": row.subject,
        "parameters": row.parameters,
        "results": row.results,
    }


def profile_digest(profile: ResearcherProfile) -> str:
    """A short digest naming an inline profile in the audit trail without storing it."""
    return hashlib.sha256(json.dumps(profile.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
