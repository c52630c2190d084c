"""`broker export notices`: the documented JSONL and CSV formats."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import update

from broker.models import Notice

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
PCS_2026 = "pcs_ocds_notices_2026-09_nt102_trimmed.json"

EXPORT_KEYS = {
    "id",
    "sources",
    "title",
    "description",
    "buyer",
    "cpv",
    "regions",
    "place",
    "value",
    "deadline",
    "published",
    "notice_type",
    "procedure",
    "reserved",
    "suitability",
    "community_benefits",
    "lots",
}


def test_export_jsonl_follows_the_documented_schema(cli_runner, data_dir, tmp_path):
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    out = tmp_path / "notices.jsonl"
    result = cli_runner("export", "notices", "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 90
    assert all(set(r) == EXPORT_KEYS for r in records)
    fife = next(r for r in records if r["sources"][0]["source_id"] == "ocds-r6ebe6-0000580540")
    assert fife["reserved"] is True
    assert fife["buyer"] == "Fife Council"
    assert fife["value"] == {"amount": 5100000.0, "currency": "GBP"}
    assert fife["cpv"][0] == "33000000"
    assert fife["regions"] == ["UKM72"]
    assert fife["deadline"].startswith("2019-05-13T12:00:00")
    assert fife["sources"][0]["source"] == "pcs"


def test_export_to_stdout_as_csv(cli_runner, data_dir):
    assert cli_runner("import", str(data_dir / PCS_2026)).exit_code == 0
    result = cli_runner("export", "notices", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 3
    seabird = next(r for r in rows if r["buyer"] == "Scottish Seabird Centre")
    assert seabird["value_amount"] == "265000.0"
    assert seabird["cpv"].split(";")[0] == "45453100"
    assert len(json.loads(seabird["lots"])) == 2


def test_csv_keeps_notice_text_that_looks_like_a_formula_as_text(cli_runner, data_dir, sessions):
    # A notice's words come from buyers, and from the network's public form.
    assert cli_runner("import", str(data_dir / PCS_2026)).exit_code == 0
    with sessions.begin() as s:
        s.execute(
            update(Notice)
            .where(Notice.buyer == "Scottish Seabird Centre")
            .values(title='=HYPERLINK("http://evil.example")', description="-Seabird works")
        )
    result = cli_runner("export", "notices", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    seabird = next(r for r in rows if r["buyer"] == "Scottish Seabird Centre")
    assert seabird["title"] == '\'=HYPERLINK("http://evil.example")'
    assert seabird["description"] == "'-Seabird works"
    assert all(not r["title"].startswith("'") for r in rows if r is not seabird)
