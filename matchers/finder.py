"""Keyword phrases found in notice text, for a whole batch of notices at once.

Per field (a title, a description, a lot's title or description) and phrase:

- coverage is the IDF-weighted share of the phrase present, a typo counting a
  little less; under `min_phrase_coverage` the phrase is not there at all;
- the words must sit close together, in any order ("maintenance of grounds"):
  found further apart than the phrase length plus `phrase_window_slack` (in the
  tightest window anchored on the rarest word's first occurrences), the coverage
  counts `scattered_phrase_factor` less;
- strength is coverage squared (half a phrase is a weak hint), scaled down when
  the phrase is made only of common words (IDF sum below `specific_idf`), times
  the field's weight. The best field counts.

Every step runs on flat arrays: tokens -> (field, stem) groups -> candidate
readings opened by a heavy stem -> coverage -> proximity -> best per phrase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import INDEX, distinct, first_max, first_min, group_starts, owners, ragged
from .config import MatchConfig
from .index import MASK_BITS, MASK_WORDS, KeywordIndex
from .types import Notice
from .vocab import Vocabulary

KINDS = ("title", "description", "lot title", "lot description")
_BIG = np.int64(1) << np.int64(32)  # positions are below this in any real field
_ANCHORS = 8  # occurrences of the rarest word tried as the window's anchor


@dataclass(slots=True)
class Fields:
    """The texts of a batch, one per field, with where each comes from."""

    notice: np.ndarray  # batch position of the field's notice
    kind: np.ndarray  # index into KINDS
    lot: np.ndarray  # 0 for the notice itself, 1.. for its lots
    weight: np.ndarray
    texts: list[str]


def fields_of(notices: Sequence[Notice], config: MatchConfig) -> Fields:
    """Title, description, then each lot's title and description, notice by notice."""
    weights = (
        config.title_weight,
        config.description_weight,
        config.lot_title_weight,
        config.lot_description_weight,
    )
    texts: list[str] = []
    notice: list[int] = []
    kind: list[int] = []
    lot: list[int] = []
    for i, n in enumerate(notices):
        texts.append(n.title)
        texts.append(n.description)
        if n.lots:
            notice += [i] * (2 + 2 * len(n.lots))
            kind += [0, 1] + [2, 3] * len(n.lots)
            lot += [0, 0] + [j for j in range(1, len(n.lots) + 1) for _ in (0, 1)]
            for x in n.lots:
                texts.append(x.title)
                texts.append(x.description)
        else:
            notice += [i, i]
            kind += [0, 1]
            lot += [0, 0]
    kinds = np.array(kind, INDEX)
    return Fields(
        np.array(notice, INDEX),
        kinds,
        np.array(lot, INDEX),
        np.array(weights, np.float64)[kinds],
        texts,
    )


@dataclass(slots=True)
class Found:
    """The best field per (notice, phrase) holding it, sorted by notice then phrase."""

    notice: np.ndarray
    phrase: np.ndarray
    strength: np.ndarray
    field: np.ndarray  # index into the batch's Fields
    # With detail only: the notice words found, per row.
    words: list[tuple[str, ...]] | None = None


def _empty() -> Found:
    z = np.zeros(0, INDEX)
    return Found(z, z, np.zeros(0, np.float64), z, [])


