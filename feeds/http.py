"""The only network code: bounded, polite HTTP requests with retries (httpx)."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from feeds.errors import FetchError, ResponseTooLarge
from feeds.types import Response

logger = logging.getLogger(__name__)

USER_AGENT = "sen-opportunity-broker/0.1 (public tender notice harvester)"
# Bytes of an error body kept for the error message.
ERROR_BODY = 300


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Limits and manners for one source's requests; every wait is in seconds."""

    # Seconds to connect, and to wait for each read.
    timeout: float = 30.0
    # The whole request, however slowly the server drips its body.
    total_timeout: float = 300.0
    max_bytes: int = 200 * 1024 * 1024
    user_agent: str = USER_AGENT
    # Retries after the first attempt, for connection errors, timeouts, 5xx, 429 and
    # the statuses in `throttle`.
    retries: int = 3
    # Waits grow backoff, 2*backoff, 4*backoff... (plus up to 10% jitter).
    backoff: float = 2.0
    # No single wait is longer, whatever Retry-After asks.
    max_wait: float = 600.0
    # Pause between consecutive requests of one Fetcher.
    delay: float = 0.0
    # Status -> wait when the server gives no Retry-After; these statuses are retried,
    # e.g. Contracts Finder's 403 "too many requests" wants 300 s.
    throttle: Mapping[int, float] = field(default_factory=dict)
    # True, False, or a CA bundle path (PCS's API host omits an intermediate cert).
    verify: bool | str = True
    # Refuse hosts that resolve to loopback, private, link-local or other non-public
    # addresses, redirects included: for URLs a person pasted, which must not reach
    # the broker's own network.
    public_only: bool = False

    def updated(self, changes: Mapping[str, Any]) -> HttpPolicy:
        """Return a copy with `changes` applied; `throttle` mappings are merged key by key."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown HTTP policy settings: {', '.join(sorted(unknown))}")
        values = dict(changes)
        if "throttle" in values:
            throttle = {int(k): float(v) for k, v in values["throttle"].items()}
            values["throttle"] = {**self.throttle, **throttle}
        return dataclasses.replace(self, **values)


class _PrivateHost(httpx.HTTPError):
    """A public_only request named a host on a non-public address."""


def _resolve(host: str) -> list[str]:
    """The addresses `host` stands for (itself, if it is an address)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:  # a name, not an address literal
        return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, None)))


def _is_public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_global


