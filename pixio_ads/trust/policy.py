"""Content policy: nothing a brand's policy forbids reaches the model.

Every variant's prompt, negative prompt, headline and CTA are checked before rendering;
a blocked variant's manifest row says ``blocked`` with the category, the matched term and
the field, and it is never rendered.

The checker is pluggable: a policy is a list of functions ``(text, field) -> Match | None``.
The word list below is the first; a policy file may add others by import path::

    checkers:
      - my_company.moderation:classify     # def classify(text: str, field: str) -> Match | None

so a classifier model can stand beside (or replace, with ``word_list: false``) the terms.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.core.storage import fetch_input
from pixio_ads.trust.checks import Checker, Match, import_functions
from pixio_ads.trust.image_policy import image_checkers

DEFAULT_POLICY = Path(str(resources.files("pixio_ads").joinpath("data", "policy.yaml")))  # package data
FIELDS = ("prompt", "negative_prompt", "headline", "cta")
# Leetspeak: characters that stand in for letters.
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"}
)
_TOKEN = re.compile(r"[a-z0-9@$!|']+")


def _ascii_skeleton(text: str) -> str:
    """What the text looks like in ASCII: invisible format characters (zero-width spaces and
    joiners, soft hyphens, direction marks: Unicode category Cf) dropped, then every letter
    transliterated (anyascii): look-alikes from other scripts (Cyrillic "і", Greek "Ν"),
    fullwidth and mathematical letters, and accents all become plain letters."""
    from anyascii import anyascii

    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return anyascii(visible).lower()


def normalise(text: str) -> str:
    """Lower-case words with look-alike letters, invisible characters and accents resolved
    (see _ascii_skeleton), leetspeak mapped to letters, and runs of single characters joined
    (``N i k e`` and ``n.i.k.e`` -> ``nike``)."""
    plain = text.lower()
    if not plain.isascii():  # only non-ASCII text can hide a term behind look-alike letters
        plain = _ascii_skeleton(plain)
    tokens = [token for token in map(_plain_token, _TOKEN.findall(plain.replace("'", ""))) if token]
    if not tokens or min(map(len, tokens)) > 1:
        return " ".join(tokens)  # no single characters to join: the common case
    words: list[str] = []
    run: list[str] = []
    for token in tokens:
        if len(token) == 1:
            run.append(token)
            continue
        if run:
            words.append("".join(run))
            run = []
        words.append(token)
    if run:
        words.append("".join(run))
    return " ".join(words)


@lru_cache(maxsize=65536)
def _plain_token(token: str) -> str:
    """A token with leetspeak mapped; punctuation at its ends is not leetspeak ("NIKE!").
    Cached: the words of prompts and copy repeat across a campaign's rows."""
    return token.strip("!|").translate(_LEET)


@dataclass(frozen=True)
class Category:
    name: str
    fields: tuple[str, ...]
    terms: tuple[str, ...]
    patterns: tuple[re.Pattern, ...]