def find(
    fields: Fields,
    vocab: Vocabulary,
    index: KeywordIndex,
    config: MatchConfig,
    detail: bool = False,
) -> Found:
    """Every live phrase present in the batch's fields, at its best field."""
    c = config
    if not fields.texts:
        return _empty()
    ids = vocab.tokenise(fields.texts)
    stop, hit, exp_start, exp_count, exp_stem, exp_sim = vocab.arrays()

    # Tokens -> (field, content position) of each word standing for a keyword stem.
    sep = ids == 0
    fidx = np.cumsum(sep)
    content = ~stop[ids]
    cc = np.cumsum(content)
    base = np.concatenate(([0], cc[sep]))
    tok = np.flatnonzero(hit[ids])
    t_field = fidx[tok]
    t_pos = cc[tok] - 1 - base[t_field]
    t_word = ids[tok]

    # Each such word -> the stems it stands for, with similarity.
    n_exp = exp_count[t_word]
    rows = ragged(exp_start[t_word], n_exp)
    e_field = np.repeat(t_field, n_exp)
    e_pos = np.repeat(t_pos, n_exp)
    e_stem = exp_stem[rows].astype(INDEX)
    e_sim = exp_sim[rows]
    if len(e_stem) and e_stem.max() >= index.n_stems:
        # Stems registered after this index was built belong to phrases it doesn't hold.
        keep = e_stem < index.n_stems
        e_field, e_pos, e_stem, e_sim = e_field[keep], e_pos[keep], e_stem[keep], e_sim[keep]
    if len(e_stem) == 0:
        return _empty()

    # (field, stem) groups, occurrences in position order within each.
    ns = np.int64(max(index.n_stems, 1))
    key = e_field * ns + e_stem
    order = np.argsort(key, kind="stable")
    key = key[order]
    occ_pos = e_pos[order]
    occ_sim = e_sim[order]
    g_start = group_starts(key)
    g_key = key[g_start]
    g_count = np.diff(np.append(g_start, len(key)))
    g_field = g_key // ns
    g_stem = g_key % ns
    g_sim = np.maximum.reduceat(occ_sim, g_start)

    # Candidate (field, reading) pairs: readings opened by a stem of the field.
    slot = index.kind_level[fields.kind[g_field]] * ns + g_stem
    n_open = index.open_count[slot]
    post = ragged(index.open_start[slot], n_open)
    p_field = np.repeat(g_field, n_open)
    # A stem that cannot carry the reading alone opens it only if the field seems to
    # hold another of its words (hashed bits: never a miss, sometimes a false alarm).
    alive = index.open_alone[post]
    test = np.flatnonzero(~alive)
    if len(test):
        x_field = p_field[test]
        x_post = post[test]
        bit = g_stem % MASK_BITS
        word = bit >> 6
        bits = np.left_shift(np.uint64(1), (bit & 63).astype(np.uint64))
        starts = group_starts(g_field)
        owner = g_field[starts]
        seen = np.zeros(len(test), bool)
        for w in range(MASK_WORDS):
            held = np.zeros(len(fields.texts), np.uint64)
            held[owner] = np.bitwise_or.reduceat(np.where(word == w, bits, np.uint64(0)), starts)
            seen |= (held[x_field] & index.open_others[w][x_post]) != 0
        alive[test[seen]] = True
    nr = np.int64(max(index.n_readings, 1))
    cand = distinct(p_field[alive] * nr + index.open_read[post[alive]])
    if len(cand) == 0:
        return _empty()
    c_field = cand // nr
    c_read = cand % nr

    # Coverage, weight and words found, token by token of each candidate reading.
    n_tok = index.rd_len[c_read]
    trow = ragged(index.rd_start[c_read], n_tok)
    t_cand = owners(n_tok)
    look = np.repeat(c_field, n_tok) * ns + index.tk_stem[trow]
    gi = np.minimum(np.searchsorted(g_key, look), len(g_key) - 1)
    found = g_key[gi] == look
    n_cand = len(cand)
    share = np.where(found, index.tk_share[trow] * g_sim[gi], 0.0)
    coverage = np.bincount(t_cand, weights=share, minlength=n_cand)
    weight = np.bincount(
        t_cand, weights=np.where(found, index.tk_weight[trow], 0.0), minlength=n_cand
    )
    n_found = np.bincount(t_cand, weights=found, minlength=n_cand).astype(INDEX)
    # Under its field's need, a reading can't reach min_keyword_evidence: skip it now.
    kept = (coverage >= c.min_phrase_coverage) & (coverage >= index.needs[fields.kind[c_field]])

    # Proximity for kept readings with two or more words found.
    multi = kept & (n_found >= 2)
    sel = found & multi[t_cand]
    f_cand = t_cand[sel]
    f_group = gi[sel]
    positions: dict[int, np.ndarray] = {}
    if len(f_cand):
        span, chosen = _spans(f_cand, f_group, g_start, g_count, occ_pos, detail)
        runs = f_cand[group_starts(f_cand)]
        limit = index.rd_len[c_read[runs]] - 1 + c.phrase_window_slack
        scattered = runs[span > limit]
        coverage[scattered] *= c.scattered_phrase_factor
        if detail:
            positions = dict(zip(runs.tolist(), chosen, strict=True))

    value = coverage * coverage * np.minimum(1.0, weight / c.specific_idf)
    good = np.flatnonzero(kept & (value > 0.0))
    if len(good) == 0:
        return _empty()

    # Best reading per (field, phrase): readings of a phrase are contiguous, in order.
    k_field = c_field[good]
    k_phrase = index.rd_phrase[c_read[good]]
    n_phrases = np.int64(index.n_phrases)
    fp = k_field * n_phrases + k_phrase
    starts = group_starts(fp)
    best, at = first_max(value[good], starts)
    strength = best * fields.weight[k_field[at]]
    ok = strength >= c.min_keyword_evidence
    b_cand = good[at][ok]
    b_field = k_field[at][ok]
    b_phrase = k_phrase[at][ok]
    strength = strength[ok]
    if len(strength) == 0:
        return _empty()

    # Best field per (notice, phrase): the first field among equals.
    b_notice = fields.notice[b_field]
    order = np.lexsort((b_field, b_phrase, b_notice))
    b_notice, b_phrase, b_field, b_cand = (
        b_notice[order],
        b_phrase[order],
        b_field[order],
        b_cand[order],
    )
    strength = strength[order]
    np_key = b_notice * n_phrases + b_phrase
    starts = group_starts(np_key)
    top, at = first_max(strength, starts)
    out = Found(b_notice[at], b_phrase[at], top, b_field[at])
    if detail:
        out.words = _words(
            ids,
            fidx,
            content,
            b_cand[at],
            c_field,
            t_cand,
            found,
            gi,
            g_start,
            g_count,
            occ_pos,
            occ_sim,
            positions,
            vocab,
        )
    return out


