"""Normalisation and stemming."""

import pytest

from matchers.text import content_words, fold, terms


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("cleaning", "cleaners"),
        ("cleaning", "cleaned"),
        ("grounds", "ground"),
        ("decorating", "decoration"),
        ("recycling", "recycled"),
        ("minibus", "minibuses"),
        ("catering", "caterers"),
        ("landscaping", "landscape"),
        ("collection", "collecting"),
        ("printing", "printers"),
        ("horticulture", "horticultural"),
        ("agriculture", "agricultural"),
        ("architecture", "architectural"),
    ],
)
def test_word_forms_share_a_stem(a, b):
    assert terms(a) == terms(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("employability", "employment"),
        ("employability", "employers"),
        ("arts", "parts"),
        ("printing", "painting"),
    ],
)
def test_different_words_keep_different_stems(a, b):
    assert terms(a) != terms(b)


def test_fold_handles_case_accents_and_apostrophes():
    assert fold("Café BUILDER'S Løveserien") == "cafe builders lveserien"


def test_hyphens_split_and_stop_words_drop():
    assert content_words("Grass-cutting of the Grounds & Dial-a-Ride") == [
        "grass",
        "cutting",
        "grounds",
        "dial",
        "ride",
    ]
