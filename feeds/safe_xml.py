"""The one way into XML: defusedxml with DTDs refused, size-capped, errors named.

Every XML payload in `feeds` is parsed here. A document type declaration is refused
outright, so entity expansion (billion laughs) and external entities (XXE) never
start. feedparser runs its own SAX parser, so RSS/Atom bytes go through
`screen_entities` first.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as _ExpatError

import defusedxml.ElementTree as _defused
from defusedxml import DefusedXmlException

from feeds.errors import ParseError

__all__ = ["MAX_XML_BYTES", "Element", "local_name", "parse_xml", "screen_entities", "text_of"]

# TED notices are 10-200 kB; a daily bulk file is still far below this.
MAX_XML_BYTES = 50 * 1024 * 1024

_DTD_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
_INTERNAL_SUBSET = re.compile(r"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)


def parse_xml(data: bytes | str, *, where: str, max_bytes: int = MAX_XML_BYTES) -> Element:
    """Parse `data` safely into its root Element; raise ParseError naming `where` if refused."""
    size = len(data)
    if size > max_bytes:
        raise ParseError(where, f"XML of {size} bytes is over the {max_bytes}-byte limit")
    if not data.strip():
        raise ParseError(where, "XML document is empty")
    try:
        return _defused.fromstring(data, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise ParseError(where, f"refused XML: {_defused_reason(exc)}") from None
    except _ExpatError as exc:
        raise ParseError(where, f"invalid XML: {exc}") from None
    except (LookupError, ValueError) as exc:
        # An unknown or multi-byte encoding named in the XML declaration.
        raise ParseError(where, f"unreadable XML encoding: {exc}") from None


def screen_entities(data: bytes, *, where: str) -> None:
    """Refuse markup whose prolog declares entities, before a non-defused parser sees it.

    A DOCTYPE without an internal subset (RSS 0.91's public DTD) is allowed: parsers
    here never fetch external DTDs.
    """
    # The whole document is searched: a long comment could push a DTD past any prefix.
    text = _decode_for_scan(data)
    if _DTD_ENTITY.search(text) or _INTERNAL_SUBSET.search(text):
        raise ParseError(
            where,
            "refused XML: the document type declares entities or an internal subset "
            "(entity expansion and external entities are not allowed)",
        )


def local_name(tag: object) -> str:
    """The tag without its namespace: "ContractNotice" for "{urn:...}ContractNotice"."""
    if not isinstance(tag, str):
        return ""  # comments and processing instructions have callables as tags
    return tag.rpartition("}")[2]


def text_of(element: Element | None) -> str:
    """All text inside an element, child elements included (no markup)."""
    if element is None:
        return ""
    return "".join(element.itertext())


def _defused_reason(exc: DefusedXmlException) -> str:
    name = type(exc).__name__
    if name == "DTDForbidden":
        return "document type declarations (DTDs) are not allowed"
    if name == "EntitiesForbidden":
        return "entity declarations are not allowed"
    if name == "ExternalReferenceForbidden":
        return "external references are not allowed"
    return name


def _decode_for_scan(head: bytes) -> str:
    """Decode a document well enough to find markup declarations."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) or head[:4] in (
        b"<\x00\x00\x00",
        b"\x00\x00\x00<",
    ):
        codec = "utf-32"
        if not head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
            codec = "utf-32-le" if head[0] == 0x3C else "utf-32-be"
        return head[: len(head) // 4 * 4].decode(codec, "replace")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        codec = "utf-16"
        if not head.startswith((b"\xff\xfe", b"\xfe\xff")):
            codec = "utf-16-le" if head[0] == 0x3C else "utf-16-be"
        return head[: len(head) // 2 * 2].decode(codec, "replace")
    if head.startswith(b"\x4c\x6f\xa7\x94"):  # "<?xm" in EBCDIC, which feedparser reads
        return head.decode("cp037", "replace")
    # Every other encoding a feed may use writes ASCII markup as ASCII bytes.
    return head.decode("latin-1")
