"""Logins, roles, CSRF and headers: every page but the login needs a coordinator."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from broker.models import LoginAttempt, User
from broker.web.security import is_public

SAMPLE_VALUES = {"int": "1", "string": "x", "path": "x", "float": "1.0", "uuid": "0" * 32}


def concrete(rule) -> str:
    """A URL for a route, with a sample value for each of its parameters."""
    url = rule.rule
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule):
        sample = SAMPLE_VALUES.get(converter or "string", "x")
        url = re.sub(rf"<(?:\w+:)?{name}>", sample, url)
    return url


def test_every_route_but_the_public_ones_sends_anonymous_visitors_to_the_login(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if is_public(rule.endpoint):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(concrete(rule), method=method)
            assert response.status_code == 302, (rule.rule, method)
            assert response.headers["Location"].startswith("/login"), (rule.rule, method)
            checked += 1
    assert checked >= 5


def test_login_form_has_labelled_fields_and_a_log_in_button(client):
    page = client.get("/login").get_data(as_text=True)
    assert re.search(r'<label for="email">Email</label>', page)
    assert re.search(r'<label for="password">Password</label>', page)
    assert '<button type="submit" class="button">Log in</button>' in page


def test_logging_in_and_out(client, make_user, login, csrf_token):
    make_user()
    response = login()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Casey Coordinator" in home.get_data(as_text=True)
    out = client.post("/logout", data={"csrf_token": csrf_token(home.get_data(as_text=True))})
    assert out.status_code == 302
    assert client.get("/").status_code == 302


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(
    password, client, make_user, csrf_token
):
    make_user()
    page = client.get("/login?next=/notices/1").get_data(as_text=True)
    data = {
        "email": "coordinator@sen.example.org",
        "password": password,
        "csrf_token": csrf_token(page),
    }
    assert client.post("/login?next=/notices/1", data=data).headers["Location"] == "/notices/1"
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    page = client.get("/login").get_data(as_text=True)
    data["csrf_token"] = csrf_token(page)
    response = client.post("/login?next=//evil.example.com/x", data=data)
    assert response.headers["Location"] == "/"


def test_a_wrong_password_is_refused_with_a_message(client, make_user, login):
    make_user()
    response = login(password="wrong password")
    assert response.status_code == 200
    assert "don&#39;t match an account" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logins_are_rate_limited_per_address_and_email(client, make_user, login, sessions, clock):
    make_user()
    for _ in range(5):
        assert login(password="guess").status_code == 200
    blocked = login()  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many failed logins" in blocked.get_data(as_text=True)
    with sessions() as s:
        assert len(s.scalars(select(LoginAttempt)).all()) == 5


def test_old_failures_stop_counting(client, make_user, login, sessions):
    from broker.clock import utcnow

    make_user()
    long_ago = utcnow() - timedelta(hours=1)
    with sessions.begin() as s:
        for _ in range(5):
            s.add(
                LoginAttempt(
                    email="coordinator@sen.example.org",
                    ip="127.0.0.1",
                    succeeded=False,
                    at=long_ago,
                )
            )
    assert login().status_code == 302


def test_a_deactivated_user_cannot_log_in(client, make_user, login, sessions):
    make_user()
    with sessions.begin() as s:
        s.scalars(select(User)).one().active = False
    assert login().status_code == 200
    assert client.get("/").status_code == 302


def test_posts_without_a_csrf_token_are_refused(client, coordinator):
    response = client.post("/notices/1/dismiss", data={"dismiss-reason": "Duplicate"})
    assert response.status_code == 400


def test_passwords_are_stored_as_scrypt_hashes(password, make_user, sessions):
    make_user()
    with sessions() as s:
        stored = s.scalars(select(User.password_hash)).one()
    assert stored.startswith("scrypt:") and password not in stored


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://broker.example.org", True), ("", False)]
)
def test_cookies_are_secure_when_served_over_https(make_settings, base_url, secure):
    from broker import create_app

    app = create_app(make_settings(overrides={"web": {"base_url": base_url}}))
    assert app.config["SESSION_COOKIE_SECURE"] is secure
    assert app.config["REMEMBER_COOKIE_SECURE"] is secure
    app.extensions["broker.engine"].dispose()


def test_users_cli_reads_the_password_from_stdin(password, cli_runner, sessions):
    result = cli_runner(
        "users",
        "add",
        "Ada@SEN.example.org",
        "--role",
        "admin",
        "--name",
        "Ada",
        input=password + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Added admin ada@sen.example.org" in result.output
    with sessions() as s:
        user = s.scalars(select(User)).one()
        assert (user.email, user.role, user.name) == ("ada@sen.example.org", "admin", "Ada")
    again = cli_runner("users", "add", "ada@sen.example.org", input=password + "\n")
    assert again.exit_code == 1 and "already a user" in again.output
    short = cli_runner("users", "add", "bob@sen.example.org", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
