"""Copy options and languages: numbered and language-tagged copy columns.

The platforms number their text options (Meta: up to 5 headlines and 5 primary texts per ad;
Google responsive display ads: up to 5 headlines and 5 descriptions), and so does the sheet:
``headline``, ``headline_2`` ... ``headline_5``; the same for ``cta``, ``primary_text`` and
``description``. A ``languages`` column (BCP 47 tags, ``;``-separated, default ``en``) names
the row's languages; copy for each is in columns tagged with it, ``headline[fr]``,
``cta_2[de]``; the untagged columns are the first language's.

Headlines and calls to action are drawn into the image, so each language x headline option x
CTA option is a variant of its own. Primary texts and descriptions are text options the
exports carry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

COPY_KINDS = ("headline", "cta", "primary_text", "description")
DRAWN_KINDS = ("headline", "cta")  # drawn into the image: variant dimensions
MAX_OPTIONS = 5
DEFAULT_LANGUAGE = "en"
_COLUMN = re.compile(r"^(headline|cta|primary_text|description)(?:_([2-5]))?(?:\[([^\]]+)\])?$")
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?$")

Problem = Callable[[str, str, str, "str | None"], None]  # (column, message, fix, value)


@dataclass(frozen=True, slots=True)
class LanguageCopy:
    """One language's copy options, first option first (empty cells left out)."""

    language: str
    headlines: tuple[str, ...]
    ctas: tuple[str, ...]
    primary_texts: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = ()

    def options(self, kind: str) -> tuple[str, ...]:
        return {"headline": self.headlines, "cta": self.ctas, "primary_text": self.primary_texts}.get(
            kind, self.descriptions
        )


@lru_cache(maxsize=4096)  # the same header names for every row
def copy_column(name: str) -> tuple[str, int, str | None] | None:
    """(kind, option number 1-5, language tag or None) of a copy column's name, else None."""
    match = _COLUMN.match(name)
    if not match:
        return None
    kind, option, language = match.groups()
    return kind, int(option or 1), language


def column_name(kind: str, option: int, language: str | None) -> str:
    return kind + (f"_{option}" if option > 1 else "") + (f"[{language}]" if language else "")


@lru_cache(maxsize=1024)
def normalise_tag(tag: str) -> str | None:
    """``pt-br`` -> ``pt-BR``, ``zh-hant`` -> ``zh-Hant``; None when it is not a language tag
    of the form language[-Script][-REGION]."""
    tag = tag.strip().replace("_", "-")
    if not _TAG.match(tag):
        return None
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.title() if len(part) == 4 else part.upper())
    return "-".join(out)


def parse_languages(cell: str, problem: Problem) -> tuple[str, ...]:
    """The row's languages, in order, from ``en; fr; pt-BR`` (default ``en``)."""
    tags = []
    for part in filter(str.strip, cell.split(";")):
        tag = normalise_tag(part)
        if tag is None:
            fix = "write BCP 47 language tags separated by ';', e.g. en; fr; pt-BR; zh-Hant"
            problem("languages", f"{part.strip()!r} is not a language tag", fix, part.strip())
        elif tag in tags:
            problem("languages", f"{tag} is listed twice", "list each language once", part.strip())
        else:
            tags.append(tag)
    return tuple(tags) or (DEFAULT_LANGUAGE,)


def read_copy(cells: dict[str, str], languages: tuple[str, ...], problem: Problem) -> tuple[LanguageCopy, ...]:
    """Each language's copy options from the row's copy cells. The untagged columns (or those
    tagged with it) are the first language's; every language needs a headline and a CTA."""
    found: dict[tuple[str, str], dict[int, str]] = {}
    for name, text in cells.items():
        parsed = copy_column(name)
        if parsed is None or not text:
            continue
        kind, option, tag = parsed
        language = _language_of(name, tag, languages, problem)
        if language is not None:
            found.setdefault((language, kind), {})[option] = text
    copies = []
    for index, language in enumerate(languages):
        tag = None if index == 0 else language
        for kind in COPY_KINDS:
            _no_repeats(kind, tag, found.get((language, kind), {}), problem)
        for kind in DRAWN_KINDS:
            if not found.get((language, kind)) and index > 0:  # the first language's: required columns
                fix = f"fill in the {language} {kind}, or remove {language} from the languages column"
                problem(column_name(kind, 1, tag), f"the {language} {kind} is empty", fix, None)
        options = [_ordered(found.get((language, kind), {})) for kind in COPY_KINDS]
        copies.append(LanguageCopy(language, *options))
    return tuple(copies)


def _language_of(name: str, tag: str | None, languages: tuple[str, ...], problem: Problem) -> str | None:
    if tag is None:
        return languages[0]
    language = normalise_tag(tag)
    if language == languages[0]:
        base = name.split("[")[0]
        fix = f"write it in the untagged column {base} (the first language's copy is untagged)"
        problem(name, f"{languages[0]} is the row's first language", fix, None)
        return None
    if language in languages:
        return language
    fix = f"add {tag} to the languages column ({'; '.join(languages)}), or rename the column"
    problem(name, f"column {name} is for language {tag!r}, which the languages column does not list", fix, None)
    return None


def _ordered(options: dict[int, str]) -> tuple[str, ...]:
    return tuple(options[number] for number in sorted(options))


def _no_repeats(kind: str, tag: str | None, options: dict[int, str], problem: Problem) -> None:
    seen: set[str] = set()
    for number in sorted(options):
        if options[number] in seen:
            column = column_name(kind, number, tag)
            problem(
                column,
                f"repeats an earlier {kind} option",
                "write a different option or clear the cell",
                options[number],
            )
        seen.add(options[number])


def copy_columns_in(names: Iterable[str]) -> list[str]:
    """The copy columns among a sheet's header names."""
    return [name for name in names if copy_column(name)]
