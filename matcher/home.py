"""The data folder: every piece of hostmatch state lives under one root, `$HOSTMATCH_HOME`.

Default: `$XDG_DATA_HOME/hostmatch`, else `~/.local/share/hostmatch`. Two roots never share anything: the
index, the embedding cache and (later) the database are all below the root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls, explicit: str | Path | None = None) -> Home:
        if explicit:
            return cls(Path(explicit).expanduser().resolve())
        if os.environ.get("HOSTMATCH_HOME"):
            return cls(Path(os.environ["HOSTMATCH_HOME"]).expanduser().resolve())
        data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return cls((data / "hostmatch").resolve())

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / 'hostmatch.sqlite3'}"

    @property
    def models_dir(self) -> Path:
        """Converted models (e.g. OpenVINO IR), one folder per model fingerprint."""
        return self.root / "models"

    @property
    def cache_path(self) -> Path:
        return self.root / "cache" / "embeddings.sqlite3"
