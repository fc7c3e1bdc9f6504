"""API documentation: Swagger UI over /v1/openapi.json, from the files the flask-openapi3-swagger package
ships (no CDN: the service runs offline). Our own page and start-up script, so the Content-Security-Policy
needs no inline script."""

from __future__ import annotations

from pathlib import Path

import flask_openapi3_swagger
from flask import Blueprint, render_template

_SWAGGER = Path(flask_openapi3_swagger.__file__).parent / "templates" / "swagger"

docs = Blueprint("docs", __name__, static_folder=str(_SWAGGER), static_url_path="/docs/swagger-ui")


@docs.get("/docs")
def page() -> str:
    return render_template("docs.html")
