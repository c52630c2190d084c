"""Read OCDS JSON payloads (release packages, bare arrays, record packages) into notices.

Large files are streamed with ijson so memory stays flat. Numbers too big for a float
(Find a Tender writes `1e9999`) and the non-JSON `Infinity`/`NaN` are turned into
strings before parsing, so no `inf` ever reaches a notice or its raw payload.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import ijson

from feeds.codes import publisher_for_ocid
from feeds.errors import ParseError, RecordError
from feeds.ocds import notice_from_releases
from feeds.types import Notice, Page, Rejection

CHUNK = 64 * 1024
# How far into a stream to look for the top-level "releases" or "records" key.
PEEK_LIMIT = 1024 * 1024

# A number with a 3-digit exponent (may overflow a float) or a bare
# Infinity/NaN, standing as a JSON value: after ':', '[' or ',' and before ',', ']', '}'.
# `$` lets a value end a chunk: chunks are cut just before a structural character.
_ODD_NUMBER = re.compile(
    rb"(?<=[:\[,\s])(-?(?:(?:\d+\.?\d*|\.\d+)[eE]\+?\d{3,}|Infinity|NaN))(?=\s*(?:[,\]}]|$))"
)
_SHAPE = re.compile(rb'"(releases|records)"\s*:')
_BOM = b"\xef\xbb\xbf"
_CP1252_FALLBACK = "feeds.cp1252"


def _decode_as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 are read as cp1252 instead."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", "replace"), exc.end


# Named error handlers live in one registry; registering the same function again is harmless.
codecs.register_error(_CP1252_FALLBACK, _decode_as_cp1252)


@dataclass
class Payload:
    """One parsed payload: its releases, its envelope (links...) and any parse failure."""

    releases: list[Any] = field(default_factory=list)
    envelope: Mapping[str, Any] = field(default_factory=dict)
    error: ParseError | None = None


def _quote_odd_number(match: re.Match[bytes]) -> bytes:
    token = match.group(1)
    if token.lstrip(b"-") in (b"Infinity", b"NaN"):
        return b'"' + token + b'"'
    return token if math.isfinite(float(token)) else b'"' + token + b'"'


def finite_json(data: bytes) -> bytes:
    """Quote the JSON numbers a float cannot hold (`1e9999`) and bare Infinity/NaN.

    Works on raw bytes without knowing whether a match sits inside a string; the
    pattern needs a value's surroundings (": 1e9999,"), which free text hardly has.
    """
    return _ODD_NUMBER.sub(_quote_odd_number, data)


def _finite_float(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else text


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        # Some feeds (Contracts Finder) have sent cp1252 bytes: read them as such, and
        # let clean_text repair any UTF-8 that then looks like mojibake.
        return content.decode("cp1252", errors="replace")


class NestedTooDeeply(ValueError):
    """Raised by `loads_finite` for JSON nested past the parser's recursion limit."""


def loads_finite(content: bytes) -> Any:
    """Parse JSON bytes, keeping `1e9999`, `Infinity` and `NaN` as strings (ValueError if bad)."""
    if content.startswith(_BOM):
        content = content[len(_BOM) :]
    try:
        return json.loads(_text(content), parse_float=_finite_float, parse_constant=str)
    except RecursionError:
        raise NestedTooDeeply("JSON is nested too deeply") from None


