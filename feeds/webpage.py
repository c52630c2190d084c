"""Fetched HTML pages: decoded by the charset they declare, parsed with BeautifulSoup."""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Mapping

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

from feeds.text import clean_text, html_soup

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Text that never belongs to what a page says.
_NOISE = ("script", "style", "noscript", "template", "svg", "nav", "header", "footer", "form")


def header_charset(headers: Mapping[str, str] | None) -> str | None:
    """The charset named by a Content-Type header, if Python knows it."""
    for key, value in (headers or {}).items():
        if key.lower() == "content-type" and (match := _HEADER_CHARSET.search(value)):
            return _known(match.group(1))
    return None


def decode_html(content: bytes, headers: Mapping[str, str] | None = None) -> str:
    """Decode a page: its BOM, else the HTTP charset, else its <meta> charset, else UTF-8.

    Bytes that are not UTF-8 and declare nothing are read as windows-1252, the
    default browsers use for such pages.
    """
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content.decode(codec, "replace")
    codec = header_charset(headers)
    if codec is None and (match := _META_CHARSET.search(content[:4096])):
        codec = _known(match.group(1).decode("ascii", "replace"))
    if codec is not None:
        return content.decode(codec, "replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", "replace")


def parse_html(content: bytes | str, headers: Mapping[str, str] | None = None) -> BeautifulSoup:
    """A BeautifulSoup tree of a fetched page (html.parser; XHTML is read as HTML)."""
    text = content if isinstance(content, str) else decode_html(content, headers)
    with warnings.catch_warnings():
        # The markup is a fetched page, never a file name or URL to open, and XHTML
        # pages are meant to be read as HTML here.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return html_soup(text)


def page_text(soup: BeautifulSoup) -> str:
    """The readable text of a page's main part, without scripts, navigation or forms."""
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for tag in root.find_all(_NOISE):
        tag.decompose()
    return clean_text(str(root))


def page_title(soup: BeautifulSoup) -> str | None:
    """The page's heading: og:title, else its first <h1>, else <title>."""
    meta = soup.find("meta", attrs={"property": "og:title"})
    if meta is not None and (content := meta.get("content")) and isinstance(content, str):
        return clean_text(content) or None
    for tag in (soup.find("h1"), soup.title):
        if tag is not None and (text := clean_text(tag.get_text(" "))):
            return text
    return None


def _known(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name
        b"a".decode(codec)  # refuses bytes-to-bytes codecs such as "base64" or "zlib"
    except UnicodeDecodeError:
        pass  # a real text encoding (utf-16) that one byte is too short for
    except LookupError:
        return None
    return codec