class _PublicOnlyTransport(httpx.BaseTransport):
    """Sends each request, redirects included, only to a public address, and to the very
    address it checked.

    Checking a name and then letting the connection look it up again would let a name
    answer public to the check and private to the connection (DNS rebinding); so the
    name is looked up once, every address it gives must be public, and the request goes
    to the first of them, the name kept for the Host header, TLS (SNI) and certificate.
    """

    def __init__(self, inner: httpx.BaseTransport):
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        try:
            addresses = _resolve(host)
        except OSError as exc:
            raise httpx.ConnectError(f"{host}: {exc}", request=request) from None
        for address in addresses:
            if not _is_public(address):
                raise _PrivateHost(f"{host} is a private or local address ({address}); not fetched")
        if addresses and addresses[0] != host:
            # A copy addressed to the checked address; the client keeps the original as
            # the response's request, so the response's URL still names the host.
            request = httpx.Request(
                request.method,
                request.url.copy_with(host=addresses[0]),
                headers=request.headers,  # its Host header names the host
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": host},
            )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class _Retry(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, reason: str, wait: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.status = status


class Fetcher:
    """Implements `feeds.types.Fetch` over httpx with the limits of an `HttpPolicy`."""

    def __init__(
        self,
        policy: HttpPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ):
        self.policy = policy or HttpPolicy()
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        if self.policy.public_only:
            # No kept-alive connections: one made to an address for one name must not
            # carry a request for another name on the same address.
            transport = _PublicOnlyTransport(
                transport
                or httpx.HTTPTransport(
                    verify=self.policy.verify, limits=httpx.Limits(max_keepalive_connections=0)
                )
            )
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout),
            headers={"User-Agent": self.policy.user_agent, "Accept": "application/json, */*"},
            transport=transport,
            verify=self.policy.verify,
            follow_redirects=True,
            # A proxy would look the name up itself, out of the check's reach.
            trust_env=not self.policy.public_only,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    @property
    def user_agent(self) -> str:
        """The User-Agent every request sends (robots.txt rules are matched against it)."""
        return self.policy.user_agent

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Response:
        """GET `url` with query `params`; raise FetchError once retries are spent."""
        return self._request("GET", url, params=params)

    def post_json(self, url: str, body: Any) -> Response:
        """POST `body` as JSON to `url`; raise FetchError once retries are spent."""
        return self._request("POST", url, json=body)

    def _request(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Response:
        policy = self.policy
        attempts = max(0, policy.retries) + 1
        for attempt in range(1, attempts + 1):
            self._pause()
            try:
                return self._attempt(method, url, params, json)
            except _Retry as failure:
                if attempt == attempts:
                    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
                    raise FetchError(
                        url, f"gave up after {tries}: {failure.reason}", failure.status
                    ) from None
                wait = failure.wait
                if wait is None:
                    wait = policy.backoff * 2 ** (attempt - 1)
                    wait += random.uniform(0, wait / 10)  # jitter, not crypto
                wait = min(max(wait, 0.0), policy.max_wait)
                logger.info("%s %s: %s; retrying in %.1f s", method, url, failure.reason, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self) -> None:
        if self._last_request is not None and self.policy.delay > 0:
            wait = self.policy.delay - (self._clock() - self._last_request)
            if wait > 0:
                self._sleep(wait)

    def _attempt(
        self, method: str, url: str, params: Mapping[str, Any] | None, json: Any
    ) -> Response:
        policy = self.policy
        started = self._clock()
        try:
            with self._client.stream(method, url, params=params, json=json) as reply:
                status = reply.status_code
                if status >= 400:
                    self._refuse(url, reply)
                declared = reply.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > policy.max_bytes:
                    raise ResponseTooLarge(
                        url,
                        f"response of {declared} bytes is over {policy.max_bytes}, the size "
                        "limit; not downloaded",
                        status,
                    )
                content = self._read(url, reply, started)
                return Response(str(reply.url), status, dict(reply.headers.items()), content)
        except _PrivateHost as exc:
            raise FetchError(url, str(exc)) from None
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        except httpx.HTTPError as exc:  # e.g. too many redirects, an invalid URL
            raise FetchError(url, f"{type(exc).__name__}: {exc}") from None
        finally:
            self._last_request = self._clock()

    def _read(self, url: str, reply: httpx.Response, started: float) -> bytes:
        policy = self.policy
        chunks: list[bytes] = []
        size = 0
        for chunk in reply.iter_bytes():
            size += len(chunk)
            if size > policy.max_bytes:
                raise ResponseTooLarge(
                    url,
                    f"response is over {policy.max_bytes} bytes, the size limit; cut off",
                    reply.status_code,
                )
            chunks.append(chunk)
            if self._clock() - started > policy.total_timeout:
                raise _Retry(
                    f"took longer than {policy.total_timeout:g} s in all (the total time "
                    "limit: the server sent it too slowly)"
                )
        return b"".join(chunks)

    def _refuse(self, url: str, reply: httpx.Response) -> None:
        """Raise for an error status: _Retry if it may pass, FetchError if not."""
        status = reply.status_code
        reason = f"HTTP {status}"
        detail = _error_detail(reply)
        if detail:
            reason += f": {detail}"
        throttle = self.policy.throttle
        if status in throttle or status == 429 or status >= 500:
            wait = _retry_after(reply.headers.get("retry-after"))
            if wait is None:
                wait = throttle.get(status)
            raise _Retry(reason, wait, status)
        raise FetchError(url, reason, status)


def _error_detail(reply: httpx.Response) -> str:
    body = b""
    try:
        for chunk in reply.iter_bytes():
            body += chunk
            if len(body) >= ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    return " ".join(body[:ERROR_BODY].decode("utf-8", "replace").split())


def _retry_after(value: str | None) -> float | None:
    """Seconds asked for by a Retry-After header (seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
