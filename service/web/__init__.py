"""Pages for people, served by the same app and engine as the JSON API.

- `public`: the applicant's profile form and results, the lab directory and lab pages (anonymous).
- `staff`: sign-in with an API token, labs and their candidates, researchers, uploads, calls, the audit trail.
- `docs`: Swagger UI over /v1/openapi.json, from the packaged Swagger UI files (no CDN).

`init_web` adds what pages need to the app: a secret key shared by every worker of a data folder, signed
session cookies (HttpOnly, SameSite=Lax, Secure over HTTPS, 8 hours by default), CSRF tokens on every
form (Flask-WTF; the bearer-token API is exempt: it never reads cookies), the interface language
(Flask-Babel: English or Japanese, from a cookie, else the browser's Accept-Language), and security headers
(a Content-Security-Policy that allows only this site's own scripts and styles).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup, escape

from service.auth import session_principal

LANGUAGES = ("en", "ja")
Page = str | tuple[str, int]  # what a page view returns: the HTML, with its status when it is not 200
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'; object-src 'none'"
)
csrf = CSRFProtect()


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = bool(app.config["SESSION_COOKIE_SECURE"])
        return configured or (has_request_context() and request.is_secure)


def init_web(app: Flask, home: Path) -> None:
    """Sessions, CSRF, languages, security headers and the page blueprints (after the API is registered)."""
    from service.api import api
    from service.web.docs import docs
    from service.web.public import public
    from service.web.staff import staff

    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_NAME"] = "hostmatch_session"
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # a token lives as long as the session that holds it
    app.permanent_session_lifetime = dt.timedelta(hours=float(app.config["SESSION_HOURS"]))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(home / "instance" / "secret_key")
    app.session_interface = _Sessions()

    csrf.init_app(app)
    csrf.exempt(api)  # no view of the API reads the session: bearer tokens only, so no cross-site forgery
    Babel(app, locale_selector=_locale, default_translation_directories=str(Path(__file__).parent / "translations"))

    app.register_blueprint(public)
    app.register_blueprint(staff)
    app.register_blueprint(docs)

    @app.before_request
    def staff_session() -> None:
        """A signed-in staff member's principal for page requests (the API reads bearer tokens only)."""
        if request.path.startswith("/v1/") or request.endpoint is None or request.endpoint.endswith("static"):
            return
        principal = session_principal(app.extensions["hostmatch"].store)
        if principal is not None:
            g.staff = g.principal = principal

    app.jinja_env.globals["described_by"] = described_by

    @app.context_processor
    def page_globals() -> dict[str, Any]:
        return {"languages": LANGUAGES, "current_language": _locale()}

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if "Set-Cookie" in response.headers or g.get("private_page"):
            response.headers["Cache-Control"] = "no-store"
        return response


def described_by(name: str, hint: object, errors: Mapping[str, str]) -> Markup:
    """The attributes that tie an input to its hint and its error message (screen readers read them with
    it), and mark it invalid when it has an error: ` aria-describedby="x-hint x-error" aria-invalid="true"`."""
    ids = [f"{name}-hint"] * bool(hint) + [f"{name}-error"] * (name in errors)
    attributes = f' aria-describedby="{escape(" ".join(ids))}"' if ids else ""
    return Markup(attributes + (' aria-invalid="true"' if name in errors else ""))


def whole_number(text: str, *, lowest: int, highest: int, default: int) -> int:
    """A whole number typed in a query string or form (a page, a count), or `default` when it is not one made
    of ASCII digits within [lowest, highest]. (`str.isdigit` accepts "²", which `int` refuses, and `int`
    refuses more than 4,300 digits: both were 500s.)"""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(highest)):
        return default
    number = int(text)
    return number if lowest <= number <= highest else default


def _locale() -> str:
    """The interface language: the visitor's choice (a cookie), else the browser's preference, else English."""
    if not has_request_context():
        return "en"
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _secret_key(path: Path) -> str:
    """The folder's session key, made on first start (readable by its owner only). Every worker of the data
    folder reads the same file, so a session signed by one is valid in all; O_EXCL settles a race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it right now
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it and start again") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key