@dataclass
class WordList:
    """The policy file's categories as a checker."""

    categories: list[Category]
    _compiled: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        terms_by_field: dict[str, set[str]] = {name: set() for name in FIELDS}
        patterns_by_field: dict[str, list[str]] = {name: [] for name in FIELDS}
        for category in self.categories:
            # One regex per category over the normalised text, whole words only.
            alternatives = {normalise(term) for term in category.terms} - {""}
            self._compiled[category.name] = _whole_words(alternatives)
            for name in category.fields:
                terms_by_field[name] |= alternatives
                patterns_by_field[name] += [f"(?:{pattern.pattern})" for pattern in category.patterns]
        # Per field, a quick test that most texts (which match nothing) fail: the first words
        # of every category's terms as a set, and all patterns in one regex.
        self._first_words = {
            name: frozenset(term.split()[0] for term in terms) for name, terms in terms_by_field.items()
        }
        self._any_pattern = {
            name: re.compile("|".join(found), re.IGNORECASE) if found else None
            for name, found in patterns_by_field.items()
        }

    def _may_match(self, normalised: str, lowered: str, field_name: str) -> bool:
        """False when no term or pattern can match. The normalised text is words of [a-z0-9]
        and so are the terms: a term can only match where its first word is a word of it."""
        if not self._first_words.get(field_name, frozenset()).isdisjoint(normalised.split()):
            return True
        patterns = self._any_pattern.get(field_name)
        return bool(patterns and (patterns.search(lowered) or patterns.search(normalised)))

    def __call__(self, text: str, field_name: str, allowed: frozenset[str] = frozenset()) -> Match | None:
        normalised, lowered = normalise(text), text.lower()
        if not self._may_match(normalised, lowered, field_name):
            return None
        for category in self.categories:  # which category and term, in the policy's order
            if field_name not in category.fields:
                continue
            terms = self._compiled[category.name]
            if terms is not None:
                for found in terms.finditer(normalised):
                    if found.group(1) not in allowed:
                        return Match(category.name, found.group(1), field_name)
            for pattern in category.patterns:
                found = pattern.search(lowered) or pattern.search(normalised)
                if found:
                    return Match(category.name, found.group(0), field_name)
        return None


def _whole_words(terms: set[str]) -> re.Pattern | None:
    """Any of the (normalised) terms as a whole word; the longest first."""
    if not terms:
        return None
    return re.compile(
        r"(?<![a-z0-9])(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")(?![a-z0-9])"
    )


@dataclass
class Policy:
    path: str
    word_list: WordList | None
    checkers: list[Checker]
    allow: dict[str, frozenset[str]]  # brand name -> normalised terms it may use
    image_checkers: list = field(default_factory=list)  # (image, variant) -> Match | None; image_policy.py
    # Fingerprint of the file's image checks: an image they blocked stays blocked on a rerun
    # while they are unchanged ("" without image checks).
    image_checks_id: str = ""
    _seen: dict = field(default_factory=dict, repr=False)  # (text, field, allowed) -> word-list match
    _allowed: dict = field(default_factory=dict, repr=False)  # brand -> allowed terms

    def _listed(self, text: str, field_name: str, allowed: frozenset[str]) -> Match | None:
        """The word list's verdict, once per distinct text: CTAs, negative prompts and
        headlines repeat over thousands of variants."""
        key = (text, field_name, allowed)
        if key not in self._seen:
            if len(self._seen) > 200_000:
                self._seen.clear()
            self._seen[key] = self.word_list(text, field_name, allowed)
        return self._seen[key]

    def allowed_for(self, brand: str) -> frozenset[str]:
        """A brand may always name itself, plus what the policy lists for it (once per brand:
        screening asks for every variant)."""
        if brand not in self._allowed:
            own = {normalise(brand)} | {normalise(w) for w in brand.split() if len(w) > 2} if brand else set()
            self._allowed[brand] = frozenset(own) | self.allow.get(brand, frozenset())
        return self._allowed[brand]

    def check(self, texts: dict[str, str], brand: str = "") -> Match | None:
        """The first match over the given fields (``{"prompt": ..., "headline": ...}``)."""
        allowed = self.allowed_for(brand)
        for field_name in FIELDS:
            text = texts.get(field_name) or ""
            if not text:
                continue
            if self.word_list is not None and (found := self._listed(text, field_name, allowed)):
                return found
            for checker in self.checkers:
                found = checker(text, field_name)
                if found is not None and normalise(found.term) not in allowed:
                    return Match(found.category, found.term, found.field or field_name)
        return None


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a policy file (None: the packaged one); every problem names the file
    and the key. Cached per file version: a served deployment sees an edited policy at its
    next run."""
    path = fetch_input(path) if path else DEFAULT_POLICY  # a URL: fetched into the cache
    try:
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = None  # _read_policy names the problem
    return _load_policy(path, version)


@lru_cache(maxsize=16)
def _load_policy(path: Path, version: tuple[int, int] | None) -> Policy:
    file = str(path)
    data = _read_policy(Path(path))
    issues: list[Issue] = []
    known = ("version", "categories", "allow", "checkers", "word_list", "image_checkers", "image_classifiers")
    for key in set(data) - set(known):
        fix = f"remove it (known: {', '.join(known)})"
        issues.append(Issue(file, "unknown key", fix, key=key))
    categories = [
        _category(file, str(name), spec or {}, issues) for name, spec in (data.get("categories") or {}).items()
    ]
    checkers = _checkers(file, data.get("checkers") or [], issues)
    on_images = image_checkers(file, data, issues)
    if issues:
        raise ValidationError(issues)
    allow = {
        str(brand): frozenset(normalise(str(term)) for term in terms or [])
        for brand, terms in (data.get("allow") or {}).items()
    }
    word_list = WordList(categories) if data.get("word_list", True) else None
    return Policy(file, word_list, checkers, allow, on_images, _image_checks_id(data))


def _image_checks_id(data: dict) -> str:
    """sha256 of the policy's image-check entries (not of its word lists: editing a category
    does not re-decide images). A checker's code or a classifier's weights changed in place
    are not seen; delete the blocked rows' shard files to re-decide them."""
    checks = {key: data.get(key) for key in ("image_checkers", "image_classifiers") if data.get(key)}
    if not checks:
        return ""
    return hashlib.sha256(json.dumps(checks, sort_keys=True, default=str).encode()).hexdigest()


