"""feeds.http.Fetcher against a local HTTP server: retries, throttling and limits."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from werkzeug import Request, Response

from feeds.errors import FetchError, ResponseTooLarge
from feeds.http import Fetcher, HttpPolicy
from feeds.sources.contracts_finder import ContractsFinder
from feeds.sources.find_a_tender import FindATender


def sequence(*responses: Response):
    """A handler that answers with each response in turn, then repeats the last."""
    queue = list(responses)

    def handler(request: Request) -> Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def hits(httpserver, path: str) -> int:
    """Requests the server saw for `path` (a slow handler of an earlier test may log late)."""
    return sum(1 for request, _ in httpserver.log if request.path == path)


def test_get_returns_body_status_headers_and_sends_user_agent(httpserver, make_fetcher, recorded):
    body = recorded.bytes(recorded.FTS_2026)
    httpserver.expect_request(
        "/api", query_string={"limit": "100"}, headers={"User-Agent": HttpPolicy().user_agent}
    ).respond_with_data(body, content_type="application/json")
    response = make_fetcher().get(httpserver.url_for("/api"), {"limit": 100})
    assert response.status == 200
    assert response.content == body
    assert response.headers["content-type"] == "application/json"
    assert response.url == httpserver.url_for("/api") + "?limit=100"


def test_post_json_sends_the_body(httpserver, make_fetcher):
    query = {"query": "buyer-country = GBR", "limit": 10}
    httpserver.expect_request("/search", method="POST", json=query).respond_with_json({"ok": 1})
    response = make_fetcher().post_json(httpserver.url_for("/search"), query)
    assert json.loads(response.content) == {"ok": 1}


def test_429_waits_for_retry_after_then_succeeds(httpserver, make_fetcher, sleeps):
    httpserver.expect_request("/fts").respond_with_handler(
        sequence(
            Response("12 request limit in 2 minute exceeded", 429, {"Retry-After": "7"}),
            Response("{}", 200),
        )
    )
    fetcher = make_fetcher(HttpPolicy().updated(FindATender.http_defaults), delay=0)
    assert fetcher.get(httpserver.url_for("/fts")).status == 200
    assert sleeps == [7.0]


def test_503_without_retry_after_uses_the_throttle_default(httpserver, make_fetcher, sleeps):
    httpserver.expect_request("/fts").respond_with_handler(
        sequence(Response("busy", 503), Response("{}", 200))
    )
    fetcher = make_fetcher(HttpPolicy().updated(FindATender.http_defaults), delay=0)
    fetcher.get(httpserver.url_for("/fts"))
    assert sleeps == [30.0]


def test_retry_after_as_http_date_is_capped_by_max_wait(httpserver, make_fetcher, sleeps):
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    httpserver.expect_request("/x").respond_with_handler(
        sequence(Response("", 429, {"Retry-After": later}), Response("ok", 200))
    )
    make_fetcher(max_wait=120.0).get(httpserver.url_for("/x"))
    assert sleeps == [120.0]


def test_contracts_finder_403_means_wait_five_minutes(httpserver, make_fetcher, sleeps):
    httpserver.expect_request("/cf").respond_with_handler(
        sequence(Response("Forbidden", 403), Response("{}", 200))
    )
    fetcher = make_fetcher(HttpPolicy().updated(ContractsFinder.http_defaults))
    assert fetcher.get(httpserver.url_for("/cf")).status == 200
    assert 300.0 in sleeps


def test_500_then_success_is_retried_with_backoff(httpserver, make_fetcher, sleeps):
    httpserver.expect_request("/v1/Notices").respond_with_handler(
        sequence(Response("Error converting data type nvarchar to float.", 500), Response("{}"))
    )
    assert make_fetcher(backoff=0.5).get(httpserver.url_for("/v1/Notices")).status == 200
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 0.55


def test_other_4xx_fails_at_once_with_the_status(httpserver, make_fetcher, sleeps):
    httpserver.expect_request("/missing").respond_with_data("no such notice", status=404)
    with pytest.raises(FetchError) as caught:
        make_fetcher().get(httpserver.url_for("/missing"))
    assert caught.value.status == 404
    assert caught.value.reason == "HTTP 404: no such notice"
    assert sleeps == []
    assert hits(httpserver, "/missing") == 1


def test_giving_up_names_the_url_and_the_last_reason(httpserver, make_fetcher, sleeps):
    httpserver.expect_request("/v1/Notices").respond_with_data(
        "Error converting data type nvarchar to float.", status=500
    )
    url = httpserver.url_for("/v1/Notices")
    with pytest.raises(FetchError) as caught:
        make_fetcher(retries=2, backoff=1.0).get(url, {"noticeType": 102})
    message = str(caught.value)
    assert message.startswith(url)
    assert "gave up after 3 attempts: HTTP 500: Error converting data type nvarchar" in message
    assert caught.value.status == 500
    assert hits(httpserver, "/v1/Notices") == 3
    assert [round(s) for s in sleeps] == [1, 2]  # exponential backoff


def test_read_timeout_is_retried_then_reported(httpserver, make_fetcher):
    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(FetchError, match=r"gave up after 2 attempts: timed out \(ReadTimeout\)"):
        make_fetcher(timeout=0.2, retries=1).get(httpserver.url_for("/slow"))


def test_truncated_body_is_a_fetch_error(httpserver, make_fetcher, recorded):
    body = recorded.bytes(recorded.CF_2022)

    def truncated(request: Request) -> Response:
        def half():
            yield body[: len(body) // 2]

        return Response(half(), headers={"Content-Length": str(len(body))}, direct_passthrough=True)

    httpserver.expect_request("/cf").respond_with_handler(truncated)
    with pytest.raises(FetchError, match="peer closed connection without sending complete"):
        make_fetcher(retries=1).get(httpserver.url_for("/cf"))
    assert hits(httpserver, "/cf") == 2


def test_declared_oversized_response_is_refused(httpserver, make_fetcher, recorded):
    httpserver.expect_request("/big").respond_with_data(recorded.bytes(recorded.FTS_2026))
    with pytest.raises(ResponseTooLarge, match="over 10000"):
        make_fetcher(max_bytes=10_000).get(httpserver.url_for("/big"))
    assert hits(httpserver, "/big") == 1  # not retried


def test_streamed_oversized_response_stops_at_the_cap(httpserver, make_fetcher):
    def endless(request: Request) -> Response:
        def chunks():
            for _ in range(1000):
                yield b"x" * 4096

        return Response(chunks())  # no Content-Length: only the stream tells

    httpserver.expect_request("/stream").respond_with_handler(endless)
    with pytest.raises(ResponseTooLarge, match="over 20000 bytes"):
        make_fetcher(max_bytes=20_000).get(httpserver.url_for("/stream"))


def test_slow_drip_body_trips_the_total_timeout(httpserver, make_fetcher):
    def drip(request: Request) -> Response:
        def chunks():
            for _ in range(20):
                time.sleep(0.05)
                yield b"x" * 10

        return Response(chunks())

    httpserver.expect_request("/drip").respond_with_handler(drip)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"took longer than 0.3 s in all"):
        make_fetcher(timeout=1.0, total_timeout=0.3, retries=0).get(httpserver.url_for("/drip"))
    assert time.monotonic() - started < 0.9


def test_delay_spaces_consecutive_requests(httpserver):
    httpserver.expect_request("/a").respond_with_data("ok")
    waits: list[float] = []
    now = [100.0]
    with Fetcher(HttpPolicy(delay=5.0), sleep=waits.append, clock=lambda: now[0]) as fetcher:
        fetcher.get(httpserver.url_for("/a"))
        now[0] += 1.0  # the next request comes 1 s after the first ended
        fetcher.get(httpserver.url_for("/a"))
    assert waits == [4.0]


def test_policy_updated_merges_throttles_and_refuses_unknown_keys():
    policy = HttpPolicy(throttle={500: 1.0}).updated({"throttle": {"403": 300}, "delay": 2})
    assert policy.throttle == {500: 1.0, 403: 300.0}
    assert policy.delay == 2
    with pytest.raises(ValueError, match="unknown HTTP policy settings: retry"):
        HttpPolicy().updated({"retry": 3})


def test_fetcher_tells_its_user_agent():
    with Fetcher(HttpPolicy(user_agent="SEN-Broker/1.0")) as fetcher:
        assert fetcher.user_agent == "SEN-Broker/1.0"


def test_public_only_refuses_loopback_and_private_hosts_before_connecting(httpserver):
    httpserver.expect_request("/secret").respond_with_data("internal")
    policy = HttpPolicy(public_only=True, retries=0)
    with Fetcher(policy) as fetcher:
        for url in (httpserver.url_for("/secret"), "http://10.0.0.7/", "http://[::1]:9/"):
            with pytest.raises(FetchError, match="private or local address"):
                fetcher.get(url)
    assert httpserver.log == []
    # Without it (harvest sources an admin configured), loopback is fine.
    with Fetcher(HttpPolicy(retries=0)) as fetcher:
        assert fetcher.get(httpserver.url_for("/secret")).content == b"internal"


def test_public_only_connects_to_the_address_it_checked(httpserver, monkeypatch):
    """DNS rebinding: a name that answers a public address to the check and a private one
    to the connection must not reach the private one. Here 127.0.0.1 (the test server)
    stands for a public address and 127.0.0.2 for the private one."""
    import socket as socket_module

    from feeds import http

    real_getaddrinfo = socket_module.getaddrinfo
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.2"])
    lookups = []

    def rebinding(host, *args, **kwargs):
        if host != "tenders.example":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", (next(answers), 0))]

    monkeypatch.setattr(socket_module, "getaddrinfo", rebinding)
    monkeypatch.setattr(http, "_is_public", lambda address: address == "127.0.0.1")
    port = httpserver.port
    httpserver.expect_request(
        "/notice", headers={"Host": f"tenders.example:{port}"}
    ).respond_with_data("the notice")
    with Fetcher(HttpPolicy(public_only=True, retries=0)) as fetcher:
        reply = fetcher.get(f"http://tenders.example:{port}/notice")
        assert reply.content == b"the notice"
        # The notice's link is the one given, not the address it was fetched from.
        assert reply.url == f"http://tenders.example:{port}/notice"
        assert lookups == ["tenders.example"]  # looked up once: checked and connected to
        # The next lookup answers the private address: refused, never connected.
        with pytest.raises(FetchError, match=r"private or local address \(127\.0\.0\.2\)"):
            fetcher.get(f"http://tenders.example:{port}/notice")
    assert len(httpserver.log) == 1


def test_public_only_refuses_a_redirect_to_a_private_address(httpserver, monkeypatch):
    from feeds import http

    monkeypatch.setattr(http, "_is_public", lambda address: address == "127.0.0.1")
    httpserver.expect_request("/moved").respond_with_data(
        "", status=302, headers={"Location": "http://127.0.0.3:9/internal"}
    )
    fetcher = Fetcher(HttpPolicy(public_only=True, retries=0))
    with fetcher, pytest.raises(FetchError, match=r"127\.0\.0\.3 is a private or local address"):
        fetcher.get(f"http://127.0.0.1:{httpserver.port}/moved")
    assert len(httpserver.log) == 1


def test_public_only_follows_a_redirect_by_name(httpserver, monkeypatch):
    """A relative redirect goes on to the same name (looked up again), not to the address."""
    import socket as socket_module

    from feeds import http

    real_getaddrinfo = socket_module.getaddrinfo
    lookups = []

    def resolve(host, *args, **kwargs):
        if host != "tenders.example":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]

    monkeypatch.setattr(socket_module, "getaddrinfo", resolve)
    monkeypatch.setattr(http, "_is_public", lambda address: address == "127.0.0.1")
    port = httpserver.port
    host = {"Host": f"tenders.example:{port}"}
    httpserver.expect_request("/moved", headers=host).respond_with_data(
        "", status=302, headers={"Location": "/notice/7"}
    )
    httpserver.expect_request("/notice/7", headers=host).respond_with_data("lot 7")
    with Fetcher(HttpPolicy(public_only=True, retries=0)) as fetcher:
        reply = fetcher.get(f"http://tenders.example:{port}/moved")
    assert (reply.url, reply.content) == (f"http://tenders.example:{port}/notice/7", b"lot 7")
    assert lookups == ["tenders.example", "tenders.example"]
