"""Deterministic synthetic notices and profiles for the matching benchmark.

Notices recombine the real eval notices (titles, description sentences, CPV codes)
and add buyer names and reference numbers, so the vocabulary grows as a live feed's
would. Profiles draw 5 to 15 keywords from a pool of phrases social enterprises use
(their own trades, and the trades of CPV service groups they could work in), and
about half come out worded the member's own way: a qualifier the notices put before
that word ("reactive repairs"), an ending ("print services"), who for ("befriending for
older people"), two of their trades joined, a typo. 2,000 profiles hold about 4,300
distinct keywords (about 18,600 in all).
"""

from __future__ import annotations

import json
import random
import re
from itertools import pairwise
from pathlib import Path

from matchers import Lot, Notice, Profile
from matchers.cpv import kinds, labels

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "notices.jsonl"

# fmt: off
# Services social enterprises offer, by trade; phrases as members write them.
THEMES: dict[str, list[str]] = {
    "cleaning": ["office cleaning", "window cleaning", "deep clean", "janitorial services",
                 "commercial cleaning", "school cleaning", "carpet cleaning", "washroom services"],
    "grounds": ["grounds maintenance", "grass cutting", "landscaping", "tree surgery",
                "hedge trimming", "horticulture", "green spaces", "parks maintenance"],
    "catering": ["catering", "event catering", "school meals", "community cafe", "buffet lunches",
                 "hot meals", "food service", "vending"],
    "waste": ["waste collection", "recycling", "bulky waste", "furniture reuse",
              "textile recycling", "waste management", "composting", "IT recycling"],
    "transport": ["community transport", "minibus hire", "passenger transport",
                  "patient transport", "school transport", "dial-a-ride",
                  "home to school transport", "wheelchair accessible vehicles"],
    "print": ["printing", "graphic design", "leaflets", "signage", "print services", "posters",
              "branding", "copywriting"],
    "training": ["employability", "training courses", "skills development", "apprenticeships",
                 "adult learning", "job search support", "work placements", "mentoring"],
    "building": ["joinery", "building repairs", "painting and decorating", "refurbishment",
                 "property maintenance", "handyman", "roofing", "plastering"],
    "care": ["care at home", "home care", "supported living", "respite care", "personal care",
             "dementia care", "befriending", "domiciliary care"],
    "health": ["mental health support", "counselling", "wellbeing", "health promotion",
               "substance misuse", "drug and alcohol", "smoking cessation", "peer support"],
    "youth": ["youth work", "childcare", "after school clubs", "holiday programmes",
              "play schemes", "early years", "family support", "parenting support"],
    "digital": ["digital inclusion", "web design", "IT support", "software development",
                "data analysis", "digital skills", "website", "social media"],
    "events": ["events management", "conference organisation", "venue hire", "room hire",
               "exhibitions", "festivals", "community events", "audio visual"],
    "research": ["community engagement", "consultation", "research", "evaluation",
                 "surveys", "focus groups", "impact assessment", "feasibility study"],
    "arts": ["arts", "music workshops", "theatre", "heritage", "museum", "creative workshops",
             "photography", "film production"],
    "sport": ["sports coaching", "physical activity", "leisure services", "outdoor activities",
              "football coaching", "swimming lessons", "fitness classes", "walking groups"],
    "environment": ["energy advice", "insulation", "retrofit", "solar panels",
                    "biodiversity", "environmental education", "tree planting", "litter picking"],
    "housing": ["housing support", "homelessness", "tenancy sustainment", "furniture provision",
                "supported accommodation", "floating support", "housing advice", "void clearance"],
    "advice": ["welfare rights", "debt advice", "benefits advice", "advocacy",
               "legal advice", "money advice", "citizens advice", "information and advice"],
    "security": ["security services", "CCTV", "door supervision", "key holding",
                 "alarm monitoring", "event stewarding", "mobile patrols", "concierge"],
    "laundry": ["laundry", "linen hire", "dry cleaning", "textile services", "uniforms",
                "workwear", "embroidery", "sewing"],
    "furniture": ["furniture", "upholstery", "office furniture", "furniture restoration",
                  "bespoke joinery", "woodwork", "flat pack assembly", "removals"],
    "food": ["food bank", "fresh produce", "fruit and vegetables", "community growing",
             "allotments", "food education", "cookery classes", "sandwiches"],
    "translation": ["translation", "interpreting", "British Sign Language", "easy read",
                    "transcription", "braille", "language services", "ESOL"],
}
# Misspellings and word forms members really type.
VARIANTS = {"grounds maintenance": "grounds maintainance", "landscaping": "landscapeing",
            "printing": "printers", "joinery": "joiners", "catering": "caterers",
            "refurbishment": "refurbishments", "recycling": "recyling",
            "grass cutting": "grass-cutting", "counselling": "counseling",
            "childcare": "child care", "apprenticeships": "apprenticeship"}