def _spans(
    f_cand: np.ndarray,
    f_group: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
    occ_pos: np.ndarray,
    detail: bool,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per candidate (rows sorted by it): the tightest window holding every word found.

    Each of the first occurrences of the rarest word is tried as an anchor, taking
    for every word its occurrence nearest the anchor (the earlier one on a tie).
    """
    run_start = group_starts(f_cand)
    run_len = np.diff(np.append(run_start, len(f_cand)))
    _, anchor = first_min(g_count[f_group], run_start)
    a_group = f_group[anchor]
    a_n = np.minimum(_ANCHORS, g_count[a_group])
    a_pos = occ_pos[ragged(g_start[a_group], a_n)]
    a_run = owners(a_n)
    # Every (anchor occurrence, word) pair.
    rows = ragged(run_start[a_run], run_len[a_run])
    r_anchor = owners(run_len[a_run])
    p = a_pos[r_anchor]
    g = f_group[rows]
    lo = g_start[g]
    hi = lo + g_count[g]
    occ_group = owners(g_count)
    at = np.searchsorted(occ_group * _BIG + occ_pos, g * _BIG + p)
    left = np.maximum(at - 1, 0)
    right = np.minimum(at, len(occ_pos) - 1)
    far = np.int64(1) << np.int64(40)
    d_left = np.where(at - 1 >= lo, p - occ_pos[left], far)
    d_right = np.where(at < hi, occ_pos[right] - p, far)
    q = np.where(d_left <= d_right, occ_pos[left], occ_pos[right])
    w_start = group_starts(r_anchor)
    span = np.maximum.reduceat(q, w_start) - np.minimum.reduceat(q, w_start)
    best, which = first_min(span, group_starts(a_run))
    chosen: list[np.ndarray] = []
    if detail:
        ends = np.append(w_start[1:], len(q))
        chosen = [q[w_start[a] : ends[a]] for a in which]
    return best, chosen


def _words(
    ids: np.ndarray,
    fidx: np.ndarray,
    content: np.ndarray,
    cands: np.ndarray,
    c_field: np.ndarray,
    t_cand: np.ndarray,
    found: np.ndarray,
    gi: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
    occ_pos: np.ndarray,
    occ_sim: np.ndarray,
    positions: dict[int, np.ndarray],
    vocab: Vocabulary,
) -> list[tuple[str, ...]]:
    """The notice words behind each chosen candidate, in text order (explanations only)."""
    words = vocab.words
    content_ids = ids[content]
    field_start = np.searchsorted(fidx[content], np.arange(int(c_field.max()) + 1))
    lo_rows = np.searchsorted(t_cand, cands, side="left")
    hi_rows = np.searchsorted(t_cand, cands, side="right")
    out = []
    for cand, lo_row, hi_row in zip(
        cands.tolist(), lo_rows.tolist(), hi_rows.tolist(), strict=True
    ):
        pos = positions.get(cand)
        if pos is None:
            # One word found: its occurrence with the best similarity (the first of equals).
            row = lo_row + int(np.flatnonzero(found[lo_row:hi_row])[0])
            g = gi[row]
            lo = g_start[g]
            pos = occ_pos[lo + int(np.argmax(occ_sim[lo : lo + g_count[g]]))][None]
        first = field_start[c_field[cand]]
        out.append(tuple(words[content_ids[first + p]] for p in sorted(set(pos.tolist()))))
    return out
