"""TED notice XML of either generation (eForms or R2.0.9), told apart by its root."""

from __future__ import annotations

from feeds import ted
from feeds.eforms import is_eforms, notice_from_eforms
from feeds.errors import ParseError, RecordError
from feeds.safe_xml import local_name, parse_xml
from feeds.ted_r209 import is_r209, notice_from_r209
from feeds.types import Notice, Rejection

# Root element names that mark a TED notice, searched for in a file's first bytes.
ROOT_MARKERS = (
    b"TED_EXPORT",
    b"ContractNotice",
    b"PriorInformationNotice",
    b"ContractAwardNotice",
)


def looks_like_ted_xml(head: bytes) -> bool:
    """Guess from a file's first bytes whether it is a TED notice (before parsing it)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<" and any(
        marker in head for marker in ROOT_MARKERS
    )


def notice_from_ted_xml(data: bytes | str, *, where: str) -> Notice:
    """Parse one TED notice XML document (eForms or R2.0.9) into a `Notice`.

    Raises ParseError when the XML is unsafe, malformed or not a TED notice, and
    RecordError when it is a TED notice without the parts a notice needs.
    """
    root = parse_xml(data, where=where)
    raw = data if isinstance(data, str) else data.decode("utf-8", "replace")
    if is_eforms(root):
        return notice_from_eforms(root, raw=raw)
    if is_r209(root):
        return notice_from_r209(root, raw=raw)
    raise ParseError(where, f"root element {local_name(root.tag)!r} is not a TED notice")


def read_ted_notice(
    data: bytes | str, *, where: str
) -> tuple[tuple[Notice, ...], tuple[Rejection, ...]]:
    """One TED XML document as (notices, rejections); raise ParseError if it is no notice.

    A TED notice that lacks what a notice needs (a title, an id) is a Rejection.
    """
    try:
        return (notice_from_ted_xml(data, where=where),), ()
    except RecordError as exc:
        return (), (Rejection(ted.SOURCE, where, str(exc)),)
