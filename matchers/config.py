"""Tunable weights and thresholds, with the documented defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Every knob of the engine; the broker fills these from `[matching]` in config.toml."""

    # Scores are 0..100; a pair at or above this is worth an e-mail.
    notify_threshold: int = 40
    # Where a keyword is found: a title hit counts in full, a description hit less.
    title_weight: float = 1.0
    description_weight: float = 0.5
    lot_title_weight: float = 0.9
    lot_description_weight: float = 0.5
    # How much each kind of evidence can contribute (0..1) before they are combined.
    keyword_weight: float = 1.0
    cpv_weight: float = 1.0
    # Keyword evidence that none of the notice's own CPV codes backs up counts this much;
    # where the keyword reaches CPV codes itself, the notice's codes contradict it, and it
    # counts less: a title match scores 30, kept for triage but never worth an e-mail.
    unbacked_keyword_factor: float = 0.5
    contradicted_keyword_factor: float = 0.3
    # Extra credit for a second, third... matching keyword, capped at this much.
    extra_keyword_weight: float = 0.3
    extra_keyword_cap: float = 0.15
    # Keyword evidence weaker than this (a stray common word) is ignored altogether.
    min_keyword_evidence: float = 0.2
    # A keyword word this common (IDF below it) counts only in proportion.
    specific_idf: float = 3.5
    # Fraction of a phrase (by IDF weight) that must be present to count at all.
    min_phrase_coverage: float = 0.5
    # Words of a phrase scattered further apart than the phrase length plus this.
    phrase_window_slack: int = 3
    scattered_phrase_factor: float = 0.75
    # A word in at least this share of the CPV labels ("services", "equipment") or of the
    # notices ("support", "supply") is generic: alone, it never makes a match.
    generic_label_share: float = 0.02
    generic_notice_share: float = 0.1
    # Fuzzy word matching: edits allowed by word length (none below fuzzy_min_length).
    fuzzy_min_length: int = 6
    fuzzy_two_edits_length: int = 10
    fuzzy_similarity: float = 0.9
    # An exclusion found at least this strongly (as a keyword would score) vetoes the match.
    exclude_min_evidence: float = 0.45
    # Keyword -> CPV through the official labels: minimum label similarity kept.
    label_min_strength: float = 0.45
    # Labels for goods count this much of a service label (members mostly sell services).
    cpv_supplies_factor: float = 0.4
    # CPV hierarchy: decay per step when the notice code is narrower / broader or sideways.
    cpv_narrower_decay: float = 0.9
    cpv_broader_decay: float = 0.7
    cpv_min_common_digits: int = 3
    cpv_max_steps: int = 4
    # Place: factor when every notice region is outside the member's areas, or broader.
    region_outside_factor: float = 0.3
    region_broader_factor: float = 0.85
    # Size: factor lost per tenfold a value lies outside the member's range, and its floor.
    value_penalty_per_decade: float = 0.35
    value_floor: float = 0.4
    # Reserved contracts: multiplier for supported businesses.
    reserved_boost: float = 1.25
    # Feedback: full effect after this many answers with the same reason.
    feedback_saturation: int = 4
    too_big_penalty: float = 0.4
    too_far_penalty: float = 0.4
    timescale_penalty: float = 0.25
    timescale_short_days: int = 21
    accreditation_penalty: float = 0.2
    # Batches of at least parallel_min_notices are split over this many processes
    # (0: one per CPU; 1: never). Only a single-threaded process forks; results are
    # the same either way.
    workers: int = 0
    parallel_min_notices: int = 10_000
