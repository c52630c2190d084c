"""clean_text and mentions_community_benefits on real notice text."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.text import (
    clean_text,
    distinct_places,
    mentions_community_benefits,
    repair_mojibake,
    restore_line_breaks,
)


def mojibake(text: str) -> str:
    """What a cp1252 reader makes of UTF-8 text, the fault seen on Contracts Finder."""
    return text.encode("utf-8").decode("cp1252")


@pytest.mark.parametrize("index", [1, 2, 4, 53, 54, 68, 75])
def test_clean_text_repairs_mojibake_of_real_contracts_finder_text(recorded, index):
    # The 2022 page itself is clean; its £, €, • and quotes are broken here the way the
    # 2025 pages arrive.
    original = recorded.releases(recorded.CF_2022)[index]["tender"]["description"]
    broken = mojibake(original)
    assert broken != original
    assert clean_text(broken) == clean_text(original)


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [
        ("Â£217.7 billion", "£217.7 billion"),
        ("NHS Lanarkshireâ€\u2122s healthcare estate", "NHS Lanarkshire\u2019s healthcare estate"),
        ("â€¢\tOutputs calculated", "• Outputs calculated"),
        ("approx.â€¯15 hectares", "approx. 15 hectares"),  # narrow no-break space
    ],
)
def test_clean_text_repairs_the_mojibake_named_in_sources(broken, repaired):
    assert clean_text(broken) == repaired


def test_clean_text_leaves_correct_accents_and_symbols_alone(recorded):
    countries = [
        a.get("countryName")
        for a in recorded.releases(recorded.CF_2022)[11]["tender"]["items"][0]["deliveryAddresses"]
    ]
    for name in ("Curaçao", "Saint Barthélemy"):
        assert name in countries
        assert clean_text(name) == name
    for text in ("café", "£1,655,000", "€750 million", "naïve", "Œuvre", "20\u201330%"):
        assert repair_mojibake(text) == text


def test_clean_text_turns_pcs_line_breaks_into_plain_newlines(recorded):
    description = recorded.releases(recorded.PCS_2026)[0]["tender"]["description"]
    assert "\r\n " in description
    cleaned = clean_text(description)
    assert "\r" not in cleaned
    assert "\n " not in cleaned
    assert cleaned.startswith("The Scottish Seabird Centre (SSC) seeks")
    assert "installation.\nThe procurement is divided" in cleaned


def test_clean_text_collapses_blank_lines_and_spaces(recorded):
    description = recorded.releases(recorded.CF_2022)[25]["tender"]["description"]
    cleaned = clean_text(description + "\r\n\r\n\r\n\r\n   tail  end  ")
    assert "\n\n\n" not in cleaned
    assert "  " not in cleaned
    assert cleaned.endswith("tail end")


def test_clean_text_strips_markup_only_when_there_is_markup(recorded):
    title = recorded.releases(recorded.PCS_2026)[0]["tender"]["title"]
    assert clean_text(f"<p>{title}</p><ul><li>Lot 1</li><li>Lot&nbsp;2</li></ul>") == (
        f"{title}\nLot 1\nLot 2"
    )
    assert clean_text("Line one<br/>line two &amp; three") == "Line one\nline two & three"
    # Comparisons are not tags.
    assert clean_text("values < GBP 5,000 and > GBP 50") == "values < GBP 5,000 and > GBP 50"


def test_clean_text_handles_empty_values():
    assert clean_text(None) == ""
    assert clean_text("") == ""
    assert clean_text("  \r\n\t ") == ""


def release_texts(release: dict) -> list[str]:
    tender = release["tender"]
    return [
        release.get("description"),
        tender.get("description"),
        *(lot.get("description") for lot in tender.get("lots", [])),
    ]


def test_community_benefits_pcs_positive_statement_counts_despite_subcontract_boilerplate(
    recorded,
):
    release = recorded.releases(recorded.PCS_2019)[45]
    assert "does not intend to include a sub-contract clause" in release["description"]
    assert mentions_community_benefits(*release_texts(release))


@pytest.mark.parametrize("index", [36, 50, 72, 88])
def test_community_benefits_pcs_refusal_is_not_a_mention(recorded, index):
    release = recorded.releases(recorded.PCS_2019)[index]
    assert "does not intend to include any community benefit" in release["description"]
    assert not mentions_community_benefits(*release_texts(release))


def test_community_benefits_subcontract_boilerplate_alone_is_not_a_mention():
    assert not mentions_community_benefits(
        "The Contracting Authority does not intend to include a sub-contract clause as part "
        "of community benefits (as per Section 25 of the Procurement Reform (Scotland) Act "
        "2014) in this contract for the following reason:\nN/A"
    )


def test_community_benefits_counted_across_the_2019_pcs_sample(recorded):
    found = [
        i
        for i, release in enumerate(recorded.releases(recorded.PCS_2019))
        if mentions_community_benefits(*release_texts(release))
    ]
    # 48 of the 90 mention community benefits; 4 of those decline them.
    assert len(found) == 44
    assert 89 not in found  # "community lifestyles" is not a benefit


def test_community_benefits_in_find_a_tender_copies(recorded):
    first, second = recorded.releases(recorded.FTS_2026)
    assert not mentions_community_benefits(*release_texts(first))
    assert mentions_community_benefits(*release_texts(second))


def test_clean_text_replaces_lone_surrogates():
    assert clean_text("Caf\udce9 ok") == "Caf\ufffd ok"


@pytest.mark.parametrize(
    "markup",
    ["<p>a</p><![OCTYPE x> <b>b</b>", "<p>a</p><![\x00OC <i>b</i>"],
)
def test_clean_text_survives_markup_html_parser_refuses(markup):
    text = clean_text(markup)
    assert text.startswith("a") and text.endswith("b")


# --- line breaks that reached us as a literal "rn" ----------------------------------------


def pcs_2019_descriptions(recorded) -> list[str]:
    """Every tender and lot description of the 90 recorded PCS releases, as sent."""
    texts = []
    for release in recorded.releases(recorded.PCS_2019):
        tender = release.get("tender") or {}
        texts.append(tender.get("description") or "")
        texts.extend(lot.get("description") or "" for lot in tender.get("lots") or [])
    return [t for t in texts if t]


def test_a_lost_line_break_after_punctuation_is_restored_in_the_real_pcs_text(recorded):
    texts = pcs_2019_descriptions(recorded)
    sent = "\n".join(texts)
    assert sent.count(";rn ") == 5 and sent.count(".rn ") == 263 and sent.count(":rn ") == 61
    cleaned = "\n".join(clean_text(t) for t in texts)
    # After a full stop, colon, semicolon, comma or bracket no "rn" is left...
    leftovers = re.findall(r"[.:;,)]rn(?![a-z])", cleaned)
    assert leftovers == []
    # ...and what followed it starts a line of its own.
    assert "be limited to;\nThe removal & safe disposal" in cleaned
    assert "the following:\nHVAC\nCatering and" in cleaned  # after a capital too
    assert "Contractor who will:\nProvide strategic" in cleaned
    assert "Project Code - 12698\nPQQ Code - 414" in cleaned  # after a number
    assert "Council for Lot 2\nTree works" in cleaned
    assert "SSSI/SAC/SPA\nIsle of Islay" in cleaned  # after a capital


def test_words_with_rn_in_them_are_never_split(recorded):
    texts = pcs_2019_descriptions(recorded)
    cleaned = "\n".join(clean_text(t) for t in texts)
    # Every word with "rn" after a small letter ("return", "Springburn", "Northern") is
    # kept, as many times as it was sent.
    words = re.compile(r"\b[A-Za-z]*[a-z]rn[a-z]*\b")
    sent = Counter(w for t in texts for w in words.findall(t))
    assert {"return", "Springburn", "Northern", "Western", "internal"} <= set(sent)
    assert Counter(words.findall(cleaned)) == sent
    # A break after a plain word can't be told from a word ending in "rn": left as sent.
    assert "9 small vesselsrn Loch Linnhern" in cleaned
    for text in (
        "Modern apprenticeships; return visits to Fernhill.",
        "Fernhill, Rutherglen: internal and external works",
        "The pattern is a concern.rnThe turn of the stern",
    ):
        restored = clean_text(text)
        for word in re.findall(r"\w*rn\w*", text.replace(".rnThe", ". The")):
            assert word in restored
    assert clean_text("a concern.rnThe turn") == "a concern.\nThe turn"


@pytest.mark.parametrize(
    ("sent", "restored"),
    [
        (
            "the following services;rn Cutting of all grass verges",
            "the following services;\nCutting of all grass verges",
        ),
        ("Lot 1 - Edinburgh.rnrn Lot 2 - Glasgow", "Lot 1 - Edinburgh.\n\nLot 2 - Glasgow"),
        ("rn Self-catered Halls", "Self-catered Halls"),
        ("Price 40%rn The Award criteria", "Price 40%\nThe Award criteria"),
        ("see https://example.org/rn/notices", "see https://example.org/rn/notices"),
        # Words with "rn" before a lost break don't hide it, nor it them.
        (
            "Northern and Western areas.rn Lot 2 - Fernhill",
            "Northern and Western areas.\nLot 2 - Fernhill",
        ),
        ("the ESPDrn The bidder", "the ESPD\nThe bidder"),
        ("tenders\u00a0rn\tReturn by noon", "tenders\nReturn by noon"),
    ],
)
def test_lost_line_breaks_and_what_is_left_alone(sent, restored):
    assert clean_text(sent) == restored


# The rule as one regex: after punctuation, a digit, a capital, a space or nothing, and
# before anything but a small letter. The code walks the "rn"s instead, being faster.
LOST_BREAK_RULE = re.compile(
    r"(?:(?<=[.,;:!?)\]}'\"\u2019\u201d%+*\-\u2013\u20140-9A-Z])|(?<!\S))(?:rn)+(?![a-z])"
)


@settings(max_examples=2000, derandomize=True)
@given(st.text(alphabet="rnrnrnaeZ5.;- \n\u00e9\u2019", max_size=24))
def test_lost_line_breaks_follow_the_rule_everywhere(text):
    by_rule = LOST_BREAK_RULE.sub(lambda m: "\n" * (len(m.group()) // 2), text)
    assert restore_line_breaks(text) == by_rule


# --- places ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("places", "distinct"),
    [
        (
            ["Denbighshire County Council area", "Denbighshire County Council area."],
            ["Denbighshire County Council area"],
        ),
        (
            ["Throughout Highland Council area.", "Throughout the Highland Council area."],
            ["Throughout Highland Council area."],
        ),
        (
            [
                "Robert Gordon University, Garthdee Campus, Aberdeen",
                "Robert Gordon University, Garthdee Campus",
            ],
            ["Robert Gordon University, Garthdee Campus, Aberdeen"],
        ),
        # Different places stay, even when one name starts another.
        (["North East", "North East Lincolnshire"], ["North East", "North East Lincolnshire"]),
        (["Cowal", "Bute", "West Argyll"], ["Cowal", "Bute", "West Argyll"]),
    ],
)
def test_each_place_is_listed_once(places, distinct):
    assert distinct_places(places) == distinct


def test_real_pcs_notices_list_each_place_once(recorded):
    from feeds.ocds import notice_from_release

    places = [notice_from_release(r).place for r in recorded.releases(recorded.PCS_2026)] + [
        notice_from_release(r).place for r in recorded.releases(recorded.PCS_2019)
    ]
    assert "Scottish Seabird Centre, The Harbour, North Berwick, EH39 4SS" in places
    assert not any("The Scottish Seabird Centre" in (p or "") for p in places)
    assert "Robert Gordon University, Garthdee Campus, Aberdeen" in places
    highland = next(p for p in places if p and "Highland Council area" in p)
    assert highland.endswith("Sutherland Area; Throughout Highland Council area.")
