"""A recipe turns a catalogue feed's items into campaign rows.

``recipe.yaml``: every key is a campaign column (columns.py) whose value is a Jinja template
over the item's attributes; ``where:`` is a Jinja expression choosing the items. Defaults:
``product_id: "{{ id }}"``, ``product_name: "{{ title }}"``, ``product_image:
"{{ image_link }}"``::

    where: availability == 'in stock' and custom_label_0 == 'spring'
    campaign_id: spring-catalogue
    template: lifestyle
    audiences: runners; commuters
    formats: square; story
    headline: "{{ title | truncate(24) }}"
    primary_text: "Now {{ sale_price or price | money }}"
    cta: Shop now

Attributes an item lacks are empty (so ``{% if sale_price %}`` works); a name no item of the
feed has is an error. Filters beside Jinja's own: ``money`` (``"15.00 USD"`` -> ``$15.00``),
and ``truncate`` cuts at the length given (no leeway) with ``…``. Templates run sandboxed: a
feed is data from outside. Problems name the recipe file and line (an unknown column, a template
that does not compile) or the item and the recipe's line (a template that fails on an item).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pixio_ads.campaign.columns import KNOWN_COLUMNS
from pixio_ads.campaign.feeds import Feed, FeedItem, price_parts
from pixio_ads.core.errors import Issue, ValidationError

DEFAULTS = {"product_id": "{{ id }}", "product_name": "{{ title }}", "product_image": "{{ image_link }}"}
WHERE = "where"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "INR": "₹"}


def money(value: object) -> str:
    """``"15.00 USD"`` -> ``$15.00``; ``"12.5 EUR"`` -> ``€12.50``; other currencies keep their
    code (``15.00 CHF``); text that is no price is returned as it is."""
    parts = price_parts(str(value or ""))
    if parts is None:
        return str(value or "")
    amount, currency = f"{float(parts[0]):.2f}", parts[1]
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


def _truncate(value: object, length: int = 255, end: str = "…") -> str:
    text = str(value or "")
    return text if len(text) <= length else text[: max(0, length - len(end))].rstrip() + end


def _environment() -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    environment.filters.update(money=money, truncate=_truncate)
    return environment


@dataclass
class Recipe:
    path: Path
    templates: dict[str, tuple[Callable, int]] = field(default_factory=dict)  # column -> (render, line)
    sources: dict[str, list[str]] = field(default_factory=dict)  # column -> the attributes its template reads
    where: tuple[Callable, int] | None = None

    def rows(self, feed: Feed) -> tuple[list[dict], list[FeedItem], list[Issue]]:
        """(campaign records, the item each comes from, problems) for the items ``where`` keeps."""
        records, origins, issues = [], [], []
        blank = dict.fromkeys(feed.attributes, "")
        for item in feed.items:
            context = {**blank, **item.attributes}
            if self.where and not self._evaluate(WHERE, *self.where, context, item, issues):
                continue
            record = {column: self._evaluate(column, render, line, context, item, issues)
                      for column, (render, line) in self.templates.items()}  # fmt: skip
            records.append({column: "" if value is None else str(value).strip() for column, value in record.items()})
            origins.append(item)
        return records, origins, issues

    def _evaluate(self, name: str, render, line: int, context: dict, item: FeedItem, issues: list) -> object:
        try:
            return render(context)
        except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
            message = f"{name}: {exc}"
            if any(issue.message == message for issue in issues[-50:]):
                return None  # the same failure on item after item (a name no item has): reported once
            fix = f"correct {name} on line {line} of the recipe, or the item's attributes"
            issues.append(Issue(str(self.path), message, fix, line=line, item=item.id or None, column=name))
            return None


def load_recipe(path: Path) -> Recipe:
    """The recipe's templates, compiled; ValidationError names the file and line of each problem."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValidationError([Issue(str(path), f"cannot read the recipe ({exc})", _RECIPE_FIX)]) from None
    if not isinstance(node, yaml.MappingNode):
        raise ValidationError([Issue(str(path), "a recipe is a mapping of columns to templates", _RECIPE_FIX)])
    recipe, issues, environment = Recipe(path), [], _environment()
    entries = {key.value: (value, key.start_mark.line + 1) for key, value in node.value}
    for column, text in DEFAULTS.items():
        entries.setdefault(column, (yaml.ScalarNode("tag:yaml.org,2002:str", text), 0))
    for column, (value, line) in entries.items():
        problem = _compile(recipe, environment, column, value, line)
        if problem:
            issues.append(Issue(str(path), problem[0], problem[1], line=line or None, key=column))
    if issues:
        raise ValidationError(issues)
    return recipe


_RECIPE_FIX = "write it as YAML: one `column: template` per line (docs/catalogue.md)"


def _compile(recipe: Recipe, environment, column: str, value, line: int) -> tuple[str, str] | None:
    """Compile one entry into ``recipe``; (message, fix) when it cannot be."""
    if column != WHERE and column not in KNOWN_COLUMNS:
        return f"{column!r} is no campaign column", "use a column of docs/spreadsheet.md, or `where`"
    if not isinstance(value, yaml.ScalarNode):
        return f"{column} must be a text template, not a list or mapping", "write it on one line, e.g. '{{ title }}'"
    try:
        if column == WHERE:
            expression = environment.compile_expression(value.value)
            recipe.where = (lambda context, run=expression: bool(run(**context)), line)
        elif not any(mark in value.value for mark in ("{{", "{%", "{#")):  # a constant: no Jinja per item
            recipe.templates[column] = (lambda context, text=value.value: text, line)
            recipe.sources[column] = []
        else:
            template = environment.from_string(value.value)
            names = sorted(meta.find_undeclared_variables(environment.parse(value.value)))
            recipe.sources[column] = names  # rendered with just these: Jinja copies the context it gets
            recipe.templates[column] = (
                lambda context, run=template, names=names: run.render({n: context[n] for n in names if n in context}),
                line,
            )
    except TemplateError as exc:
        return (
            f"{column} does not compile ({exc})",
            "correct the Jinja syntax: {{ attribute }}, {% if %}...{% endif %}",
        )
    return None
