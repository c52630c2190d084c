"""Read notices from a saved file (for `broker import`), streaming, in pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feeds.errors import ParseError
from feeds.packages import map_releases, read_package
from feeds.types import Page

# "auto" tells the format from the first bytes; OCDS JSON is the only one read so far.
FORMATS = ("auto", "ocds")
_JSON_STARTS = (b"{", b"[")
_XML_STARTS = (b"<",)


def read_file(
    path: str | Path, *, batch_size: int = 500, file_format: str = "auto"
) -> Iterator[Page]:
    """Yield Pages of up to `batch_size` notices from an OCDS JSON file.

    Release packages, bare arrays of releases and record packages are told apart
    automatically. Releases of one ocid that follow each other stay in one page so they
    compile into one notice. Raises ParseError naming the file when it cannot be read,
    after yielding the pages before the fault.
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
        kind = _sniff(handle, where) if file_format == "auto" else "json"
        if kind == "xml":
            # TED XML notices come with their own reader (a later issue).
            raise ParseError(where, "XML files are not supported yet")
        yield from _json_pages(handle, path.name, where, max(1, batch_size))


def _sniff(handle: Any, where: str) -> str:
    head = handle.read(4096)
    handle.seek(0)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in _JSON_STARTS:
        return "json"
    if start in _XML_STARTS:
        return "xml"
    if not start:
        raise ParseError(where, "file is empty")
    raise ParseError(where, "not an OCDS JSON file (it does not start with '{' or '[')")


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
