"""`python -m matchers`: score notices (JSONL) against profiles (JSON), a JSON line per match;
or count the word statistics of stored notices once (`corpus`) for every later run to share.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .config import MatchConfig
from .corpus import CorpusStats
from .engine import Matcher
from .errors import MatcherError
from .schema import notice_from_json, profile_from_json
from .types import Notice, Profile


class InputError(Exception):
    """Bad input, already phrased for the user (file and line)."""


def read_notices(path: Path) -> list[Notice]:
    """Notices from a JSONL file; a bad line raises InputError naming the file and line."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(notice_from_json(json.loads(line)))
        except (json.JSONDecodeError, MatcherError) as e:
            raise InputError(f"{path}:{no}: {e}") from None
    return out


def read_profiles(path: Path) -> list[Profile]:
    """Profiles from a JSON list; a bad profile raises InputError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: {e.msg}") from None
    if not isinstance(data, list):
        raise InputError(f"{path}:1: expected a JSON list of profiles")
    # json.loads forgets positions; re-scan so an error can name the profile's line.
    starts = _object_lines(text)
    out, seen = [], set()
    for i, item in enumerate(data):
        line = starts[i] if i < len(starts) else 1
        try:
            profile = profile_from_json(item)
        except MatcherError as e:
            raise InputError(f"{path}:{line}: profile {i + 1}: {e}") from None
        if profile.id in seen:
            raise InputError(f"{path}:{line}: profile {i + 1}: duplicate id {profile.id!r}")
        seen.add(profile.id)
        out.append(profile)
    return out


def _object_lines(text: str) -> list[int]:
    """Line numbers where each top-level element of a JSON list starts."""
    decoder = json.JSONDecoder()
    lines, pos = [], text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return lines
        lines.append(text.count("\n", 0, pos) + 1)
        _, pos = decoder.raw_decode(text, pos)


def read_corpus(path: Path | None) -> CorpusStats | None:
    """Corpus statistics saved by `python -m matchers corpus`; None without a path."""
    if path is None:
        return None
    try:
        return CorpusStats.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: {e.msg}") from None
    except MatcherError as e:
        raise InputError(f"{path}: {e}") from None


def score(
    notices: Path, profiles: Path, threshold: float | None, out: IO[str], corpus: Path | None = None
) -> int:
    """Write one JSON line per (profile, notice) at or above the threshold; return the count.

    Every input is read (and checked) first; then matches are scored and written a
    slice of notices at a time (see Matcher.jsonl), never held whole.
    """
    matcher = Matcher(read_profiles(profiles), MatchConfig(), corpus=read_corpus(corpus))
    count = 0
    for text in matcher.jsonl(read_notices(notices), threshold):
        out.write(text)
        count += text.count("\n")
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; exit 0 on success, 2 on bad input (with a message, not a traceback)."""
    ap = argparse.ArgumentParser(prog="python -m matchers", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    sc = sub.add_parser("score", help="score notices against profiles")
    sc.add_argument("--notices", type=Path, required=True, help="NOTICES.jsonl")
    sc.add_argument("--profiles", type=Path, required=True, help="PROFILES.json")
    sc.add_argument(
        "--threshold",
        type=float,
        default=None,
        help=f"minimum score (default {MatchConfig().notify_threshold})",
    )
    sc.add_argument("--out", type=Path, default=None, help="write here instead of stdout")
    sc.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="word statistics from `corpus` (default: the CPV labels only)",
    )
    co = sub.add_parser("corpus", help="count word statistics over stored notices")
    co.add_argument("--notices", type=Path, required=True, help="NOTICES.jsonl")
    co.add_argument("--out", type=Path, required=True, help="CORPUS.json to write")
    args = ap.parse_args(argv)
    try:
        if args.command == "corpus":
            stats = CorpusStats.from_notices(read_notices(args.notices))
            args.out.write_text(json.dumps(stats.to_json()), encoding="utf-8")
        elif args.out is None:
            score(args.notices, args.profiles, args.threshold, sys.stdout, args.corpus)
        else:
            with args.out.open("w", encoding="utf-8") as f:
                score(args.notices, args.profiles, args.threshold, f, args.corpus)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
