"""`hostmatch`: build the host index and match researchers to host labs from the command line.

State lives under one data folder (`--home`, else `$HOSTMATCH_HOME`, else ~/.local/share/hostmatch).
Errors in input files exit with status 2 and name the record and the field.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """What every command shares: the data folder and the model; the heavy parts load on first use."""

    def __init__(self, home: str | None, model: str | None) -> None:
        from matcher.home import Home

        self.home = Home.from_env(home)
        self.model = model or os.environ.get("HOSTMATCH_MODEL") or None

    def engine(self) -> Any:
        from matcher.embedding import CachingEmbedder, EmbeddingCache, SentenceTransformerEmbedder
        from matcher.engine import Engine

        try:
            inner = SentenceTransformerEmbedder(self.model)
        except FileNotFoundError as exc:
            raise click.UsageError(str(exc)) from exc
        embedder = CachingEmbedder(inner, EmbeddingCache(self.home.cache_path))
        return Engine.open(self.home.index_dir, embedder)


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
@click.pass_context
def cli(ctx: click.Context, home: str | None, model: str | None) -> None:
    """Match overseas researchers with host labs in Japan for JSPS fellowships."""
    ctx.obj = State(home, model)


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
    engine = state.engine()
    report = engine.upsert_hosts(hosts, progress=True) if add else engine.replace_all(hosts, progress=True)
    engine.save(state.home.index_dir)
    click.echo(
        f"index: {len(engine.hosts)} hosts, {len(engine.index)} documents in {state.home.index_dir} "
        f"({report.added} added, {report.updated} updated, {report.unchanged} unchanged; "
        f"{report.texts_embedded} texts embedded)"
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
    click.echo(json.dumps({k: manifest[k] for k in ("fingerprint", "dim", "count", "hosts")}, indent=2))


@index.command("remove")
@click.argument("host_ids", nargs=-1, required=True)
@click.pass_obj
@friendly_errors
def index_remove(state: State, host_ids: tuple[str, ...]) -> None:
    """Remove hosts from the index, without a rebuild."""
    engine = state.engine()
    engine.remove_hosts(list(host_ids))
    engine.save(state.home.index_dir)
    click.echo(f"removed {len(host_ids)} host(s); {len(engine.hosts)} remain")


@cli.command()
@click.option(
    "--researcher",
    "researcher_file",
    type=click.Path(dir_okay=False),
    help="Researcher profile(s) as JSON, JSON Lines or CSV.",
)
@click.option("--id", "researcher_id", help="Which researcher of the file (needed when it holds several).")
@click.option("--sample", "sample_id", metavar="ID", help="A bundled sample researcher, e.g. r-j-01.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000), help="Matches to show.")
@click.option("--json", "as_json", is_flag=True, help='Print JSON: {"matches": [...]}.')
@click.pass_obj
@friendly_errors
def match(
    state: State, researcher_file: str | None, researcher_id: str | None, sample_id: str | None, top: int, as_json: bool
) -> None:
    """Rank host labs for one researcher, with the documents that matched as evidence."""
    from matcher.records import read_researchers, sample_path

    if bool(researcher_file) == bool(sample_id):
        raise click.UsageError("give exactly one of --researcher FILE or --sample ID")
    researchers = read_researchers(Path(researcher_file) if researcher_file else sample_path("researchers"))
    wanted = sample_id or researcher_id
    if wanted:
        chosen = [r for r in researchers if r.id == wanted]
        if not chosen:
            raise click.UsageError(f"no researcher with id {wanted!r}; ids: {', '.join(r.id for r in researchers)}")
    elif len(researchers) != 1:
        raise click.UsageError(f"the file holds {len(researchers)} researchers; choose one with --id")
    else:
        chosen = researchers
    researcher = chosen[0]
    engine = state.engine()
    if not engine.hosts:
        raise click.UsageError(f"the index in {state.home.index_dir} is empty; run: hostmatch index build")
    result = engine.match(researcher, top=top)
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    click.echo(
        f"Top {len(result.matches)} host labs for {researcher.name} ({researcher.id}), "
        f"from {result.candidates} candidates\n"
    )
    for rank, m in enumerate(result.matches, start=1):
        click.echo(f"{rank:>3}. {m.score:.3f}  {m.lab_name}")
        click.echo(f"            {m.pi_name}, {m.institution}  [{m.host_id}]")
        for ev in m.evidence:
            line = f"{ev.similarity:.2f}  {ev.document_title}  <- {ev.researcher_title}"
            click.echo(textwrap.shorten(line, 96, placeholder="…").join(["            · ", ""]))
        click.echo()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="hostmatch")


if __name__ == "__main__":
    main()