def load_payload(content: bytes, *, where: str) -> Payload:
    """Parse one downloaded payload fully; on broken JSON keep the releases read before it."""
    try:
        data = loads_finite(content)
    except ValueError as exc:
        salvaged: list[Any] = []
        # Salvaging streams the payload with ijson, which holds a path string per level:
        # memory grows with the square of the depth, so a hostile 100,000-deep payload
        # would take gigabytes. Only a payload that broke some other way is salvaged.
        if not isinstance(exc, NestedTooDeeply):
            with contextlib.suppress(ParseError):
                salvaged.extend(read_package(io.BytesIO(content), where=where))
        position = ""
        if isinstance(exc, json.JSONDecodeError):
            position = f" at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        reason = f"invalid JSON{position}: {_first_line(exc)}"
        if salvaged:
            reason += f"; kept the {len(salvaged)} releases before it"
        return Payload(salvaged, {}, ParseError(where, reason))
    if isinstance(data, list):
        return Payload(data)
    if not isinstance(data, dict):
        return Payload(error=ParseError(where, f"top level is a {type(data).__name__}"))
    envelope = {k: v for k, v in data.items() if k not in ("releases", "records")}
    if "records" in data and "releases" not in data:
        records = data["records"] or []
        if not isinstance(records, list):
            return Payload(envelope=envelope, error=ParseError(where, "records is not a list"))
        return Payload([r for record in records for r in _record_releases(record)], envelope)
    releases = data.get("releases") or []
    if not isinstance(releases, list):
        return Payload(envelope=envelope, error=ParseError(where, "releases is not a list"))
    return Payload(releases, envelope)


def read_package(data: bytes | IO[bytes], *, where: str) -> Iterator[Any]:
    """Stream the releases of a release package, a bare array or a record package.

    Yields each release as it is parsed (records give their embedded releases, or their
    compiledRelease). Raises ParseError naming `where` when the JSON breaks, after
    yielding every release before the break.
    """
    raw = io.BytesIO(data) if isinstance(data, bytes) else data
    origin = raw.tell() if raw.seekable() else None
    count = 0
    # The first pass reads the bytes as they are (fast). If yajl stops, perhaps on a
    # number like 1e9999 or a bare Infinity, or on bytes that are not UTF-8, the stream
    # is read again with such values quoted and such bytes read as cp1252, skipping the
    # releases already yielded.
    for finite in (False, True):
        stream = _Stream(raw, finite=finite)
        prefix = stream.detect_shape()
        seen = 0
        try:
            for release in _items(stream, prefix):
                seen += 1
                if seen > count:
                    count = seen
                    yield release
            return
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            if not finite and origin is not None:
                raw.seek(origin)
                continue
            raise ParseError(
                where,
                f"invalid JSON near byte {stream.position} after {count} releases: "
                f"{_first_line(exc)}",
            ) from exc
        except OSError as exc:
            raise ParseError(where, f"cannot read: {exc}") from exc


def _items(stream: _Stream, prefix: str) -> Iterator[Any]:
    # Decimals, not floats: yajl refuses 1e9999 as a float but reads it as a Decimal.
    for item in ijson.items(stream, prefix):
        if prefix == "records.item":
            yield from _record_releases(item)
        else:
            yield item


def map_releases(
    releases: Sequence[Any],
    *,
    source: str,
    where: str,
    start: int = 1,
    notice_type: str | None = None,
) -> tuple[tuple[Notice, ...], tuple[Rejection, ...]]:
    """Turn the releases of one page into notices, one per ocid, and rejections.

    Several releases of one ocid are compiled into one notice named by the latest.
    `source` names the rejections whose publisher can't be told from an ocid; `where`
    and `start` build positions such as "page 3, release 17".
    """
    groups: dict[str, list[int]] = {}
    rejections: list[Rejection] = []
    for i, release in enumerate(releases):
        ocid = release.get("ocid") if isinstance(release, dict) else None
        if isinstance(ocid, str) and ocid.strip():
            groups.setdefault(ocid.strip(), []).append(i)
        else:
            groups[f"#{i}"] = [i]
    notices: list[Notice] = []
    for key, indexes in groups.items():
        group = [releases[i] for i in indexes]
        try:
            if isinstance(group[0], RecordError):
                raise group[0]
            notices.append(notice_from_releases(group, notice_type=notice_type))
        except RecordError as exc:
            record_id = None if key.startswith("#") else key
            if record_id is None and isinstance(group[0], dict):
                record_id = _text_id(group[0].get("id"))
            rejections.append(
                Rejection(
                    source=publisher_for_ocid(record_id) if record_id and key[0] != "#" else source,
                    position=f"{where}, release {start + indexes[0]}",
                    reason=str(exc),
                    record_id=record_id,
                )
            )
    return tuple(notices), tuple(rejections)


