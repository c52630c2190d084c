"""`python -m matchers score`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from matchers.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROFILES = [
    {"id": "grounds", "name": "Grounds", "keywords": ["grounds maintenance", "grass cutting"]},
    {"id": "cleaning", "name": "Cleaners", "keywords": ["window cleaning"], "regions": ["UK"]},
]


@pytest.fixture
def files(tmp_path, data_dir):
    profiles = tmp_path / "profiles.json"
    profiles.write_text(json.dumps(PROFILES, indent=1))
    return data_dir / "matchers_eval_sample.jsonl", profiles


def test_score_writes_one_line_per_match(files, tmp_path, capsys):
    notices, profiles = files
    out = tmp_path / "out.jsonl"
    assert (
        main(["score", "--notices", str(notices), "--profiles", str(profiles), "--out", str(out)])
        == 0
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert {"profile", "notice", "score", "reasons"} == set(lines[0])
    pairs = {(x["profile"], x["notice"]) for x in lines}
    assert ("grounds", "ocds-b5fd17-4f47a6f9-70d2-4eee-b111-21939da6d89b") in pairs
    assert ("cleaning", "cf-csv:SWINDON001-DN474923-68971854") in pairs
    assert all(x["score"] >= 40 and x["reasons"][0]["kind"] in {"keyword", "cpv"} for x in lines)


def test_threshold_filters(files, capsys):
    notices, profiles = files
    assert (
        main(
            ["score", "--notices", str(notices), "--profiles", str(profiles), "--threshold", "100"]
        )
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines and all(x["score"] == 100 for x in lines)


@pytest.mark.parametrize(
    ("notices", "profiles", "where"),
    [
        (
            '{"id": 1, "title": "ok", "description": ""}\n{"id": 2, "title": "x"\n',
            None,
            "notices.jsonl:2",
        ),
        (
            '{"id": 1, "title": "ok", "description": ""}\n\n{"id": 3, "description": ""}\n',
            None,
            "notices.jsonl:3: missing 'title'",
        ),
        (
            None,
            '[\n {"id": "a", "keywords": ["x"]},\n {"id": "b", "keywords": []}\n]',
            "profiles.json:3",
        ),
        (None, '[\n {"id": "a", "keywords": ["x"], "regions": ["Narnia"]}\n]', "unknown area"),
        (None, '{"id": "a"}', "profiles.json:1"),
        (None, '[{"id": "a", "keywords": ["x"]},', "profiles.json:1"),
    ],
)
def test_bad_input_exits_2_naming_file_and_line(tmp_path, capsys, notices, profiles, where):
    n = tmp_path / "notices.jsonl"
    p = tmp_path / "profiles.json"
    n.write_text(notices or '{"id": 1, "title": "ok", "description": ""}\n')
    p.write_text(profiles or json.dumps(PROFILES))
    assert main(["score", "--notices", str(n), "--profiles", str(p)]) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err


def test_corpus_statistics_are_counted_once_and_shared(files, tmp_path):
    notices, profiles = files
    corpus = tmp_path / "corpus.json"
    assert main(["corpus", "--notices", str(notices), "--out", str(corpus)]) == 0
    saved = json.loads(corpus.read_text())
    assert saved["docs"] == 10 and saved["df"]["ground"] >= 2
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "score",
                "--notices",
                str(notices),
                "--profiles",
                str(profiles),
                "--corpus",
                str(corpus),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_text().count("\n") >= 2


@pytest.mark.parametrize("content", ["[1, 2]", '{"format": "other"}', "not json"])
def test_bad_corpus_exits_2(files, tmp_path, capsys, content):
    notices, profiles = files
    corpus = tmp_path / "corpus.json"
    corpus.write_text(content)
    assert (
        main(
            [
                "score",
                "--notices",
                str(notices),
                "--profiles",
                str(profiles),
                "--corpus",
                str(corpus),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "corpus.json" in err and "Traceback" not in err


def test_module_entry_point_runs_without_traceback(tmp_path):
    n = tmp_path / "notices.jsonl"
    n.write_text("not json\n")
    p = tmp_path / "profiles.json"
    p.write_text(json.dumps(PROFILES))
    r = subprocess.run(
        [sys.executable, "-m", "matchers", "score", "--notices", str(n), "--profiles", str(p)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert r.returncode == 2
    assert f"{n}:1:" in r.stderr and "Traceback" not in r.stderr


def test_matchers_imports_no_app_code():
    code = (
        "import sys, matchers, matchers.cli; "
        "assert not {'flask', 'sqlalchemy', 'broker', 'feeds'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