PLACES = ["Aberdeen", "Dundee", "Perth", "Inverness", "Stirling", "Falkirk", "Paisley",
          "Kilmarnock", "Ayr", "Dumfries", "Livingston", "Motherwell", "Hamilton", "Kirkcaldy",
          "Leeds", "Bristol", "Cardiff", "Swansea", "Norfolk", "Suffolk", "Kent", "Devon",
          "Cornwall", "Lancashire", "Cumbria", "Durham", "Northumberland", "Wrexham", "Powys",
          "Gwynedd", "Belfast", "Derry", "Oxford", "Cambridge", "Reading", "Luton", "Essex"]
ORGS = ["City Council", "Council", "County Council", "Borough Council", "NHS Trust",
        "Health Board", "Housing Association", "Academy Trust", "University", "College",
        "Leisure Trust", "Fire and Rescue Service", "Police", "Integration Joint Board"]
COUNCILS = ["Glasgow City", "City of Edinburgh", "Fife", "Highland", "Argyll and Bute",
            "Dundee City", "Aberdeen City", "Stirling", "Falkirk", "North Lanarkshire",
            "South Ayrshire", "Moray", "West Lothian", "Renfrewshire", "Dumfries and Galloway"]
SCOTTISH_NUTS = ["UKM82", "UKM75", "UKM72", "UKM62", "UKM63", "UKM71", "UKM50", "UKM77",
                 "UKM84", "UKM94", "UKM78", "UKM83", "UKM92", "UKM", "UKM8", "UKM7"]
# fmt: on


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def load_eval(path: Path = EVAL) -> list[dict]:
    """The real eval notices as dicts."""
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def notices(
    count: int, seed: int = 1, rows: list[dict] | None = None, prefix: str = "syn"
) -> list[Notice]:
    """`count` notices recombined from the real ones; same seed, same notices."""
    rng = random.Random(seed)
    rows = rows or load_eval()
    split = [_sentences(r["description"]) for r in rows]
    out = []
    for i in range(count):
        a, b = rng.randrange(len(rows)), rng.randrange(len(rows))
        base = rows[a]
        buyer = f"{rng.choice(PLACES)} {rng.choice(ORGS)}"
        ref = (
            f"{rng.choice('ABCDEFGHJKLMNPRSTW')}{rng.choice('ABCDEFGHJKLMNPRSTW')}"
            f"{rng.randrange(100, 99999)}/{rng.randrange(2019, 2027)}"
        )
        sents = split[a][: rng.randrange(1, 8)] + split[b][: rng.randrange(0, 4)]
        description = " ".join(sents) + f" Buyer: {buyer}. Reference: {ref}."
        title = base["title"] if rng.random() < 0.7 else f"{ref} - {base['title']}"
        roll = rng.random()
        regions: tuple[str, ...] = ()
        place = base.get("place")
        if roll < 0.35:
            regions, place = (rng.choice(SCOTTISH_NUTS),), None
        value = base.get("value")
        if value is not None:
            value = round(value * rng.uniform(0.5, 1.5), 2)
        lots: tuple[Lot, ...] = ()
        if rng.random() < 0.05:
            other = rows[b]
            lots = (
                Lot(base["title"], "", tuple(base["cpv"][:1])),
                Lot(other["title"], other["description"][:300], tuple(other["cpv"][:1])),
            )
        out.append(
            Notice(
                id=f"{prefix}-{i}",
                title=title,
                description=description,
                buyer=buyer,
                cpv=tuple(base["cpv"]),
                regions=regions,
                place=place,
                value=value,
                reserved=rng.random() < 0.02,
                lots=lots,
            )
        )
    return out


