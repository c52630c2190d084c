"""clean_text and mentions_community_benefits on real notice text."""

from __future__ import annotations

import pytest

from feeds.text import clean_text, mentions_community_benefits, repair_mojibake


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
