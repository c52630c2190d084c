"""JSON records to dataclasses, and the errors for bad ones."""

import pytest

from matchers import Lot, NoticeError, ProfileError, notice_from_json, profile_from_json


def test_notice_from_export_schema():
    n = notice_from_json(
        {
            "id": 7,
            "title": "T",
            "description": "D",
            "cpv": ["77314000-4"],
            "regions": ["UKM82"],
            "value": {"amount": 1500.0, "currency": "GBP"},
            "reserved": True,
            "extra": "ignored",
            "lots": [{"title": "L", "description": "", "cpv": ["77310000"], "value": None}],
            "sources": [{"source": "pcs", "source_id": "1", "url": None}],
        }
    )
    assert (n.id, n.cpv, n.value, n.reserved) == (7, ("77314000",), 1500.0, True)
    assert n.lots == (Lot("L", "", ("77310000",), None),)


def test_notice_value_may_be_a_bare_number():
    assert notice_from_json({"id": "a", "title": "T", "description": "", "value": 12}).value == 12


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "T", "description": ""}, "id"),
        ({"id": 1, "description": ""}, "missing 'title'"),
        ({"id": 1, "title": "T"}, "missing 'description'"),
        ({"id": 1, "title": "T", "description": "", "cpv": ["abc"]}, "not a CPV code"),
        ({"id": 1, "title": "T", "description": "", "value": "lots"}, "value"),
        ({"id": True, "title": "T", "description": ""}, "id"),
        ([], "object"),
    ],
)
def test_bad_notice(record, message):
    with pytest.raises(NoticeError, match=message):
        notice_from_json(record)


def test_profile_from_json():
    p = profile_from_json(
        {
            "id": 3,
            "name": "N",
            "keywords": ["a b"],
            "regions": ["Fife"],
            "min_value": 0,
            "max_value": 10,
            "supported_business": True,
            "feedback": {"too_far": 2},
        }
    )
    assert (p.id, p.regions, p.feedback) == ("3", ("Fife",), {"too_far": 2})


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "x"}, "keywords or CPV"),
        ({"id": "x", "keywords": "cleaning"}, "list of strings"),
        ({"id": "x", "keywords": ["a"], "regions": ["Narnia"]}, "unknown area"),
        ({"id": "x", "keywords": ["a"], "min_value": 5, "max_value": 1}, "min_value"),
        ({"id": "x", "keywords": ["a"], "feedback": {"bored": 1}}, "feedback"),
        ({"id": "x", "keywords": ["a"], "cpv": ["7"]}, "CPV"),
    ],
)
def test_bad_profile(record, message):
    with pytest.raises(ProfileError, match=message):
        profile_from_json(record)