def _text_id(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _record_releases(record: Any) -> Iterable[Any]:
    """The releases of an OCDS record: embedded ones if present, else its compiledRelease."""
    if not isinstance(record, dict):
        return [RecordError(f"record is a {type(record).__name__}, not an object")]
    releases = record.get("releases")
    if isinstance(releases, list):
        # Linked releases ({url, date, tag}) carry no data; only embedded ones do.
        embedded = [r for r in releases if isinstance(r, dict) and ("tender" in r or "ocid" in r)]
        if embedded:
            return embedded
    compiled = record.get("compiledRelease")
    if isinstance(compiled, dict):
        if "ocid" not in compiled and isinstance(record.get("ocid"), str):
            compiled = {**compiled, "ocid": record["ocid"]}
        return [compiled]
    return [RecordError("record has neither embedded releases nor a compiledRelease")]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Stream(io.RawIOBase):
    """A read-only byte stream for ijson that can peek at its start and quote odd numbers.

    With `finite`, each chunk is cut just before its last ',', ']' or '}' so no number
    is split between two chunks and every number sees the character that follows it,
    and bytes that are not UTF-8 are read as cp1252 (and passed on as UTF-8).
    """

    def __init__(self, raw: IO[bytes], *, finite: bool):
        super().__init__()
        self._raw = raw
        self._finite = finite
        self._decoder = codecs.getincrementaldecoder("utf-8")(_CP1252_FALLBACK) if finite else None
        self._head: bytes | None = None
        self._pending = b""
        self._ready = b""
        self._eof = False
        self.position = 0  # bytes handed to the parser so far

    def readable(self) -> bool:
        return True

    def detect_shape(self) -> str:
        """Peek at the start of the stream and return the ijson prefix of its releases."""
        head = b""
        match = None
        while len(head) < PEEK_LIMIT:
            chunk = self._raw.read(CHUNK)
            if not chunk:
                break
            head += chunk
            if head.startswith(_BOM):
                head = head[len(_BOM) :]
            if head.lstrip()[:1] == b"[" or (match := _SHAPE.search(head)):
                break
        self._head = head
        if head.lstrip()[:1] == b"[":
            return "item"
        return "records.item" if match and match.group(1) == b"records" else "releases.item"

    def read(self, size: int | None = -1) -> bytes:
        while not self._ready and not self._eof:
            self._fill()
        if size is None or size < 0:
            size = len(self._ready)
        out, self._ready = self._ready[:size], self._ready[size:]
        self.position += len(out)
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _fill(self) -> None:
        if self._head is not None:
            chunk, self._head = self._head, None
        else:
            chunk = self._raw.read(CHUNK)
        if self._decoder is not None:
            # An incremental decoder keeps a character split between chunks whole.
            text = self._decoder.decode(chunk, final=not chunk)
            if not chunk:
                self._eof = True
                ready, self._pending = self._pending + text.encode("utf-8"), b""
                self._ready = finite_json(ready)
                return
            chunk = text.encode("utf-8")
            if not chunk:
                return  # only part of a character so far
        if not chunk:
            self._eof = True
            ready, self._pending = self._pending, b""
        elif not self._finite:
            ready, self._pending = self._pending + chunk, b""
        else:
            data = self._pending + chunk
            cut = max(data.rfind(b","), data.rfind(b"]"), data.rfind(b"}"))
            ready, self._pending = (data[:cut], data[cut:]) if cut > 0 else (b"", data)
        self._ready = finite_json(ready) if self._finite else ready


def page_from_payload(
    payload: Payload,
    *,
    label: str,
    source: str,
    state: Mapping[str, Any] | None,
    notice_type: str | None = None,
) -> Page:
    """Build the `Page` for one downloaded payload; a parse failure becomes `Page.error`."""
    notices, rejections = map_releases(
        payload.releases, source=source, where=label, notice_type=notice_type
    )
    error = str(payload.error) if payload.error else None
    return Page(label, notices, rejections, state, error)
