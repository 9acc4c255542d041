"""Where a line of copy may break, and how a long word is hyphenated.

Break opportunities follow the Unicode line breaking algorithm (UAX #14): between words, and
between CJK characters except before closing punctuation or after opening punctuation (so
"。" and "、" never start a line; Japanese and Chinese with strict rules: nor small kana or "ー"). Thai, Lao, Khmer and Burmese are written without spaces
between words; ICU's dictionary-based BreakIterator (PyICU) finds their word boundaries. Without
PyICU the pure-Python ``uniseg`` implements UAX #14, which breaks those scripts at spaces only.
Hyphenation points come from ``pyphen``'s (LibreOffice's) dictionaries, per language.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

logger = logging.getLogger(__name__)

try:  # PyICU: built against the system's libicu (make install builds it when libicu-dev is there)
    import icu
except ImportError:  # pragma: no cover - depends on the machine
    icu = None


_local = threading.local()  # an ICU iterator holds its text: one per thread


def has_dictionary_breaks() -> bool:
    """Whether words of Thai, Lao, Khmer and Burmese are found (PyICU installed)."""
    return icu is not None


@lru_cache(maxsize=8192)
def break_units(text: str, language: str = "") -> tuple[str, ...]:
    """``text`` cut where a line may break; each unit keeps its trailing spaces, so the units
    joined are the text again."""
    if not text:
        return ()
    if icu is not None:
        iterator = _line_iterator(language)
        iterator.setText(text)
        boundaries = [0, *iterator]
        if not text.isascii() and max(text) > "\uffff":  # ICU counts UTF-16 units, Python code points
            encoded = text.encode("utf-16-le")
            boundaries = [len(encoded[: 2 * b].decode("utf-16-le")) for b in boundaries]
        return tuple(text[start:end] for start, end in zip(boundaries, boundaries[1:]) if end > start)
    from uniseg.linebreak import line_break_units

    return tuple(line_break_units(text))


def _line_iterator(language: str):
    """This thread's ICU line break iterator for the language (made once: ~10 us a text less)."""
    iterators = _local.__dict__.setdefault("iterators", {})
    if language not in iterators:
        iterators[language] = icu.BreakIterator.createLineInstance(icu.Locale(_icu_locale(language)))
    return iterators[language]


def _icu_locale(language: str) -> str:
    """The ICU locale of a tag; Chinese and Japanese with strict line breaking (no line starts
    with a small kana or the prolonged sound mark), as in edited print and ad copy."""
    locale = language.replace("-", "_") or "root"
    return locale + "@lb=strict" if language.split("-")[0] in ("ja", "zh") else locale


@lru_cache(maxsize=64)
def _hyphenator(language: str):
    import pyphen

    found = pyphen.language_fallback(language.replace("-", "_")) if language else None
    return pyphen.Pyphen(lang=found) if found else None


def hyphenation_points(word: str, language: str) -> tuple[int, ...]:
    """Where ``word`` may take a hyphen (character offsets), from the language's dictionary;
    none for a language without one (or no language)."""
    hyphenator = _hyphenator(language)
    if hyphenator is None:
        return ()
    stripped = word.rstrip()
    return tuple(hyphenator.positions(stripped))


HYPHEN = "-"
