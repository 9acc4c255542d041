"""Product catalogue feeds as the ad platforms publish them, read into items.

Google Merchant Center takes a delimited text file (tab- or comma-separated, a header row of
attribute names) or XML, RSS 2.0 (``<rss><channel><item>``) or Atom 1.0 (``<feed><entry>``)
with the attributes in the ``g:`` namespace (http://base.google.com/ns/1.0), "Product data
specification" (support.google.com/merchants/answer/7052112) and "Supported feed formats"
(support.google.com/merchants/answer/160567). Meta's catalogue takes the same shapes, CSV/TSV
and RSS/Atom XML with ``g:`` attributes ("Catalog data feed" spec, facebook.com/business/help/
120325381656392). So one reader serves both: attribute names lower-cased, ``g:`` and spaces
dropped (``image link`` -> ``image_link``), repeated elements (``additional_image_link``) and
comma-separated ones in text feeds kept as lists.

Checked per item, every problem kept with the item's id and the attribute: the attributes
both platforms require (id, title, description, link, image_link, price, availability), a
duplicate id, a price or sale price that is not "15.00 USD", an availability neither platform
knows. ``read_feed`` returns the items and the problems; the rest of the feed goes on.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pixio_ads.core.errors import Issue

G_NAMESPACE = "http://base.google.com/ns/1.0"
FEED_SUFFIXES = (".tsv", ".xml")  # a .csv or .txt is a feed only with --recipe (else a campaign)
REQUIRED = ("id", "title", "description", "link", "image_link", "price", "availability")
LISTS = ("additional_image_link", "lifestyle_image_link", "product_type", "included_destination")
# Merchant Center's and Meta's availability values (the latter's "available for order" and
# "discontinued"), with underscores as both also take them.
AVAILABILITY = ("in stock", "out of stock", "preorder", "backorder", "available for order", "discontinued")
_PRICE = re.compile(r"^\d+(?:\.\d{1,2})?\s?[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One product: its attributes (text, or a list for repeatable ones) and where it is."""

    position: int  # the row as a spreadsheet shows it (header = 1), or the item's number in XML
    attributes: dict[str, str | list[str]]
    in_xml: bool = False

    @property
    def row(self) -> int | None:
        """The spreadsheet row of a text feed's item (XML items are named by their id)."""
        return None if self.in_xml else self.position

    @property
    def id(self) -> str:
        return str(self.attributes.get("id", "")).strip()


@dataclass
class Feed:
    path: Path
    format: str  # "tsv", "csv", "rss", "atom"
    items: list[FeedItem] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)  # every attribute some item has
    issues: list[Issue] = field(default_factory=list)


def looks_like_feed(path: Path) -> bool:
    return path.suffix.lower() in FEED_SUFFIXES


def read_feed(path: Path) -> Feed:
    """The feed's items and the problems found in them (none raised: each names its item)."""
    head = path.read_bytes()[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    feed = _read_xml(path) if head.startswith(b"<") else _read_text(path)
    _check_items(feed)
    return feed


def _read_text(path: Path) -> Feed:
    first = path.read_text(encoding="utf-8-sig", errors="replace").split("\n", 1)[0]
    separator = "\t" if "\t" in first else ","
    frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    names = [attribute_name(column) for column in frame.columns]
    feed = Feed(path, "tsv" if separator == "\t" else "csv", attributes=list(dict.fromkeys(names)))
    for index, values in enumerate(frame.itertuples(index=False, name=None)):
        attributes: dict[str, str | list[str]] = {}
        for name, value in zip(names, values, strict=True):
            value = value.strip()
            attributes[name] = [part.strip() for part in value.split(",") if part.strip()] if name in LISTS else value
        feed.items.append(FeedItem(index + 2, attributes))
    return feed


def _read_xml(path: Path) -> Feed:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        return Feed(path, "xml", issues=[Issue(str(path), f"not well-formed XML ({exc})", _XML_FIX)])
    atom = root.tag.endswith("}feed") or root.tag == "feed"
    elements = [child for child in root.iter() if _local(child.tag) == ("entry" if atom else "item")]
    feed = Feed(path, "atom" if atom else "rss")
    seen: dict[str, None] = {}
    for index, element in enumerate(elements, start=1):
        attributes: dict[str, str | list[str]] = {}
        for child in element:
            name = attribute_name(_local(child.tag))
            text = _element_text(child, name)
            if name in LISTS:
                attributes.setdefault(name, []).append(text)  # type: ignore[union-attr]
            elif name not in attributes or (atom and name == "link" and not attributes[name]):
                attributes[name] = text
            seen.setdefault(name)
        feed.items.append(FeedItem(index, attributes, in_xml=True))
    feed.attributes = list(seen)
    return feed


_XML_FIX = "export the feed again, or check it with an XML validator"


def _element_text(element: ElementTree.Element, name: str) -> str:
    """The element's text; Atom's ``<link href=...>``; a nested one (``g:shipping``) as
    ``country:price`` parts joined with ``:``, as Merchant Center's text format writes it."""
    if name == "link" and element.get("href"):
        return element.get("href", "").strip()
    children = list(element)
    if children:
        return ":".join((child.text or "").strip() for child in children)
    return (element.text or "").strip()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def attribute_name(header: str) -> str:
    """``g:image_link``, ``Image Link``, ``image link`` -> ``image_link``."""
    name = header.strip().lower()
    name = name.removeprefix("g:")
    return re.sub(r"[\s\-]+", "_", name)


def _check_items(feed: Feed) -> None:
    missing_columns = [name for name in REQUIRED if feed.items and name not in feed.attributes]
    for name in missing_columns:
        fix = f"add the {name} attribute (a column, or <g:{name}> in each item): both platforms require it"
        feed.issues.append(Issue(str(feed.path), f"the feed has no {name} attribute", fix, column=name))
    first_at: dict[str, int] = {}
    for item in feed.items:
        problem = _reporter(feed, item)
        for name in REQUIRED:
            if name not in missing_columns and not item.attributes.get(name):
                problem(name, f"{name} is empty", f"fill in the item's {name}")
        if item.id and item.id in first_at:
            where = f"item {first_at[item.id]}" if item.in_xml else f"row {first_at[item.id]}"
            problem("id", f"id {item.id!r} is used again (first at {where})", "give every item its own id")
        first_at.setdefault(item.id, item.position)
        for name in ("price", "sale_price"):
            value = str(item.attributes.get(name) or "")
            if value and not _PRICE.match(value):
                problem(
                    name, f"cannot read {value!r} as a price", "write the amount and the ISO currency, e.g. 15.00 USD"
                )
        availability = str(item.attributes.get("availability") or "").replace("_", " ").lower()
        if availability and availability not in AVAILABILITY:
            problem("availability", f"unknown availability {availability!r}", "use one of: " + ", ".join(AVAILABILITY))


def _reporter(feed: Feed, item: FeedItem):
    def problem(attribute: str, message: str, fix: str) -> None:
        value = item.attributes.get(attribute)
        feed.issues.append(
            Issue(
                str(feed.path),
                message,
                fix,
                row=item.row,
                column=attribute,
                item=item.id or None,
                value=value if isinstance(value, str) and value else None,
            )  # fmt: skip
        )

    return problem


def price_parts(value: str) -> tuple[str, str] | None:
    """``"15.00 USD"`` -> (``"15.00"``, ``"USD"``); None when it is no price."""
    value = value.strip()
    if not _PRICE.match(value):
        return None
    return value[:-3].strip(), value[-3:]
