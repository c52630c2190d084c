"""/healthz for a process manager or load balancer, and [web] behind_proxy."""

from __future__ import annotations

from datetime import timedelta

from broker.clock import utcnow
from broker.models.runtime import Heartbeat


def test_healthz_answers_without_a_login_and_says_the_scheduler_has_not_beaten(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "scheduler": {"state": "no heartbeat yet"},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_reports_the_scheduler_s_heartbeat_and_when_it_went_stale(app, client, sessions):
    from broker.runtime.jobs import heartbeat_job

    started = utcnow()
    heartbeat_job(app, started)
    scheduler = client.get("/healthz").json["scheduler"]
    assert scheduler["state"] == "running" and scheduler["seconds_ago"] <= 5
    assert scheduler["pid"] > 0 and scheduler["host"]
    with sessions.begin() as s:
        s.get(Heartbeat, "scheduler").beat_at = utcnow() - timedelta(minutes=5)
    stale = client.get("/healthz")
    assert stale.status_code == 200  # the web app still serves; the scheduler is the news
    assert stale.json["scheduler"]["state"] == "stale"
    assert stale.json["scheduler"]["seconds_ago"] >= 299


def test_healthz_is_503_when_the_database_is_unreachable(make_settings):
    from broker import create_app

    # A PostgreSQL server on a port where nothing listens.
    settings = make_settings({"database": {"url": "postgresql://nobody@127.0.0.1:9/none"}})
    app = create_app(settings)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}
    app.extensions["broker.engine"].dispose()


PROXIED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "broker.example.org",
}


def log_in_wrongly(client, csrf_token, proxied: bool = True) -> None:
    if not proxied:  # plain http, the forwarded headers sent all the same
        page = client.get("/login", headers=PROXIED)
        data = {"email": "x@example.org", "password": "wrong", "csrf_token": csrf_token(page)}
        client.post("/login", data=data, headers=PROXIED)
        return
    # The test client keeps a Secure cookie only for https, as a browser does; and on
    # https, CSRF protection wants the page's own address as the referrer, which behind
    # the proxy is the forwarded host's.
    https = {"headers": PROXIED, "base_url": "https://localhost"}
    page = client.get("/login", **https)
    data = {"email": "x@example.org", "password": "wrong", "csrf_token": csrf_token(page)}
    referrer = {**PROXIED, "Referer": "https://broker.example.org/login"}
    client.post("/login", data=data, headers=referrer, base_url="https://localhost")


def test_behind_a_proxy_the_forwarded_headers_are_trusted(make_settings, csrf_token):
    from sqlalchemy import select

    from broker import create_app
    from broker.models import LoginAttempt

    app = create_app(make_settings({"web": {"behind_proxy": True}}))
    client = app.test_client()
    response = client.get("/login", headers=PROXIED)
    assert response.status_code == 200
    # The visitor came over https: the session cookie is Secure, and HSTS is sent.
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Logins are rate-limited by the visitor's address, not the proxy's.
    log_in_wrongly(client, csrf_token)
    with app.extensions["broker.sessions"]() as s:
        assert s.scalars(select(LoginAttempt.ip)).all() == ["203.0.113.7"]
    app.extensions["broker.engine"].dispose()


def test_without_behind_proxy_forwarded_headers_are_ignored(client, sessions, csrf_token):
    from sqlalchemy import select

    from broker.models import LoginAttempt

    response = client.get("/login", headers=PROXIED)
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers
    log_in_wrongly(client, csrf_token, proxied=False)
    with sessions() as s:
        assert s.scalars(select(LoginAttempt.ip)).all() == ["127.0.0.1"]
