"""Components taxonomy: which digital-infrastructure components a project text names.

The tags and their words are data, in ``reference/deal_components.yaml`` (matching rules in its
header). The seed is loaded and compiled once per process; ``classify(text)`` returns, for each
tag found (in the seed's tag order), the words that matched, in order of first appearance::

    >>> classify("Safe City Islamabad: 1,950 CCTV cameras and a command and control centre")
    {'cctv': ['cctv cameras'], 'command_centre': ['command and control'], 'safe_city': ['safe city']}

Texts are compared accent-folded and case-folded, but the words reported are those of the text
(lower-cased, whitespace collapsed), so "vidéosurveillance" is reported with its accent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

TAXONOMY_FILE = Path(__file__).resolve().parents[1] / "reference" / "deal_components.yaml"

# Text is compared word by word: a word is a run of \w characters; between two words of a pattern
# the text may hold only spaces, hyphens or apostrophes (checked on the gap between the words).
_WORD = re.compile(r"\w+")
_PATTERN_WORD = re.compile(r"\w+\*?")
_GAP = re.compile(r"[\s\-']*")
_TAG_FIELDS = {"description", "relevance", "party_names", "patterns"}
RELEVANCE_LEVELS = ("strong", "title", "context")
_PREFIX_KEY = 3  # wildcard words are indexed by their first three characters


class _Folder(dict):
    """str.translate table mapping each character to ONE character: accents dropped, curly quotes
    and dashes made plain. One-to-one, so match positions in the folded text are those of the
    original and the matched words can be cut from it."""

    _SPECIAL = {"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u00a0": " ", "\u2010": "-", "\u2011": "-",
                "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-"}  # fmt: skip

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        folded = self._SPECIAL.get(char)
        if folded is None:
            decomposed = unicodedata.normalize("NFKD", char)
            base = decomposed[0] if decomposed else char
            folded = base if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]) else char
        self[codepoint] = folded
        return folded


_FOLD = _Folder()


def fold(text: str) -> str:
    """Accent-folded text of the same length (ASCII text is returned as is)."""
    return text if text.isascii() else text.translate(_FOLD)


@dataclass(frozen=True)
class Tag:
    name: str
    description: str
    relevance: str  # strong | title | context (see the seed file's header)
    party_names: bool
    patterns: tuple[tuple[str, bool], ...]  # (pattern, case_sensitive)


@dataclass(frozen=True)
class TagMatch:
    """One tag found in a record: the words that matched and the fields they were found in."""

    words: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class _Pattern:
    """One pattern compiled to words: (word, is_prefix) each, compared case-folded unless
    ``case_sensitive``; ``tags`` are every tag that lists it."""

    words: tuple[tuple[str, bool], ...]
    case_sensitive: bool
    tags: tuple[str, ...]


def _pattern_words(pattern: str, case_sensitive: bool) -> tuple[tuple[str, bool], ...]:
    words = _PATTERN_WORD.findall(fold(pattern))
    if not words or "".join(words).replace("*", "") == "":
        raise ValueError(f"taxonomy: empty pattern {pattern!r}")
    if any("*" in w[:-1] for w in words):
        raise ValueError(f"taxonomy: '*' may only end a word: {pattern!r}")
    compiled = tuple((w.rstrip("*") if case_sensitive else w.rstrip("*").lower(), w.endswith("*")) for w in words)
    if compiled[0][1] and len(compiled[0][0]) < _PREFIX_KEY:
        raise ValueError(f"taxonomy: a leading wildcard word needs {_PREFIX_KEY}+ letters: {pattern!r}")
    return compiled


class _Matcher:
    """Patterns indexed by their first word; finds leftmost-longest, non-overlapping matches.

    The hot loop of the deal parsers (every title and description of a release): one dict
    lookup per text word, and the rest of a pattern compared only where its first word occurs."""

    def __init__(self, patterns: list[_Pattern]):
        self.exact: dict[str, list[_Pattern]] = {}
        self.prefix: dict[str, list[_Pattern]] = {}
        for p in sorted(patterns, key=lambda p: -len(p.words)):  # longest first: the first hit wins
            first, is_prefix = p.words[0]
            key = first[:_PREFIX_KEY].lower() if is_prefix else first.lower()
            (self.prefix if is_prefix else self.exact).setdefault(key, []).append(p)

    def matches(self, text: str) -> list[tuple[int, int, _Pattern]]:
        folded = fold(text)
        lowered = folded.lower()
        if len(lowered) != len(folded):  # a character whose lower case is longer: keep it as is
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in folded)
        words = _WORD.findall(lowered)
        exact, prefix = self.exact, self.prefix
        spans: list[tuple[int, int]] | None = None
        found: list[tuple[int, int, _Pattern]] = []
        count = len(words)
        i = 0
        while i < count:
            word = words[i]
            candidates = exact.get(word)
            wildcard = prefix.get(word[:_PREFIX_KEY])
            if candidates is None and wildcard is None:
                i += 1
                continue
            if spans is None:
                spans = [m.span() for m in _WORD.finditer(lowered)]
            hit = None
            for group in (candidates, wildcard):
                for pattern in group or ():
                    last = self._match_at(pattern, words, spans, i, folded, lowered)
                    if last is not None and (hit is None or last > hit[0]):
                        hit = (last, pattern)
                        break  # within a group the longest pattern comes first
            if hit is None:
                i += 1
                continue
            found.append((spans[i][0], spans[hit[0]][1], hit[1]))
            i = hit[0] + 1
        return found

    @staticmethod
    def _match_at(pattern: _Pattern, words: list[str], spans: list[tuple[int, int]], i: int, folded: str,
                  lowered: str) -> int | None:  # fmt: skip
        """Index of the last text word of ``pattern`` matched from word ``i``, or None."""
        size = len(pattern.words)
        if i + size > len(words):
            return None
        for offset, (expected, is_prefix) in enumerate(pattern.words):
            index = i + offset
            if pattern.case_sensitive:
                word = folded[spans[index][0]:spans[index][1]]
            elif offset == 0 and not is_prefix:
                continue  # the index lookup already matched it
            else:
                word = words[index]
            if not (word.startswith(expected) if is_prefix else word == expected):
                return None
            if offset:
                gap = lowered[spans[index - 1][1]:spans[index][0]]
                if gap != " " and not _GAP.fullmatch(gap):
                    return None
        return i + size - 1


class PhraseIndex:
    """Keys, each with word/phrase patterns under the taxonomy's matching rules (module header of
    the seed file); ``find(text)`` returns ``{key: [matched words]}`` in order of first match.

    Also used for other phrase lists, e.g. organisation names in project texts. A multi-word
    pattern also matches its spelling without separators ("data centre" -> "datacentre").
    """

    def __init__(self, entries: Iterable[tuple[str, str, bool]]):
        by_words: dict[tuple, list[str]] = {}
        self.keys: list[str] = []
        for key, pattern, case_sensitive in entries:
            if key not in self.keys:
                self.keys.append(key)
            words = _pattern_words(pattern, case_sensitive)
            variants = [words]
            if len(words) > 1 and not any(is_prefix for _, is_prefix in words[:-1]):
                variants.append((("".join(w for w, _ in words), words[-1][1]),))
            for variant in variants:
                keys = by_words.setdefault((variant, case_sensitive), [])
                if key not in keys:
                    keys.append(key)
        self._matcher = _Matcher(
            [_Pattern(words, case_sensitive, tuple(keys)) for (words, case_sensitive), keys in by_words.items()]
        )

    def find(self, text: str | None) -> dict[str, list[str]]:
        if not text:
            return {}
        found: dict[str, list[str]] = {}
        for start, end, pattern in self._matcher.matches(text):
            word = " ".join(text[start:end].split())
            if not pattern.case_sensitive:
                word = word.lower()
            for key in pattern.tags:
                words = found.setdefault(key, [])
                if word not in words:
                    words.append(word)
        return found


class Taxonomy:
    """The compiled taxonomy. Build it from the seed's parsed YAML (``Taxonomy(yaml_dict)``)."""

    def __init__(self, spec: Mapping):
        tags = (spec or {}).get("tags")
        if not isinstance(tags, Mapping) or not tags:
            raise ValueError("taxonomy: expected a mapping 'tags' with at least one tag")
        self.tags: dict[str, Tag] = {}
        for name, body in tags.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
                raise ValueError(f"taxonomy: tag name {name!r} must be lower_snake_case")
            unknown = set(body or {}) - _TAG_FIELDS
            if unknown:
                raise ValueError(f"taxonomy: tag {name} has unknown field(s) {sorted(unknown)}")
            patterns = []
            for entry in body.get("patterns") or ():
                if isinstance(entry, Mapping) and set(entry) == {"case_sensitive"}:
                    patterns.append((str(entry["case_sensitive"]), True))
                elif isinstance(entry, str):
                    patterns.append((entry, False))
                else:
                    raise ValueError(f"taxonomy: tag {name}: bad pattern {entry!r}")
            if not patterns:
                raise ValueError(f"taxonomy: tag {name} has no patterns")
            relevance = body.get("relevance", "strong")
            if relevance not in RELEVANCE_LEVELS:
                raise ValueError(f"taxonomy: tag {name}: relevance must be one of {RELEVANCE_LEVELS}")
            self.tags[name] = Tag(name, str(body.get("description") or ""), relevance,
                                  bool(body.get("party_names", False)), tuple(patterns))  # fmt: skip
        self._indexes: dict[frozenset[str], PhraseIndex] = {}
        self._index(frozenset(self.tags))  # compile now: a bad pattern fails at load, not mid-run

    # -- tag groups ----------------------------------------------------------------------------
    @property
    def strong_tags(self) -> frozenset[str]:
        """Tags whose match anywhere in a record makes it digital infrastructure."""
        return frozenset(n for n, t in self.tags.items() if t.relevance == "strong")

    @property
    def title_tags(self) -> frozenset[str]:
        """Tags whose match in a title (or short text) makes it digital infrastructure."""
        return frozenset(n for n, t in self.tags.items() if t.relevance in ("strong", "title"))

    @property
    def party_name_tags(self) -> frozenset[str]:
        return frozenset(n for n, t in self.tags.items() if t.party_names)

    # -- matching ------------------------------------------------------------------------------
    def _index(self, only: frozenset[str]) -> PhraseIndex:
        """The phrase index of the chosen tags, built once per subset."""
        index = self._indexes.get(only)
        if index is None:
            index = self._indexes[only] = PhraseIndex(
                (tag.name, pattern, case_sensitive)
                for tag in self.tags.values() if tag.name in only
                for pattern, case_sensitive in tag.patterns
            )  # fmt: skip
        return index

    def classify(self, text: str | None, only: Iterable[str] | None = None) -> dict[str, list[str]]:
        """``{tag: [matched words]}`` for every tag whose patterns occur in ``text``, in the seed's
        tag order. ``only`` restricts the tags looked for."""
        if not text:
            return {}
        chosen = frozenset(self.tags) if only is None else frozenset(only) & frozenset(self.tags)
        if not chosen:
            return {}
        found = self._index(chosen).find(text)
        return {tag: found[tag] for tag in self.tags if tag in found}

    def classify_fields(self, fields: Mapping[str, str | None],
                        only: Mapping[str, Iterable[str]] | None = None) -> dict[str, TagMatch]:  # fmt: skip
        """Classify several named texts of one record and merge: each tag with its words and the
        fields it was found in. ``only`` restricts the tags per field (e.g. buyer names)."""
        merged: dict[str, tuple[list[str], list[str]]] = {}
        for field, text in fields.items():
            subset = None if only is None or field not in only else only[field]
            for tag, words in self.classify(text, subset).items():
                all_words, in_fields = merged.setdefault(tag, ([], []))
                all_words.extend(w for w in words if w not in all_words)
                if field not in in_fields:
                    in_fields.append(field)
        return {tag: TagMatch(tuple(merged[tag][0]), tuple(merged[tag][1])) for tag in self.tags if tag in merged}


def relevant_tags(taxonomy: Taxonomy, matches: Mapping[str, TagMatch],
                  title_fields: Iterable[str] = ("title",)) -> list[str]:  # fmt: skip
    """The tags of ``matches`` that make a record digital infrastructure: a strong tag found
    anywhere, or a title-level tag found in one of ``title_fields``."""
    titles = set(title_fields)
    return [
        tag for tag, match in matches.items()
        if tag in taxonomy.strong_tags or (tag in taxonomy.title_tags and titles.intersection(match.fields))
    ]  # fmt: skip


def load_taxonomy(path: Path = TAXONOMY_FILE) -> Taxonomy:
    return Taxonomy(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def default_taxonomy() -> Taxonomy:
    """The seed file's taxonomy, loaded and compiled once per process."""
    return load_taxonomy()


def classify(text: str | None) -> dict[str, list[str]]:
    """``{tag: [matched words]}`` for ``text`` with the seed taxonomy."""
    return default_taxonomy().classify(text)
