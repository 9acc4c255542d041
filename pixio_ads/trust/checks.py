"""What a content-policy check returns (Match), and the checks a policy file names by import
path. Shared by the text checks (policy.py) and the image checks (image_policy.py)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from pixio_ads.core.errors import Issue


@dataclass(frozen=True, slots=True)
class Match:
    category: str
    term: str  # the policy's term or pattern that matched
    field: str = ""  # which text of the variant

    def columns(self) -> dict[str, str]:
        """The manifest's policy columns of a blocked row."""
        return {"policy_category": self.category, "policy_term": self.term, "policy_field": self.field}


Checker = Callable[[str, str], "Match | None"]


def import_functions(file: str, key: str, references: list, issues: list[Issue]) -> list[Callable]:
    """Functions a policy file names by ``package.module:function``; one that cannot be
    imported is an issue naming the file and ``key.index``."""
    functions: list[Callable] = []
    for index, reference in enumerate(references):
        module, _, attribute = str(reference).partition(":")
        try:
            functions.append(getattr(importlib.import_module(module), attribute))
        except (ImportError, AttributeError, ValueError) as exc:
            fix = "write it as package.module:function, importable here"
            issues.append(
                Issue(
                    file,
                    f"cannot import {key.rstrip('s').replace('_', ' ')}: {exc}",
                    fix,
                    key=f"{key}.{index}",
                    value=str(reference),
                )
            )
    return functions
