"""`broker import` and `broker harvest`: real files and sources, and clear errors."""

from __future__ import annotations

from sqlalchemy import func, select

from broker.models import HarvestRun, Notice

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
PCS_2026 = "pcs_ocds_notices_2026-09_nt102_trimmed.json"
CF_2022 = "cf_ocds_search_2022-10-20.json"
FTS_2026 = "fts_release_package_2026-09-11_trimmed.json"


def test_import_reads_every_real_file_and_reimporting_creates_nothing(
    cli_runner, data_dir, sessions
):
    paths = [str(data_dir / name) for name in (PCS_2019, PCS_2026, CF_2022, FTS_2026)]
    first = cli_runner("import", *paths)
    assert first.exit_code == 0, first.output
    assert "Done: imported" in first.output
    with sessions() as s:
        stored = s.scalar(select(func.count(Notice.id)))
    # 90 + 3 PCS, 86 Contracts Finder ocids, 2 Find a Tender copies of other PCS notices.
    assert stored == 90 + 3 + 86 + 2
    again = cli_runner("import", *paths)
    assert again.exit_code == 0, again.output
    assert "(0 new notices, 0 rejected)" in again.output
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == stored
        assert s.scalar(select(func.count(HarvestRun.id))) == 8


def test_import_of_a_broken_file_keeps_the_good_records_and_names_the_file(
    cli_runner, data_dir, tmp_path, sessions
):
    text = (data_dir / CF_2022).read_text()
    cut = tmp_path / "cf-cut-short.json"
    cut.write_text(text[: len(text) // 2])
    result = cli_runner("import", str(cut))
    assert result.exit_code == 0, result.output
    assert "cf-cut-short.json" in result.output
    assert "Traceback" not in result.output
    with sessions() as s:
        kept = s.scalar(select(func.count(Notice.id)))
    assert 10 < kept < 86


def test_import_of_a_file_with_nothing_readable_exits_non_zero(cli_runner, tmp_path):
    garbage = tmp_path / "not-json.json"
    garbage.write_text("{ this is not json")
    result = cli_runner("import", str(garbage))
    assert result.exit_code == 1
    assert "not-json.json" in result.output
    assert "Traceback" not in result.output
    missing = cli_runner("import", str(tmp_path / "nowhere.json"))
    assert missing.exit_code == 1
    assert "nowhere.json" in missing.output


def test_harvest_of_an_unknown_source_says_which_exist(cli_runner):
    result = cli_runner("harvest", "pcz")
    assert result.exit_code == 1
    assert "no source called 'pcz'" in result.output
    assert "Traceback" not in result.output


def test_harvest_with_no_network_reports_each_failure_and_exits_non_zero(make_settings):
    from click.testing import CliRunner

    from broker import create_app
    from broker.cli import cli
    from broker.runtime.terminal import Runtime

    settings = make_settings(
        overrides={"http": {"retries": 0, "timeout_seconds": 2.0}},
        sources={
            "pcs": {
                "kind": "pcs",
                "base_url": "http://127.0.0.1:9/v1",
                "notice_types": [102],
                "lookback_months": 0,
                "delay_seconds": 0,
            },
            "contracts_finder": {
                "kind": "contracts_finder",
                "delay_seconds": 0,
                "base_url": "http://127.0.0.1:9/Search",
            },
        },
    )
    app = create_app(settings)
    result = CliRunner().invoke(cli, ["harvest"], obj=Runtime(app=app))
    assert result.exit_code == 1
    assert "pcs: failed" in result.output
    assert "contracts_finder: failed" in result.output
    assert "Traceback" not in result.output
    listing = CliRunner().invoke(cli, ["sources"], obj=Runtime(app=app))
    assert listing.exit_code == 0
    assert "failed" in listing.output and "pcs" in listing.output
    app.extensions["broker.engine"].dispose()


def broken_copy(data_dir, tmp_path, breaks: dict[int, str]):
    """The recorded PCS releases with some broken the way real records break: index ->
    what goes wrong ("no title" or "not an object")."""
    import json

    releases = json.loads((data_dir / PCS_2019).read_text())
    for index, fault in breaks.items():
        if fault == "no title":
            releases[index]["tender"].pop("title")
            releases[index].pop("title", None)
        else:
            releases[index] = "not a release"
    path = tmp_path / "pcs-broken.json"
    path.write_text(json.dumps(releases))
    return path, releases


def test_import_prints_each_rejected_record_with_its_position_id_and_reason(
    cli_runner, data_dir, tmp_path
):
    path, releases = broken_copy(data_dir, tmp_path, {3: "no title", 40: "not an object"})
    result = cli_runner("import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 rejected" in result.output
    lines = result.output.splitlines()
    title = next(line for line in lines if releases[3]["ocid"] in line)
    # Positions count from 1, as a person reads the file.
    assert "pcs-broken.json, release 4 " in title and "no title" in title
    assert any("release 41:" in line and "not an object" in line for line in lines)
    assert "more" not in result.output


def test_after_twenty_rejected_records_only_a_count_is_printed(cli_runner, data_dir, tmp_path):
    path, releases = broken_copy(data_dir, tmp_path, dict.fromkeys(range(0, 50, 2), "no title"))
    result = cli_runner("import", str(path))
    assert result.exit_code == 0, result.output
    printed = [line for line in result.output.splitlines() if "no title" in line]
    assert len(printed) == 20
    assert releases[0]["ocid"] in printed[0] and releases[38]["ocid"] in printed[-1]
    assert "...and 5 more" in result.output


def test_harvest_prints_the_records_a_source_rejected(
    make_settings, data_dir, tmp_path, httpserver
):

    from click.testing import CliRunner

    from broker import create_app
    from broker.cli import cli
    from broker.runtime.terminal import Runtime

    _path, releases = broken_copy(data_dir, tmp_path, {7: "no title"})
    package = {"uri": "x", "publishedDate": "2019-04-30T00:00:00Z", "releases": releases[:10]}
    httpserver.expect_request("/v1/Notices").respond_with_json(package)
    settings = make_settings(
        sources={
            "pcs": {
                "kind": "pcs",
                "base_url": httpserver.url_for("/v1"),
                "notice_types": [102],
                "lookback_months": 0,
                "delay_seconds": 0,
            }
        }
    )
    app = create_app(settings)
    result = CliRunner().invoke(cli, ["harvest", "pcs"], obj=Runtime(app=app))
    app.extensions["broker.engine"].dispose()
    assert "1 rejected" in result.output, result.output
    line = next(line for line in result.output.splitlines() if releases[7]["ocid"] in line)
    assert "release 8 " in line and "no title" in line
