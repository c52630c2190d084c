"""Member profiles: CSV import with line-and-column errors, export, and saving."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from broker.members.csv_format import import_csv, members_csv
from broker.members.profiles import InvalidProfile, parse_profile, save_member
from broker.models import Member

HEADER = (
    "name,email,description,keywords,exclude,cpv,regions,min_value,max_value,"
    "supported_business,frequency\n"
)


def test_import_creates_members_with_every_field(sessions, data_dir, clock):
    with sessions.begin() as s, open(data_dir / "members.csv", newline="") as handle:
        result = import_csv(s, handle, clock(), where="members.csv")
    assert result.errors == []
    assert len(result.created) == 3
    with sessions() as s:
        wheels = s.scalars(select(Member).where(Member.name == "Shared Wheels Transport")).one()
        assert wheels.emails == [
            "bookings@sharedwheels.example.org",
            "ops@sharedwheels.example.org",
        ]
        assert wheels.keywords == [
            "community transport",
            "school transport",
            "minibus",
            "passenger transport",
        ]
        assert wheels.regions == ["all of Scotland"]
        assert wheels.min_value is None and wheels.max_value == 2_000_000
        assert wheels.frequency == "daily"
        clean = s.scalars(select(Member).where(Member.name == "Clean Start Services")).one()
        assert clean.supported_business is True
        assert clean.exclude == ["chimney"]
        assert clean.cpv == ["909"]


def test_bad_rows_are_reported_by_line_and_column_and_good_rows_kept(sessions, clock):
    text = HEADER + (
        "Good Growers,a@good.example.org,,grass cutting,,,Glasgow City,,,no,weekly\n"
        "Bad Area,b@bad.example.org,,cleaning,,,Glasgo,,,no,weekly\n"
        "Bad Size,c@bad.example.org,,cleaning,,,,big,100,maybe,hourly\n"
        ",not-an-email,,,,12ab,,,,,\n"
        "Also Good,d@good.example.org,,catering;event catering,,,UKM82;UK,1000,50000,yes,instant\n"
    )
    with sessions.begin() as s:
        result = import_csv(s, io.StringIO(text), clock(), where="members.csv")
    assert len(result.created) == 2
    errors = "\n".join(result.errors)
    assert "members.csv line 3, column regions: unknown area 'Glasgo'" in errors
    assert "members.csv line 4, column min_value: 'big' is not an amount in pounds" in errors
    assert "members.csv line 4, column supported_business: 'maybe' should be yes or no" in errors
    assert (
        "members.csv line 4, column frequency: must be one of instant, daily, weekly, off" in errors
    )
    assert "members.csv line 5, column name: is required" in errors
    assert "members.csv line 5, column email: 'not-an-email' is not an e-mail address" in errors
    assert "members.csv line 5, column cpv: '12ab' is not a CPV code" in errors
    with sessions() as s:
        assert sorted(s.scalars(select(Member.name))) == ["Also Good", "Good Growers"]


def test_reimporting_updates_by_name_and_reports_profile_changes(sessions, data_dir, clock):
    with sessions.begin() as s, open(data_dir / "members.csv", newline="") as handle:
        import_csv(s, handle, clock())
    clock.advance(days=1)
    text = HEADER + (
        "greenspace growers,hello@greenspace.example.org,New words,grounds maintenance;hedge "
        "cutting,,773,Glasgow City,5000,500000,no,weekly\n"
        "Shared Wheels Transport,bookings@sharedwheels.example.org;ops@sharedwheels.example.org,"
        '"Accessible community transport: school runs, day centres, patients.",community '
        "transport;school transport;minibus;passenger transport,,,all of Scotland,,2000000,"
        "no,daily\n"
    )
    with sessions.begin() as s:
        result = import_csv(s, io.StringIO(text), clock())
    assert result.created == []
    assert len(result.updated) == 1 and result.unchanged == 1
    assert result.changed == result.updated
    with sessions() as s:
        # Matched by name whatever its case; the file's spelling is kept.
        green = s.scalars(select(Member).where(Member.name == "greenspace growers")).one()
        assert green.keywords == ["grounds maintenance", "hedge cutting"]
        assert green.profile_changed_at == clock.now


def test_unknown_or_missing_columns_stop_the_import(sessions, clock):
    from broker.members.csv_format import BadCsv

    with sessions.begin() as s, pytest.raises(BadCsv, match=r"unknown column.*keywrods"):
        import_csv(s, io.StringIO("name,email,keywrods\nA,a@b.org,x\n"), clock())


def test_description_only_edit_does_not_count_as_a_profile_change(sessions, clock):
    fields = {"name": "Shared Wheels", "email": "a@b.org", "keywords": "minibus"}
    with sessions.begin() as s:
        member, changed = save_member(s, parse_profile(fields), clock())
        assert changed
        clock.advance(hours=1)
        _, changed = save_member(
            s, parse_profile({**fields, "description": "New text"}), clock(), member
        )
        assert not changed
        assert member.updated_at == clock.now
        assert member.profile_changed_at < clock.now


def test_a_profile_needs_keywords_or_cpv():
    with pytest.raises(InvalidProfile) as caught:
        parse_profile({"name": "Empty", "email": "a@b.org"})
    assert [e.field for e in caught.value.errors] == ["keywords"]


def test_export_round_trips_through_import(cli_runner, data_dir, tmp_path, sessions):
    result = cli_runner("members", "import", str(data_dir / "members.csv"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "members-out.csv"
    assert cli_runner("members", "export", "--out", str(out)).exit_code == 0
    again = cli_runner("members", "import", str(out))
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 3 unchanged, 0 problems" in again.output


def test_listing_and_website_are_read_and_checked():
    base = {"name": "Green", "email": "a@b.org", "keywords": "grass cutting"}
    plain = parse_profile(base)
    assert plain.listed is False and plain.website is None
    listed = parse_profile({**base, "listed": "true", "website": "www.green.example.org"})
    assert listed.listed is True and listed.website == "https://www.green.example.org"
    for bad in ("javascript:alert(1)", "https://", "not a website", "http://x.org/<script>"):
        with pytest.raises(InvalidProfile) as caught:
            parse_profile({**base, "website": bad})
        assert [e.field for e in caught.value.errors] == ["website"], bad
    with pytest.raises(InvalidProfile) as caught:
        parse_profile({**base, "listed": "perhaps"})
    assert [e.field for e in caught.value.errors] == ["listed"]


def test_a_file_without_the_listing_columns_leaves_the_listing_alone(sessions, clock):
    row = "Green,a@b.org,,grass cutting,,,,,,no,weekly"
    with sessions.begin() as s:
        import_csv(
            s,
            io.StringIO(HEADER.strip() + ",listed,website\n" + row + ",true,green.example.org\n"),
            clock(),
        )
    with sessions.begin() as s:
        result = import_csv(s, io.StringIO(HEADER + row + "\n"), clock())
    assert result.unchanged == 1
    with sessions() as s:
        green = s.scalars(select(Member)).one()
        assert (green.listed, green.website) == (True, "https://green.example.org")
    with sessions.begin() as s:
        import_csv(s, io.StringIO(HEADER.strip() + ",listed\n" + row + ",false\n"), clock())
    with sessions() as s:
        green = s.scalars(select(Member)).one()
        assert (green.listed, green.website) == (False, "https://green.example.org")


def test_the_export_keeps_formulas_text_and_the_import_reads_them_back(sessions, clock):
    row = (
        '"=HYPERLINK(""http://evil.example"")",a@b.org,-1 grass cutting,'
        "@mowing;grass cutting,,,,,,no,weekly"
    )
    with sessions.begin() as s:
        assert import_csv(s, io.StringIO(HEADER + row + "\n"), clock()).created
    with sessions() as s:
        exported = members_csv(s)
        member = s.scalars(select(Member)).one()
        assert member.name == '=HYPERLINK("http://evil.example")'
        assert member.description == "-1 grass cutting"
    cells = next(csv.DictReader(io.StringIO(exported)))
    assert cells["name"] == '\'=HYPERLINK("http://evil.example")'
    assert cells["description"] == "'-1 grass cutting"
    assert cells["keywords"].startswith("'@")
    with sessions.begin() as s:
        again = import_csv(s, io.StringIO(exported), clock())
    assert (again.created, again.updated, again.unchanged, again.errors) == ([], [], 1, [])
