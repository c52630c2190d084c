"""The CPV vocabulary and its hierarchy."""

import pytest

from matchers import cpv_label
from matchers.cpv import lineage, normalise_code, relation


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("77314000", "Grounds maintenance services"),
        ("77314000-4", "Grounds maintenance services"),
        ("773", "Horticultural services"),
        ("12345678", None),
        ("nonsense", None),
    ],
)
def test_cpv_label(code, label):
    assert cpv_label(code) == label


def test_lineage_skips_missing_levels_and_keeps_unknown_codes():
    assert lineage("45112710") == (
        "45112710",
        "45112700",
        "45112000",
        "45110000",
        "45100000",
        "45000000",
    )
    # 99999999 is not a 2008 code: it still hangs from its division.
    assert lineage("99999999") == ("99999999", "99000000")


def test_relation_counts_steps_to_the_common_ancestor():
    assert relation("77313000", "77314000") == (1, 1, "77310000")
    assert relation("77314000", "77310000") == (1, 0, "77310000")


def test_normalise_code_rejects_junk():
    with pytest.raises(ValueError):
        normalise_code("77-31")
