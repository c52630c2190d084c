"""A realistic national load for the matching benchmark, built from real texts.

Notices: a real title (with its CPV codes, buyer, place and value) joined to the
description of another real notice, and a random reference, drawn from the 1,446
notices of `shared/eval/notices.jsonl`. Every notice reads like a real one, and the
vocabulary grows with each reference as a live feed's does.

Profiles: 5 to 15 keywords each, drawn from

- the keywords of the eval profiles (`shared/eval/profiles.json`, written the way
  social enterprises describe themselves);
- SE_PHRASES below: trades as social enterprises name them, written by hand for this
  bench (the project's own list, not copied from anywhere): the themes of
  `bench/synthetic.py` and the acronyms and function words members really type
  ("IT repairs", "PPE supply", "MOT testing", "care at home");
- CPV labels of up to four words (`shared/reference/cpv_2008.csv`), as written.

2,000 profiles hold about 7,000 distinct keywords. Profiles name no areas or sizes:
every member is open to every notice, as on a national register, so nothing is
ruled out before the text and codes are read.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import synthetic

from matchers import Notice, Profile

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
EVAL = SHARED / "eval"
CPV = SHARED / "reference" / "cpv_2008.csv"

# fmt: off
# Acronyms and phrases whose function word carries meaning, as members write them.
OWN_WORDS = [
    "IT repairs", "IT support", "IT recycling", "IT training", "IT equipment refurbishment",
    "ICT equipment", "ICT support", "ICT services", "PPE supply", "PPE", "MOT testing",
    "MOT and servicing", "HR support", "HR advice", "HR consultancy", "PAT testing",
    "CCTV installation", "CCTV monitoring", "SEN transport", "SEN support", "ESOL classes",
    "BSL interpreting", "DBS checks", "EV charging", "LED lighting", "HGV training",
    "GP services", "NHS cleaning", "CAD drawings", "SEO", "UX design", "PR and marketing",
    "care at home", "care in the community", "support at home", "meals on wheels",
    "home to school transport", "befriending for older people", "training for unemployed people",
    "advice for tenants", "food for schools", "bikes for work", "help at home",
    "repairs to council houses", "art in hospitals", "work with offenders",
    "furniture for schools", "transport for disabled people", "cleaning of offices",
    "maintenance of parks", "clearance of voids", "removal of graffiti", "hire of minibuses",
]
# fmt: on


# NUTS 1 regions of the UK, as a member would pick them.
REGIONS = ("UKC", "UKD", "UKE", "UKF", "UKG", "UKH", "UKI", "UKJ", "UKK", "UKL", "UKM", "UKN")


def load_rows(path: Path = EVAL / "notices.jsonl") -> list[dict]:
    """The real eval notices as dicts."""
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def eval_keywords(path: Path = EVAL / "profiles.json") -> list[str]:
    """Every keyword of the eval profiles."""
    return [k for p in json.loads(path.read_text(encoding="utf-8")) for k in p["keywords"]]


def se_phrases() -> list[str]:
    """Trades as social enterprises name them: the eval profiles, our themes, own words."""
    themes = [k for words in synthetic.THEMES.values() for k in words]
    return list(dict.fromkeys([*eval_keywords(), *themes, *OWN_WORDS]))


def short_labels(path: Path = CPV, words: int = 4) -> list[str]:
    """CPV labels of at most `words` words, as written."""
    with path.open(encoding="utf-8", newline="") as f:
        return sorted(
            {r["label_en"] for r in csv.DictReader(f) if len(r["label_en"].split()) <= words}
        )


def notices(
    count: int, seed: int = 11, rows: list[dict] | None = None, prefix: str = "real"
) -> list[Notice]:
    """`count` notices: a real title, another notice's real description, a random reference."""
    rng = random.Random(seed)
    rows = rows or load_rows()
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    out = []
    for i in range(count):
        a, b = rng.randrange(len(rows)), rng.randrange(len(rows))
        row = rows[a]
        ref = (
            f"{rng.choice(letters)}{rng.choice(letters)}{rng.choice(letters)}"
            f"{rng.randrange(1000, 999999)}/{rng.randrange(2019, 2027)}"
        )
        description = f"{rows[b]['description']}\n\nReference: {ref}"
        out.append(
            Notice(
                id=f"{prefix}-{i}",
                title=row["title"],
                description=description,
                buyer=row.get("buyer"),
                cpv=tuple(row["cpv"]),
                place=row.get("place"),
                value=row.get("value"),
            )
        )
    return out


def profiles(count: int, seed: int = 12, label_share: float = 0.75) -> list[Profile]:
    """`count` profiles of 5 to 15 keywords; `label_share` of them are CPV labels."""
    rng = random.Random(seed)
    phrases = se_phrases()
    labels = short_labels()
    out = []
    for i in range(count):
        n = rng.randrange(5, 16)
        keywords = [
            rng.choice(labels) if rng.random() < label_share else rng.choice(phrases)
            for _ in range(n)
        ]
        out.append(
            Profile(
                id=f"member-{i}",
                name=f"Member {i}",
                keywords=tuple(dict.fromkeys(keywords)),
            )
        )
    return out