# fmt: off
# CPV divisions and groups a social enterprise is unlikely to trade in (oil and gas,
# aviation and shipping, banking and insurance, telecoms networks, arms, utilities).
UNLIKELY_GROUPS = ("502", "51", "604", "606", "631", "635", "637", "642", "65", "66", "721",
                   "734", "752", "753", "76", "778")
# Words members put before a trade ("commercial cleaning", "reactive repairs"). Each is
# used only before a word it really precedes in the eval notices, so phrases read true.
QUALIFIERS = ("commercial", "domestic", "community", "school", "residential", "specialist",
              "emergency", "local", "general", "office", "public", "housing", "outdoor",
              "digital", "social", "home", "youth", "adult", "family", "health", "bespoke",
              "sustainable", "supported", "independent", "professional", "technical",
              "reactive", "planned", "routine", "minor", "external", "internal", "rural",
              "accredited", "affordable", "green", "healthy", "personal", "practical",
              "voluntary", "street", "highway", "building", "property", "event", "staff",
              "patient", "passenger", "vehicle")
# fmt: on
# Endings members add to a trade name ("print services", "recycling service").
ENDINGS = ("services", "service")
# Who a member serves, as the eval notices name them ("for young people": 15 times), for
# the trades that serve people.
PEOPLE_THEMES = {
    "care",
    "health",
    "youth",
    "training",
    "sport",
    "arts",
    "food",
    "advice",
    "housing",
    "transport",
    "catering",
    "digital",
    "translation",
}
AUDIENCES = (
    "children",
    "adults",
    "young people",
    "residents",
    "families",
    "older people",
    "vulnerable adults",
    "businesses",
    "schools",
    "communities",
)


def trade_phrases() -> dict[str, list[str]]:
    """Phrases for the trades behind each CPV services/works group, as a member would say them.

    "Window-cleaning services" becomes "window cleaning": thousands of distinct
    keywords, so the pool is as varied as 2,000 members writing their own.
    """
    groups: dict[str, list[str]] = {}
    kind = kinds()
    for code, label in labels().items():
        # Members don't write lists or labels with brackets ("Calculation of costs, ...").
        if (
            kind[code] == "supplies"
            or "(" in label
            or "," in label
            or len(label.split()) > 6
            or code.startswith(UNLIKELY_GROUPS)
        ):
            continue
        phrase = re.sub(r"\b(services?|works?)$", "", label.lower()).strip(" ,-")
        phrase = phrase.replace("-", " ")
        if phrase and len(phrase) > 3:
            groups.setdefault(code[:3], []).append(phrase)
    return {g: sorted(set(p)) for g, p in groups.items() if len(set(p)) >= 5}


def qualifiers(rows: list[dict]) -> dict[str, list[str]]:
    """Word -> the QUALIFIERS seen right before it at least twice in the real notices."""
    seen: dict[tuple[str, str], int] = {}
    wanted = set(QUALIFIERS)
    for r in rows:
        ws = re.findall(r"[a-z]+", f"{r['title']}. {r['description']}".lower())
        for a, b in pairwise(ws):
            if a in wanted and a != b:
                seen[(a, b)] = seen.get((a, b), 0) + 1
    out: dict[str, list[str]] = {}
    for (a, b), n in sorted(seen.items()):
        if n >= 2:
            out.setdefault(b, []).append(a)
    return out


