"""Who may see what: logins, CSRF on every form, security headers.

Every page needs a logged-in coordinator except the login page, static files and
the signed links members use from their e-mails (endpoints listed in PUBLIC).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from broker.db import get_session
from broker.models.accounts import User

# Blueprints whose pages anyone may open (members' signed links); and single public
# endpoints.
PUBLIC_BLUEPRINTS = frozenset({"outreach", "network"})
# Blueprints whose pages the network's own website may show in a frame
# ([network] embed_origins); every other page may never be framed.
EMBEDDABLE_BLUEPRINTS = frozenset({"network"})
PUBLIC_ENDPOINTS = frozenset(
    {
        "accounts.login",
        "static",
        "health.healthz",
        # A bid's members open their links without logging in; a calendar program reads
        # a coordinator's feed by its secret address.
        "bids.member_link",
        "bids.member_task",
        "bids.calendar_feed",
    }
)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def embeddable_csp(origins: tuple[str, ...]) -> str:
    """The policy of a page the network's own website may frame."""
    return CSP.replace("frame-ancestors 'none'", " ".join(("frame-ancestors 'self'", *origins)))


login_manager = LoginManager()
csrf = CSRFProtect()


class _SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure on a request that came over https, even when
    web.base_url is unset (behind a proxy that says so, with [web] behind_proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    """Wire the proxy's headers, Flask-Login, CSRF protection, the login requirement and
    the headers."""
    web = app.config["SETTINGS"].web
    if web.behind_proxy:
        # One proxy in front: its X-Forwarded-* name the visitor's address, scheme, host,
        # port and path prefix, so links, redirects and Secure cookies are right.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    secure = web.base_url.startswith("https://")
    app.session_interface = _SessionCookies()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session, so a long triage doesn't expire
    )
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to see that page."
    # The login check runs first, so an anonymous POST is sent to log in, not told off.
    app.before_request(_require_login)
    csrf.init_app(app)
    app.after_request(_headers)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = get_session().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def is_public(endpoint: str | None) -> bool:
    """Whether an endpoint may be opened without logging in."""
    if endpoint is None:
        return True  # no route: Flask answers 404 itself
    return endpoint in PUBLIC_ENDPOINTS or endpoint.split(".", 1)[0] in PUBLIC_BLUEPRINTS


def _require_login() -> Response | None:
    if is_public(request.endpoint):
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    return None


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view only admins may use: a coordinator gets 403 (the login check runs first)."""

    @functools.wraps(view)
    def admin_view(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return admin_view


def _headers(response: Response) -> Response:
    if request.blueprint in EMBEDDABLE_BLUEPRINTS:
        # frame-ancestors alone: X-Frame-Options can't name the sites allowed to frame.
        origins = current_app.config["SETTINGS"].network.embed_origins
        response.headers.setdefault("Content-Security-Policy", embeddable_csp(origins))
    else:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
