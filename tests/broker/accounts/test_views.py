"""The users page: admins only; add, deactivate, reactivate, reset passwords."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from broker.models import User


def can_log_in(app, csrf_token, email: str, password: str) -> bool:
    """Whether a fresh browser can log in with these details."""
    browser = app.test_client()
    token = csrf_token(browser.get("/login").get_data(as_text=True))
    response = browser.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    return response.status_code == 302


NEW_USER = {
    "add-email": "Robin@SEN.example.org",
    "add-name": "Robin Rota",
    "add-role": "coordinator",
    "add-password": "a long enough password",
    "add-confirm": "a long enough password",
}


def add_user(client, csrf_token, **fields):
    token = csrf_token(client.get("/users/"))
    return client.post("/users/", data={**NEW_USER, **fields, "csrf_token": token})


def test_coordinators_cannot_see_or_use_the_users_pages(pages, client, coordinator, csrf_token):
    page = pages.text(client.get("/"))
    assert 'href="/users/"' not in page
    assert client.get("/users/").status_code == 403
    token = csrf_token(page)
    assert client.post("/users/", data={**NEW_USER, "csrf_token": token}).status_code == 403
    response = client.post(f"/users/{coordinator.id}/active", data={"csrf_token": token})
    assert response.status_code == 403
    assert client.get(f"/users/{coordinator.id}/password").status_code == 403


def test_admin_sees_every_user(pages, client, admin, make_user):
    make_user()
    page = pages.text(client.get("/users/"))
    assert '<a href="/users/" aria-current="page">Users</a>' in page
    assert "admin@sen.example.org" in page and "coordinator@sen.example.org" in page
    assert '<span class="status status-ok">Active</span>' in page
    assert page.count(">Deactivate<") == 1  # not for the admin's own account
    assert "Reset password" in page
    for label in ("E-mail address", "Name", "Role", "Password", "Type the password again"):
        assert re.search(rf'<label for="add-\w+">{label}</label>', page), label
    pages.assert_accessible(page)


def test_admin_adds_a_coordinator_who_can_then_log_in(
    pages, app, client, admin, sessions, csrf_token
):
    response = add_user(client, csrf_token)
    assert response.status_code == 302
    assert "Added robin@sen.example.org as coordinator." in pages.text(client.get("/users/"))
    with sessions() as s:
        user = s.scalars(select(User).where(User.email == "robin@sen.example.org")).one()
        assert (user.name, user.role, user.active) == ("Robin Rota", "coordinator", True)
        assert user.password_hash.startswith("scrypt:")
    assert can_log_in(app, csrf_token, "robin@sen.example.org", "a long enough password")


def test_mistakes_in_a_new_user_are_shown_next_to_their_fields(
    pages, client, admin, sessions, csrf_token
):
    page = pages.text(add_user(client, csrf_token, **{"add-confirm": "something else"}), 400)
    assert pages.field_errors(page, "add-confirm") == ["The two passwords are different"]
    page = pages.text(
        add_user(client, csrf_token, **{"add-password": "short", "add-confirm": "short"}), 400
    )
    assert pages.field_errors(page, "add-password") == ["Use at least 10 characters"]
    page = pages.text(add_user(client, csrf_token, **{"add-email": "admin@sen.example.org"}), 400)
    assert pages.field_errors(page, "add-email") == [
        "There is already a user admin@sen.example.org"
    ]
    page = pages.text(add_user(client, csrf_token, **{"add-email": "nobody"}), 400)
    assert pages.field_errors(page, "add-email") == ["'nobody' is not an e-mail address"]
    with sessions() as s:
        assert s.scalar(select(func.count(User.id))) == 1


def test_deactivated_users_cannot_log_in_until_reactivated(
    password, pages, app, client, admin, make_user, sessions, csrf_token
):
    user = make_user()
    token = csrf_token(client.get("/users/"))
    response = client.post(f"/users/{user.id}/active", data={"active": "0", "csrf_token": token})
    assert response.status_code == 302
    page = pages.text(client.get("/users/"))
    assert "coordinator@sen.example.org can no longer log in." in page
    assert '<span class="status status-failed">Deactivated</span>' in page
    assert not can_log_in(app, csrf_token, user.email, password)
    response = client.post(f"/users/{user.id}/active", data={"active": "1", "csrf_token": token})
    assert response.status_code == 302
    assert can_log_in(app, csrf_token, user.email, password)
    with sessions() as s:
        assert s.get(User, user.id).active is True


def test_an_admin_cannot_deactivate_themselves(pages, client, admin, sessions, csrf_token):
    token = csrf_token(client.get("/users/"))
    response = client.post(f"/users/{admin.id}/active", data={"active": "0", "csrf_token": token})
    assert response.status_code == 302
    assert "You can&#39;t deactivate your own account." in pages.text(client.get("/users/"))
    with sessions() as s:
        assert s.get(User, admin.id).active is True


def test_an_admin_resets_a_password(password, pages, app, client, admin, make_user, csrf_token):
    user = make_user()
    url = f"/users/{user.id}/password"
    page = pages.text(client.get(url))
    assert "Reset the password of Casey Coordinator" in page
    assert '<label for="password">New password</label>' in page
    data = {"password": "brand new secret words", "csrf_token": csrf_token(page)}
    page = pages.text(client.post(url, data={**data, "confirm": "brand new secret wordz"}), 400)
    assert pages.field_errors(page, "confirm") == ["The two passwords are different"]
    pages.assert_accessible(page)
    assert can_log_in(app, csrf_token, user.email, password)
    response = client.post(url, data={**data, "confirm": "brand new secret words"})
    assert response.status_code == 302
    assert "New password set for coordinator@sen.example.org." in pages.text(client.get("/users/"))
    assert not can_log_in(app, csrf_token, user.email, password)
    assert can_log_in(app, csrf_token, user.email, "brand new secret words")


def test_user_actions_need_the_csrf_token(client, admin, make_user, sessions):
    user = make_user()
    assert client.post(f"/users/{user.id}/active", data={"active": "0"}).status_code == 400
    assert client.post("/users/", data=NEW_USER).status_code == 400
    with sessions() as s:
        assert s.get(User, user.id).active is True
        assert s.scalar(select(func.count(User.id))) == 2


def test_unknown_users_are_not_found(client, admin):
    assert client.get("/users/999/password").status_code == 404
