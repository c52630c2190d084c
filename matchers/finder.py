"""Keyword phrases found in notice text, for a whole batch of notices at once.

Per field (a title, a description, a lot's title or description) and phrase:

- coverage is the IDF-weighted share of the phrase present, a typo counting a
  little less; under `min_phrase_coverage` the phrase is not there at all;
- the phrase's distinguishing words must be there: every acronym, and a word that
  is not generic (only generic words: all of them); a phrase whose words a function
  word binds ("care at home") needs every word;
- the words must sit close together: found further apart than the phrase length
  plus `phrase_window_slack` (in the tightest window anchored on the rarest word's
  first occurrences), the coverage counts `scattered_phrase_factor` less;
- word order counts only where a function word says so. "grounds maintenance" is
  found as "maintenance of grounds", but not where a function word comes between
  its words in its own order ("adults with learning disabilities" is not "adult
  learning"); "care at home" is found as "care (and support) at home" or as the
  compound "home care", never as "care home";
- strength is coverage squared (half a phrase is a weak hint), scaled down when
  the phrase is made only of common words (IDF sum below `specific_idf`), times
  the field's weight. The best field counts.

Every step runs on flat arrays: tokens -> (field, stem) groups -> candidate
readings opened by a distinguishing stem -> coverage and needs -> proximity and
word order -> best per phrase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import INDEX, distinct, first_max, first_min, group_starts, owners, ragged
from .config import MatchConfig
from .index import MASK_BITS, MASK_WORDS, KeywordIndex
from .keywords import COMPOUND
from .text import FREE
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
    # With detail only: the notice words found, row by row (rows word_start[i] to
    # word_start[i + 1] of `shown`: 2 * word id for a folded word, 2 * token id + 1 for
    # an acronym as written, in text order), and a mask of the keyword's words missing.
    word_start: np.ndarray | None = None
    shown: np.ndarray | None = None
    missing: np.ndarray | None = None

    def part(self, lo: int, hi: int) -> Found:
        """The rows of notices lo..hi, numbered from lo (without detail)."""
        a, b = np.searchsorted(self.notice, [lo, hi])
        return Found(self.notice[a:b] - lo, self.phrase[a:b], self.strength[a:b], self.field[a:b])

    def words(self, i: int, vocab: Vocabulary) -> tuple[str, ...]:
        """The notice words behind row i (detail only)."""
        assert self.word_start is not None and self.shown is not None
        out = []
        for x in self.shown[self.word_start[i] : self.word_start[i + 1]].tolist():
            out.append(vocab.tokens[x >> 1] if x & 1 else vocab.words[x >> 1])
        return tuple(out)


def _empty() -> Found:
    z = np.zeros(0, INDEX)
    return Found(z, z, np.zeros(0, np.float64), z, np.zeros(1, INDEX), z, z)


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
    tids = vocab.tokenise(fields.texts)
    a = vocab.arrays()
    ids = a.fold[tids]
    acro = a.acronym[tids]

    # Tokens -> (field, content position) of each word standing for a keyword stem.
    sep = ids == 0
    fidx = np.cumsum(sep)
    content = a.content[tids]
    cc = np.cumsum(content)
    base = np.concatenate(([0], cc[sep]))
    tok = np.flatnonzero(a.hit[ids] | (acro >= 0))
    t_field = fidx[tok]
    t_pos = cc[tok] - 1 - base[t_field]
    t_word = ids[tok]
    # What binds each such word to the content word before it: -1 nothing at all, FREE
    # only words that bind nothing ("and", "the"), else the last relation ("at"); and
    # how many relations come before it in the batch (a difference counts those between).
    # Looked up by position among the relations and the content words (fewer than tokens).
    other = np.flatnonzero(~content)
    binds = a.relation[ids[other]]
    rel_at = other[binds > FREE]
    rel_kind = binds[binds > FREE]
    con_at = np.flatnonzero(content | sep)
    t_rels = np.searchsorted(rel_at, tok)  # relations before the word
    last = np.maximum(t_rels - 1, 0)
    none = np.full(len(tok), -1, INDEX)
    prev_rel = np.where(t_rels > 0, rel_at[last], -1) if len(rel_at) else none
    k = np.searchsorted(con_at, tok)
    prev_con = np.where(k > 0, con_at[np.maximum(k - 1, 0)], -1) if len(con_at) else none
    t_gap = np.where(
        prev_rel > prev_con,
        rel_kind[last] if len(rel_kind) else -1,
        np.where(prev_con < tok - 1, FREE, -1),
    )
    # Content words between the last relation before the word and the word itself.
    t_after = np.where(prev_rel >= 0, cc[tok] - 1 - cc[np.maximum(prev_rel, 0)], len(tids))

    # Each such word -> the stems it stands for, with similarity; an acronym -> its own.
    n_exp = a.exp_count[t_word]
    rows = ragged(a.exp_start[t_word], n_exp)
    ac = np.flatnonzero(acro[tok] >= 0)

    def per_stem(values: np.ndarray) -> np.ndarray:
        return np.concatenate((np.repeat(values, n_exp), values[ac]))

    e_field = per_stem(t_field)
    e_pos = per_stem(t_pos)
    e_gap = per_stem(t_gap)
    e_rels = per_stem(t_rels)
    e_after = per_stem(t_after)
    e_stem = np.concatenate((a.exp_stem[rows].astype(INDEX), acro[tok[ac]]))
    e_sim = np.concatenate((a.exp_sim[rows], np.ones(len(ac))))
    if len(e_stem) and e_stem.max() >= index.n_stems:
        # Stems registered after this index was built belong to phrases it doesn't hold.
        keep = e_stem < index.n_stems
        e_field, e_pos, e_stem, e_sim = e_field[keep], e_pos[keep], e_stem[keep], e_sim[keep]
        e_gap, e_rels, e_after = e_gap[keep], e_rels[keep], e_after[keep]
    if len(e_stem) == 0:
        return _empty()

    # (field, stem) groups, occurrences in position order within each (an acronym's
    # rows and a folded word's never share a stem).
    ns = np.int64(max(index.n_stems, 1))
    key = e_field * ns + e_stem
    order = np.argsort(key, kind="stable")
    key = key[order]
    occ_pos = e_pos[order]
    occ_sim = e_sim[order]
    occ_gap = e_gap[order]
    occ_rels = e_rels[order]
    occ_after = e_after[order]
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
    # Its distinguishing words must be there: every acronym, a word that is not generic,
    # every word where the phrase needs them all.
    acronym_missing = np.bincount(t_cand, weights=index.tk_acronym[trow] & ~found, minlength=n_cand)
    telling = np.bincount(t_cand, weights=index.tk_telling[trow] & found, minlength=n_cand)
    kept &= acronym_missing == 0
    kept &= ~index.rd_telling[c_read] | (telling > 0)
    kept &= ~index.rd_every[c_read] | (n_found == n_tok)

    # Proximity and word order for kept readings with two or more words found.
    multi = kept & (n_found >= 2)
    sel = found & multi[t_cand]
    f_cand = t_cand[sel]
    f_group = gi[sel]
    f_row = trow[sel]
    # With detail, each found token's position as the window chose it.
    t_at = np.full(len(trow), -1, INDEX) if detail else None
    if len(f_cand):
        span, occ = _spans(f_cand, f_group, g_start, g_count, occ_pos)
        runs = f_cand[group_starts(f_cand)]
        limit = index.rd_len[c_read[runs]] - 1 + c.phrase_window_slack
        scattered = runs[span > limit]
        coverage[scattered] *= c.scattered_phrase_factor
        bad = _out_of_order(
            f_cand, f_row, occ_pos[occ], occ_gap[occ], occ_rels[occ], occ_after[occ], index
        )
        kept[bad] = False
        if t_at is not None:
            t_at[np.flatnonzero(sel)] = occ_pos[occ]

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
    best, at_best = first_max(value[good], starts)
    strength = best * fields.weight[k_field[at_best]]
    ok = strength >= c.min_keyword_evidence
    b_cand = good[at_best][ok]
    b_field = k_field[at_best][ok]
    b_phrase = k_phrase[at_best][ok]
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
    top, at_top = first_max(strength, starts)
    out = Found(b_notice[at_top], b_phrase[at_top], top, b_field[at_top])
    if t_at is not None:
        # A word found alone: its occurrence with the best similarity (the first of equals).
        alone = found & (t_at < 0)
        _, best_occ = first_max(occ_sim, g_start)
        t_at[alone] = occ_pos[best_occ[gi[alone]]]
        out.word_start, out.shown, out.missing = _detail(
            tids, fidx, content, b_cand[at_top], c_field, c_read, t_cand, trow, found,
            gi, g_stem, t_at, vocab, index,
        )  # fmt: skip
    return out


def _spans(
    f_cand: np.ndarray,
    f_group: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
    occ_pos: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate (rows sorted by it): the tightest window holding every word found,
    and per row the occurrence that window takes.

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
    occ = np.where(d_left <= d_right, left, right)
    q = occ_pos[occ]
    w_start = group_starts(r_anchor)
    span = np.maximum.reduceat(q, w_start) - np.minimum.reduceat(q, w_start)
    best, which = first_min(span, group_starts(a_run))
    # The chosen window's rows, one per row of f_cand and in its order.
    return best, occ[which[a_run[r_anchor]] == r_anchor]


def _out_of_order(
    f_cand: np.ndarray,
    f_row: np.ndarray,
    pos: np.ndarray,
    gap: np.ndarray,
    rels: np.ndarray,
    after: np.ndarray,
    index: KeywordIndex,
) -> np.ndarray:
    """Candidates whose words, as found, stand in another relation than the keyword's.

    For two neighbouring tokens a, b of a reading, found at positions pa and pb:

    - a compound ("adult learning", head last) is broken by a relation between its
      words in their own order ("adults with learning disabilities"); the other way
      round it holds only read through a relation whose object it is, at most one
      word after it ("maintenance of the grounds", "care at home" for "home care",
      "support for people with their job search"; "development of a North West
      skills plan" is not "skills development"), or as a verb and its object when
      the head is one ("cleaning windows", "cleaning the office windows");
    - words a relation binds ("care at home") need it before the second ("care and
      support at home"), or else make the compound the other way round ("home care").
    """
    if len(f_cand) < 2:
        return np.zeros(0, INDEX)
    a, b = slice(None, -1), slice(1, None)
    pair = (f_cand[a] == f_cand[b]) & (f_row[a] + 1 == f_row[b])
    link = index.tk_link[f_row[a]]
    pa, pb = pos[a], pos[b]
    compound = link == COMPOUND
    forward = pa < pb
    backward = pb < pa
    through = (rels[a] > rels[b]) & (after[a] <= 1)
    verb = index.tk_verb[f_row[b]] & (pa - pb <= 2)
    broken = compound & ((forward & (rels[b] > rels[a])) | (backward & ~(through | verb)))
    bound = link > FREE
    kept = (forward & (gap[b] == link)) | ((pb + 1 == pa) & (gap[a] == -1))
    bad = pair & (broken | (bound & ~kept))
    return f_cand[a][bad]


def _detail(
    tids: np.ndarray,
    fidx: np.ndarray,
    content: np.ndarray,
    cands: np.ndarray,
    c_field: np.ndarray,
    c_read: np.ndarray,
    t_cand: np.ndarray,
    trow: np.ndarray,
    found: np.ndarray,
    gi: np.ndarray,
    g_stem: np.ndarray,
    t_at: np.ndarray,
    vocab: Vocabulary,
    index: KeywordIndex,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each chosen candidate: the notice words behind it, in text order, and a mask
    of the keyword's words it lacks (see Found). An acronym shows as written."""
    lo = np.searchsorted(t_cand, cands, side="left")
    hi = np.searchsorted(t_cand, cands, side="right")
    rows = ragged(lo, hi - lo)
    row_of = owners(hi - lo)
    keep = found[rows]
    rows, row_of = rows[keep], row_of[keep]
    have = np.zeros(len(cands), INDEX)
    np.bitwise_or.at(have, row_of, index.tk_words[trow[rows]])
    missing = index.rd_words[c_read[cands]] & ~have
    # One word per (row, position), in text order.
    pos = t_at[rows]
    order = np.lexsort((pos, row_of))
    rows, row_of, pos = rows[order], row_of[order], pos[order]
    first = np.ones(len(rows), bool)
    first[1:] = (row_of[1:] != row_of[:-1]) | (pos[1:] != pos[:-1])
    rows, row_of, pos = rows[first], row_of[first], pos[first]
    content_ids = tids[content]
    field_start = np.searchsorted(fidx[content], np.arange(int(c_field.max()) + 1))
    tid = content_ids[field_start[c_field[cands[row_of]]] + pos]
    acronym = vocab.acronym_stems()[g_stem[gi[rows]]]
    fold = vocab.arrays().fold
    shown = np.where(acronym, 2 * tid + 1, 2 * fold[tid])
    start = np.concatenate(([0], np.cumsum(np.bincount(row_of, minlength=len(cands)))))
    return start.astype(INDEX), shown.astype(INDEX), missing
