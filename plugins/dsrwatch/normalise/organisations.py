"""Organisation names: splitting party lists, normalising names, resolving to one organisation.

Resolution order (documented in README "Organisations"):
1. exact alias from the PRC-linked registry (case-insensitive)              -> method registry-alias
2. normalised name (legal suffixes, punctuation, accents, case) of an alias -> registry-normalised
3. rapidfuzz ``token_sort_ratio`` on normalised names >= FUZZY_ACCEPT       -> registry-fuzzy
   (FUZZY_REVIEW <= score < FUZZY_ACCEPT is *not* trusted: the name stays its own organisation
   and the candidate goes to the review list)
4. otherwise the name is its own organisation, keyed by its normalised form -> source-name
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

# Legal-form words: a comma followed by one of these continues the same name ("Co., Ltd.").
LEGAL_FORMS = frozenset(
    """ltd limited inc incorporated co company corp corporation llc llp lp plc pte pty sa sas sarl
    spa srl ag gmbh kg bv nv ab as asa oy oyj kk jsc ojsc pjsc cjsc sae sal bhd sdn tbk group holdings
    holding""".split()
)
# Of those, the ones removed from the end of a name when normalising (not "group"/"holdings",
# which distinguish a parent from its subsidiary).
STRIPPED_SUFFIXES = LEGAL_FORMS - {"group", "holdings", "holding"}

FUZZY_ACCEPT = 97.0  # 96.5 would wrongly merge "China National Electric Import & Export" into CEIEC
FUZZY_REVIEW = 90.0  # below this, near misses (Lumen ~ HMN Technologies) are noise


def clean_text(value: object) -> str | None:
    """Collapse whitespace; empty strings become None."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def split_party_list(text: str | None) -> list[str]:
    """Split a comma-separated list of organisations, keeping "Co., Ltd." and "X, Inc" whole."""
    text = clean_text(text)
    if not text:
        return []
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first_word = re.sub(r"[^\w]", "", part.split()[0]).casefold()
        if names and first_word in LEGAL_FORMS:
            names[-1] = f"{names[-1]}, {part}"
        else:
            names.append(part)
    return names


def normalise_name(name: str) -> str:
    """Comparison key: ASCII, lower case, no punctuation, no trailing legal forms."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = ascii_name.replace("&", " and ")
    words = re.sub(r"[^\w\s]", " ", ascii_name.casefold()).split()
    while len(words) > 1 and words[-1] in STRIPPED_SUFFIXES:
        words.pop()
    return " ".join(words)


def slug(name: str) -> str:
    return normalise_name(name).replace(" ", "-") or "unnamed"


@dataclass(frozen=True)
class RegistryOrganisation:
    organisation_id: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    source_name: str
    organisation_id: str
    canonical_name: str
    method: str
    score: float
    review_candidate: str | None = None  # registry id proposed by a fuzzy score below FUZZY_ACCEPT


@dataclass
class OrganisationResolver:
    registry: Iterable[RegistryOrganisation] = ()
    _exact: dict[str, RegistryOrganisation] = field(default_factory=dict, init=False)
    _normalised: dict[str, RegistryOrganisation] = field(default_factory=dict, init=False)
    _cache: dict[str, Resolution] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for org in self.registry:
            for spelling in (org.name, *org.aliases):
                self._exact.setdefault(spelling.casefold(), org)
                self._normalised.setdefault(normalise_name(spelling), org)
        self._choices = list(self._normalised)

    def resolve(self, name: str) -> Resolution:
        cached = self._cache.get(name)
        if cached is None:
            cached = self._cache[name] = self._resolve(name)
        return cached

    def _resolve(self, name: str) -> Resolution:
        org = self._exact.get(name.casefold())
        if org:
            return Resolution(name, org.organisation_id, org.name, "registry-alias", 100.0)
        key = normalise_name(name)
        org = self._normalised.get(key)
        if org:
            return Resolution(name, org.organisation_id, org.name, "registry-normalised", 100.0)
        review, review_score = None, 100.0
        if self._choices and len(key) >= 4:
            from rapidfuzz import fuzz, process

            best = process.extractOne(key, self._choices, scorer=fuzz.token_sort_ratio, score_cutoff=FUZZY_REVIEW)
            if best:
                match, score, _ = best
                org = self._normalised[match]
                if score >= FUZZY_ACCEPT:
                    return Resolution(name, org.organisation_id, org.name, "registry-fuzzy", round(score, 1))
                review, review_score = org.organisation_id, round(score, 1)
        # For an untrusted near miss the score is the candidate's, for the review list.
        return Resolution(name, slug(name), name, "source-name", review_score, review_candidate=review)
