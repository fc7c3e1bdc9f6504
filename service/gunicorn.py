"""Run the app under gunicorn from Python (`hostmatch serve`), one model per worker process.

Each worker builds its own app after the fork, so no encoder runtime crosses a fork. Encoder threads per
worker are cores // workers (at least 1): on this 2-core machine 2 workers x 1 thread served 45 match requests/s,
while 2 x 2 collapsed to 8/s (../shared/PERF_NOTES.md).
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication


class _Application(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service import create_app

        return create_app()


def serve(*, host: str, port: int, workers: int) -> None:
    os.environ.setdefault("HOSTMATCH_ENCODER_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    _Application(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": 1,
            "timeout": 120,  # the first request of a worker may wait for the model to load
            "graceful_timeout": 10,
            "accesslog": "-",
            "preload_app": False,
        }
    ).run()
