"""What validating a campaign file keeps while it goes: per file (folder, images, templates,
brand kits, each checked once) and per row (its number and problems)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pixio_ads.campaign.assets import BrandKits, ImageChecker
from pixio_ads.campaign.prompts import find_template
from pixio_ads.core.errors import Issue


class CampaignCheck:
    """What the rows of one file share while they are validated: the folder, images,
    templates and brand kits (each checked once), and problems reported once per file."""

    def __init__(self, path: Path):
        self.file = str(path)
        self.folder = path.parent.resolve()
        self.images = ImageChecker(self.file, self.folder)
        self.brands = BrandKits(self.folder)
        self.issues: list[Issue] = []
        self.notes: list[str] = []  # warnings about rows that are valid
        self._templates: dict[str, Path | None] = {}

    def template(self, name: str) -> Path | None:
        if name not in self._templates:
            self._templates[name] = find_template(name, self.folder)
        return self._templates[name]

    def report_once(self, issues: list[Issue]) -> None:
        self.issues.extend(issue for issue in issues if issue not in self.issues)


@dataclass
class RowCheck:
    """One row being validated: its number (header = 1) and the problems found in it."""

    campaign: CampaignCheck
    row: int
    issues: list[Issue] = field(default_factory=list)

    def problem(self, column: str, message: str, fix: str, value: str | None = None) -> None:
        self.issues.append(Issue(self.campaign.file, message, fix, row=self.row, column=column, value=value))

    def warn(self, column: str, message: str) -> None:
        """Something a valid row will do that its author may not expect."""
        self.campaign.notes.append(f"{self.campaign.file}, row {self.row}, column '{column}': {message}")
