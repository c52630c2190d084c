"""Read notices from a saved file (for `broker import`), streaming, in pages."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feeds import ted
from feeds.errors import ParseError
from feeds.packages import map_releases, read_package
from feeds.safe_xml import MAX_XML_BYTES
from feeds.ted_search import read_search_response
from feeds.ted_xml import looks_like_ted_xml, read_ted_notice
from feeds.types import Notice, Page, Rejection

# "auto" tells the format from the first bytes: OCDS JSON (release or record packages,
# bare arrays), TED notice XML (eForms or R2.0.9, alone or zipped) and TED search JSON.
FORMATS = ("auto", "ocds", "ted")
_JSON_STARTS = (b"{", b"[")
_XML_STARTS = (b"<",)
_ZIP_START = b"PK\x03\x04"
# What reading one zip member can raise: a bad notice, or a damaged, encrypted
# (RuntimeError) or oddly compressed (NotImplementedError) member.
_MEMBER_ERRORS = (
    ParseError,
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
)
# A saved TED search response: a "notices" array and one of these beside or in it.
_TED_SEARCH_KEYS = (b'"iterationNextToken"', b'"totalNoticeCount"', b'"publication-number"')


def read_file(
    path: str | Path, *, batch_size: int = 500, file_format: str = "auto"
) -> Iterator[Page]:
    """Yield Pages of up to `batch_size` notices from an OCDS JSON or TED file.

    Release packages, bare arrays of releases and record packages are told apart
    automatically, as are TED notice XML (one notice, or a zip of them) and a saved
    TED search response. Releases of one ocid that follow each other stay in one page
    so they compile into one notice. Raises ParseError naming the file when it cannot
    be read, after yielding the pages before the fault.
    """
    if file_format not in FORMATS:
        raise ValueError(f"unknown file format {file_format!r}; known: {', '.join(FORMATS)}")
    path = Path(path)
    where = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ParseError(where, f"cannot open: {exc.strerror or exc}") from exc
    with handle:
        kind = _sniff(handle, where) if file_format != "ocds" else "json"
        if file_format == "ted" and kind == "json" and not _is_ted_search(handle):
            raise ParseError(where, "not a TED file (notice XML, a zip of them, or search JSON)")
        if kind == "xml":
            yield _xml_page(handle, path.name, where)
        elif kind == "zip":
            yield from _zip_pages(path, where, max(1, batch_size))
        elif file_format != "ocds" and _is_ted_search(handle):
            yield _search_page(handle, path.name, where)
        else:
            yield from _json_pages(handle, path.name, where, max(1, batch_size))


def _sniff(handle: Any, where: str) -> str:
    head = handle.read(4096)
    handle.seek(0)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in _JSON_STARTS:
        return "json"
    if start in _XML_STARTS:
        if not looks_like_ted_xml(head):
            raise ParseError(where, "XML file is not a TED notice (eForms or R2.0.9)")
        return "xml"
    if head.startswith(_ZIP_START):
        return "zip"
    if not start:
        raise ParseError(where, "file is empty")
    raise ParseError(where, "not an OCDS JSON or TED file (it does not start with '{', '[' or '<')")


def _is_ted_search(handle: Any) -> bool:
    head = handle.read(4096)
    handle.seek(0)
    return b'"notices"' in head and any(key in head for key in _TED_SEARCH_KEYS)


def _read_capped(handle: Any, where: str) -> bytes:
    data = handle.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise ParseError(where, f"file is over the {MAX_XML_BYTES}-byte limit for one notice")
    return data


def _xml_page(handle: Any, name: str, where: str) -> Page:
    """The one TED notice of an XML file (a notice without a title is a rejection)."""
    return _notice_page(f"{name} notice", _read_capped(handle, where), where)


def _notice_page(label: str, data: bytes, where: str) -> Page:
    notices, rejections = read_ted_notice(data, where=where)
    return Page(label, notices, rejections)


def _search_page(handle: Any, name: str, where: str) -> Page:
    page = read_search_response(_read_capped(handle, where), where=where)
    return Page(f"{name} notices 1-{page.records}", page.notices, page.rejections)


def _zip_pages(path: Path, where: str, batch_size: int) -> Iterator[Page]:
    """The TED XML notices of a zip, `batch_size` to a page; a bad member is a rejection."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(where, f"not a readable zip: {exc}") from None
    with archive:
        members = [m for m in archive.infolist() if m.filename.lower().endswith(".xml")]
        for first in range(0, len(members), batch_size):
            notices: list[Notice] = []
            rejections: list[Rejection] = []
            for member in members[first : first + batch_size]:
                member_where = f"{where}:{member.filename}"
                if member.file_size > MAX_XML_BYTES:
                    reason = f"{member.file_size} bytes is over the {MAX_XML_BYTES}-byte limit"
                    rejections.append(Rejection(ted.SOURCE, member_where, reason))
                    continue
                try:
                    page = _notice_page("", archive.read(member), member_where)
                except _MEMBER_ERRORS as exc:
                    rejections.append(Rejection(ted.SOURCE, member_where, str(exc)))
                    continue
                notices.extend(page.notices)
                rejections.extend(page.rejections)
            last = min(first + batch_size, len(members))
            label = f"{path.name} notices {first + 1}-{last}"
            yield Page(label, tuple(notices), tuple(rejections))


def _json_pages(handle: Any, name: str, where: str, batch_size: int) -> Iterator[Page]:
    batch: list[Any] = []
    first = 1  # 1-based position of batch[0] in the file

    def page() -> Page:
        last = first + len(batch) - 1
        label = f"{name} releases {first}-{last}"
        notices, rejections = map_releases(batch, source="file", where=name, start=first)
        return Page(label, notices, rejections)

    try:
        for release in read_package(handle, where=where):
            ocid = _ocid(release)
            if len(batch) >= batch_size and (ocid is None or ocid != _ocid(batch[-1])):
                yield page()
                first += len(batch)
                batch = []
            batch.append(release)
    except ParseError:
        # What was read before the fault is still worth storing.
        if batch:
            yield page()
        raise
    if batch:
        yield page()


def _ocid(release: Any) -> Any:
    return release.get("ocid") if isinstance(release, dict) else None