def _read_policy(path: Path) -> dict:
    file = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ValidationError(
            [Issue(file, f"cannot read the policy file: {exc}", "check the --policy path")]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        message = f"not valid YAML: {getattr(exc, 'problem', exc)}"
        raise ValidationError([Issue(file, message, "fix the syntax", line=mark.line + 1 if mark else None)]) from None
    if not isinstance(data, dict):
        message = "the policy must be a mapping (categories, allow, checkers)"
        raise ValidationError([Issue(file, message, "see pixio_ads/data/policy.yaml")])
    return data


def _category(file: str, name: str, spec: dict, issues: list[Issue]) -> Category:
    fields = tuple(spec.get("fields") or FIELDS)
    for bad in set(fields) - set(FIELDS):
        issues.append(
            Issue(file, f"unknown field {bad!r}", "use " + ", ".join(FIELDS), key=f"categories.{name}.fields")
        )
    patterns = []
    for index, pattern in enumerate(spec.get("patterns") or []):
        try:
            patterns.append(re.compile(str(pattern), re.IGNORECASE))
        except re.error as exc:
            key = f"categories.{name}.patterns.{index}"
            issues.append(
                Issue(file, f"invalid regular expression: {exc}", "fix the pattern", key=key, value=str(pattern))
            )
    return Category(name, fields, tuple(str(t) for t in spec.get("terms") or []), tuple(patterns))


def _checkers(file: str, references: list, issues: list[Issue]) -> list[Checker]:
    """The policy's extra checkers, imported by ``package.module:function``."""
    return import_functions(file, "checkers", references, issues)


def screen(policy: Policy, variants: Iterable, brand_of: Callable[[object], str]) -> dict[str, Match]:
    """variant id -> match, for the variants the policy blocks. Texts repeat across seeds
    and formats, so each distinct (texts, brand) is checked once."""
    decisions: dict[tuple, Match | None] = {}
    blocked: dict[str, Match] = {}
    for variant in variants:
        brand = brand_of(variant)
        key = (variant.prompt, variant.negative_prompt, variant.headline, variant.cta, brand)
        if key not in decisions:
            decisions[key] = policy.check(dict(zip(FIELDS, key[:4])), brand)
        if decisions[key] is not None:
            blocked[variant.variant_id] = decisions[key]
    return blocked
