"""Benchmark: `broker import` of a large OCDS file, end to end.

Builds a release package of N releases (default 100,000) by replicating the real
recorded releases in tests/data under new ocids, release ids, reference numbers and
deadlines, then runs `broker db upgrade` and `broker import FILE` in a child process
against a fresh SQLite file (or --postgres URL) and prints notices per second and the
peak resident memory of the import and the parser process it starts, together.

    python bench/harvest.py [--count 100000] [--postgres postgresql://...]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
TEMPLATES = (
    "pcs_ocds_releases_2019-04_apa999.json",
    "pcs_ocds_notices_2026-09_nt102_trimmed.json",
    "cf_ocds_search_2022-10-20.json",
    "fts_release_package_2026-09-11_trimmed.json",
)
REF = re.compile(r"\((SC|WA) Ref:\d+\)")


def templates() -> list[dict[str, Any]]:
    """The real releases the big file is made of."""
    releases = []
    for name in TEMPLATES:
        payload = json.loads((DATA / name).read_text())
        releases.extend(payload["releases"] if isinstance(payload, dict) else payload)
    return releases


def shift(value: Any, days: int) -> Any:
    """Move an ISO date string by `days`, keeping its exact shape."""
    if not isinstance(value, str) or len(value) < 10:
        return value
    try:
        moved = datetime.strptime(value[:10], "%Y-%m-%d") + timedelta(days=days)
    except ValueError:
        return value
    return moved.strftime("%Y-%m-%d") + value[10:]


def replicate(template: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy of a real release that is a different notice: new ids, refs and dates."""
    release = copy.deepcopy(template)
    prefix = "-".join(template["ocid"].split("-")[:2])
    ref = 1_000_000 + n
    if prefix == "ocds-b5fd17":
        release["ocid"] = f"{prefix}-{uuid.UUID(int=n)}"
    else:
        release["ocid"] = f"{prefix}-{ref:010d}"
    release["id"] = f"bench-{n}"
    for link in release.get("links") or []:
        if link.get("rel") == "canonical":
            link["href"] = re.sub(
                r"(ocds-r6ebe6-)\d+", rf"\g<1>{ref + 5_000_000:010d}", link["href"]
            )
    if isinstance(release.get("description"), str):
        release["description"] = REF.sub(
            lambda m: f"({m.group(1)} Ref:{ref})", release["description"]
        )
    days = n % 700
    release["date"] = shift(release.get("date"), days)
    tender = release.get("tender") or {}
    period = tender.get("tenderPeriod")
    if isinstance(period, dict):
        period["endDate"] = shift(period.get("endDate"), days)
    # Reference numbers make titles distinct, as real ones are.
    if isinstance(tender.get("title"), str):
        tender["title"] = f"{tender['title']} (ref {ref})"
    return release


def build_file(path: Path, count: int) -> int:
    """Write a release package of `count` releases; returns its size in bytes."""
    base = templates()
    with path.open("w", encoding="utf-8") as out:
        out.write('{"uri": "bench", "version": "1.1", "releases": [\n')
        for n in range(count):
            if n:
                out.write(",\n")
            text = json.dumps(replicate(base[n % len(base)], n), ensure_ascii=False)
            # Python writes the API's 1e9999 back as Infinity; restore the real form.
            out.write(text.replace("Infinity", "1e9999"))
        out.write("\n]}\n")
    return path.stat().st_size


def tree_memory_kb(root: int) -> tuple[int, int]:
    """Memory of a process and all its descendants, from /proc, in kB: resident (RSS,
    which counts pages forked workers share with their parent once per process) and
    proportional (PSS, which shares them out: what the tree really holds)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        parents[pid] = int(fields.get("PPid", "0"))
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total_rss = total_pss = 0
    for pid in rss:
        walk = pid
        while walk and walk != root:
            walk = parents.get(walk, 0)
        if walk == root:
            total_rss += rss[pid]
            total_pss += _pss_kb(pid)
    return total_rss, total_pss


def _pss_kb(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # gone, or not ours to read
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


@dataclass
class Ran:
    """A broker command's run: seconds, output, and peak memory of its process tree."""

    seconds: float
    output: str
    peak_rss_kb: int
    peak_pss_kb: int


def run(args: list[str], env: dict[str, str]) -> Ran:
    """Run a broker command, sampling its process tree's memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "broker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_rss = peak_pss = 0
    while process.poll() is None:
        # The import parses in a worker process: count every process it starts.
        rss, pss = tree_memory_kb(process.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"broker {' '.join(args)} failed:\n{stdout}\n{stderr}")
    return Ran(elapsed, stdout, peak_rss, peak_pss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--postgres", help="run against this PostgreSQL database instead")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-harvest-"))
    package = work / "releases.json"
    started = time.perf_counter()
    size = build_file(package, options.count)
    print(
        f"built {options.count:,} releases ({size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s"
    )

    database = options.postgres or f"sqlite:///{work / 'bench.sqlite3'}"
    env = {
        **os.environ,
        "BROKER_DATABASE__URL": database,
        "BROKER_WEB__SECRET_KEY": "bench",
        "BROKER_CONFIG": str(ROOT / "config.toml"),
    }
    run(["db", "upgrade"], env)
    ran = run(["import", str(package)], env)
    elapsed, output, peak_kb = ran.seconds, ran.output, ran.peak_rss_kb
    peak_mb = peak_kb / 1024
    summary = [line for line in output.splitlines() if line.startswith("Done:")]
    backend = "PostgreSQL" if options.postgres else "SQLite"
    print(summary[0] if summary else output)
    print(f"backend: {backend}")
    print(f"import: {elapsed:.1f} s, {options.count / elapsed:,.0f} notices/s end to end")
    print(f"peak RSS of the import (all its processes together): {peak_mb:.0f} MB")
    if not options.keep:
        package.unlink()


if __name__ == "__main__":
    main()
