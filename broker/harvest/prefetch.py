"""Parse and prepare a file's pages in a worker process while this one writes them.

A bulk import is CPU-bound on both sides: parsing and compressing releases, and
writing rows. Doing the first in a second process uses the machine's second core;
a small bounded queue keeps memory flat.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from broker.notices.records import pack
from feeds import files
from feeds.errors import FeedError, ParseError
from feeds.types import Page

logger = logging.getLogger(__name__)

# Pages waiting in the queue; each is a few MB.
DEPTH = 2
POLL_SECONDS = 1.0


def prepared_pages(
    path: Path, *, batch_size: int, file_format: str, keep_raw: bool
) -> Iterator[Page]:
    """The pages of `path`, whose notices arrive as `Packed` records, parsed elsewhere.

    Raises ParseError (after the pages before it) when the file is broken, and FeedError
    if the worker process dies.
    """
    context = multiprocessing.get_context("spawn")
    channel: Any = context.Queue(maxsize=DEPTH)
    worker = context.Process(
        target=_produce,
        args=(str(path), batch_size, file_format, keep_raw, channel),
        name="broker-import-parser",
        daemon=True,
    )
    worker.start()
    try:
        while True:
            try:
                kind, payload = channel.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not worker.is_alive():
                    raise FeedError(
                        f"{path}: the parser process stopped (exit code {worker.exitcode})"
                    ) from None
                continue
            if kind == "page":
                yield payload
            elif kind == "done":
                return
            elif kind == "parse-error":
                raise ParseError(*payload)
            else:
                raise FeedError(f"{path}: the parser failed: {payload}")
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()
        channel.close()


def _produce(path: str, batch_size: int, file_format: str, keep_raw: bool, channel: Any) -> None:
    """Worker: read the file page by page and send each page's prepared records."""
    try:
        for page in files.read_file(path, batch_size=batch_size, file_format=file_format):
            # The parsed raw releases stay here; the compressed copy travels instead.
            records = tuple(pack(n, keep_raw) for n in page.notices)
            channel.put(("page", dataclasses.replace(page, notices=records)))
        channel.put(("done", None))
    except ParseError as exc:
        channel.put(("parse-error", (exc.where, exc.reason)))
    except Exception as exc:  # reported to the parent, which records it on the run
        logger.exception("parsing %s failed", path)
        channel.put(("crash", f"{type(exc).__name__}: {exc}"))
