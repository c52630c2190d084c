"""How badges and match reasons read on the pages."""

from __future__ import annotations

from types import SimpleNamespace

from broker.web.filters import badges, reason_item
from matchers import Reason


def test_a_reason_names_its_kind_unless_the_sentence_does():
    assert reason_item({"kind": "cpv", "text": "Grounds maintenance (77314000)"}) == (
        '<li class="reason reason-cpv"><span class="reason-kind">CPV:</span> '
        "Grounds maintenance (77314000)</li>"
    )
    assert reason_item({"kind": "region", "text": "Region: Fife, which they serve"}) == (
        '<li class="reason reason-region">Region: Fife, which they serve</li>'
    )
    assert reason_item({"kind": "manual", "text": "Added by Casey"}) == (
        '<li class="reason reason-manual">Added by Casey</li>'
    )


def test_a_reason_from_a_trial_reads_the_same_and_is_escaped():
    trial = Reason(kind="keyword", text='"cleaning" <b>in the title</b>')
    stored = {"kind": "keyword", "text": '"cleaning" <b>in the title</b>'}
    assert (
        reason_item(trial)
        == reason_item(stored)
        == (
            '<li class="reason reason-keyword"><span class="reason-kind">Keyword:</span> '
            "&#34;cleaning&#34; &lt;b&gt;in the title&lt;/b&gt;</li>"
        )
    )


def test_badges_are_words_in_order():
    notice = SimpleNamespace(reserved=True, vcse=None, community_benefits=True, changed_at=1)
    assert badges(notice) == (
        '<span class="badge badge-reserved">Reserved</span> '
        '<span class="badge">Community benefits</span> '
        '<span class="badge badge-updated">Updated</span>'
    )
    assert badges(SimpleNamespace(reserved=False, vcse=False, community_benefits=False,
                                  changed_at=None)) == ""  # fmt: skip