def _own_words(
    keyword: str,
    trade: list[str],
    quals: dict[str, list[str]],
    rng: random.Random,
    people: bool = False,
) -> str:
    """A member's own phrasing of a pool phrase: a qualifier, an ending, who for, a pair.

    Few members copy a phrase word for word: about half the phrases come out worded
    their own way, always from words the notices or the CPV labels use.
    """
    roll = rng.random()
    ws = keyword.split()
    short = len(ws) <= 2 and " and " not in keyword
    if roll < 0.25 and short and quals.get(ws[0].lower()):
        return f"{rng.choice(quals[ws[0].lower()])} {keyword}"
    if roll < 0.37 and short and ws[-1] not in ("service", "services", "support"):
        return f"{keyword} {rng.choice(ENDINGS)}"
    if roll < 0.45 and people and len(ws) <= 3:
        return f"{keyword} for {rng.choice(AUDIENCES)}"
    if roll < 0.53 and short:
        # Two trades of the member's own line of work ("grass cutting and hedge trimming").
        other = rng.choice(trade)
        overlap = other in keyword or keyword in other
        if not overlap and len(other.split()) <= 2 and " and " not in other:
            return f"{keyword} and {other}"
    if keyword in VARIANTS and rng.random() < 0.3:
        return VARIANTS[keyword]
    return keyword


def profiles(count: int, seed: int = 2, rows: list[dict] | None = None) -> list[Profile]:
    """`count` member profiles with 5 to 15 keywords each; same seed, same profiles.

    Half describe a social-enterprise trade in its own words (THEMES), half a trade
    named after a CPV services/works group; members then word about a third of their
    phrases their own way (a qualifier, an ending, two trades joined, a typo).
    """
    rng = random.Random(seed)
    themes = sorted(THEMES)
    trades = trade_phrases()
    trade_groups = sorted(trades)
    quals = qualifiers(rows or load_eval())
    out = []
    for i in range(count):
        n = rng.randrange(5, 16)
        side = rng.choice(themes)
        if rng.random() < 0.5:
            main = rng.choice(themes)
            trade = THEMES[main]
            pool = trade + rng.sample(THEMES[side], 3)
        else:
            main = rng.choice(trade_groups)
            trade = rng.sample(trades[main], min(12, len(trades[main])))
            pool = trade + rng.sample(THEMES[side], 2)
        picked = rng.sample(pool, min(n, len(pool)))
        people = {k for t in PEOPLE_THEMES for k in THEMES[t]}
        keywords = list(
            dict.fromkeys(_own_words(k, trade, quals, rng, k in people) for k in picked)
        )
        roll = rng.random()
        if roll < 0.6:
            regions = tuple(rng.sample(COUNCILS, rng.randrange(1, 4)))
        elif roll < 0.85:
            regions = ("Scotland",)
        elif roll < 0.95:
            regions = ("UK",)
        else:
            regions = ()
        low = rng.choice([None, None, 5_000, 20_000])
        high = rng.choice([None, 100_000, 500_000, 2_000_000])
        feedback = {}
        if rng.random() < 0.2:
            feedback = {
                rng.choice(["too_big", "too_far", "timescale", "no_accreditation"]): rng.randrange(
                    1, 6
                )
            }
        out.append(
            Profile(
                id=f"member-{i}",
                name=f"Member {i}",
                keywords=tuple(keywords),
                exclude=("asbestos",) if main == "building" and rng.random() < 0.3 else (),
                regions=regions,
                min_value=low,
                max_value=high,
                supported_business=rng.random() < 0.1,
                feedback=feedback,
            )
        )
    return out
