"""Catalogue feeds in (Merchant Center RSS and Atom, Meta CSV, written after the specifications'
own examples: tests/fixtures/feeds), a recipe turning items into campaign rows that go through
today's validation, item images fetched from a local HTTP server (safely, once, cached), and the
supplemental feeds back to Merchant Center and Meta from a real run."""

from __future__ import annotations

import csv
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.campaign.feeds import read_feed
from pixio_ads.campaign.recipe import load_recipe, money
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.cli import EXIT_INVALID_INPUT, app
from pixio_ads.core import fetch
from pixio_ads.core.errors import ValidationError

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
RECIPE = """\
where: availability in ('in stock', 'in_stock') and custom_label_0 == 'spring'
campaign_id: spring-catalogue
template: studio
audiences: shoppers
styles: minimal
formats: square
headline: "{{ title | truncate(24) }}"
cta: Shop now
primary_text: "Now {{ (sale_price or price) | money }}"
"""


def png(size=(64, 96)) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (16, 16, 48, 80))
    buffer = BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class Images(BaseHTTPRequestHandler):
    """Serves ``/<name>.png``; ``/page.png`` answers HTML, ``/moved.png`` redirects, others 404.
    Honours If-None-Match, counting the bodies it sent."""

    sent: list[str] = []
    asked_for: list[str] = []
    asked = 0
    body = png()

    def do_GET(self):  # noqa: N802 - http.server's name
        name = self.path.lstrip("/")
        Images.asked += name == "tv.png"
        Images.asked_for.append(name)
        if name == "moved.png":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
        elif name == "slow.png":
            time.sleep(1.5)  # past the test's read timeout
            self._send(200, "image/png", self.body)
        elif name == "page.png":
            self._send(200, "text/html", b"<html>not an image</html>")
        elif name in ("missing.png", "dress.png") or not name.endswith(".png"):
            self._send(404, "text/plain", b"no")
        elif self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.end_headers()
        else:
            Images.sent.append(name)
            self._send(200, "image/png", self.body, etag='"v1"')

    def _send(self, status, kind, body, etag=None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def image_server(monkeypatch, tmp_path):
    monkeypatch.setenv(fetch.ALLOW_PRIVATE_ENV, "1")
    monkeypatch.setenv("PIXIO_ADS_CACHE", str(tmp_path / "cache"))
    Images.sent, Images.asked, Images.asked_for = [], 0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def feed_copy(folder: Path, name: str, base: str) -> Path:
    path = folder / name
    path.write_text((FEEDS / name).read_text(encoding="utf-8").replace("IMAGE_BASE", base), encoding="utf-8")
    (folder / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
    return path


def test_feeds_as_published_are_read_with_their_attributes(tmp_path):
    rss = read_feed(feed_copy(tmp_path, "merchant-center.xml", "https://cdn.example.com"))
    assert rss.format == "rss" and [item.id for item in rss.items] == ["TV_123456", "DRESS_1"]
    tv = rss.items[0].attributes
    assert tv["price"] == "159.00 USD" and tv["availability"] == "in_stock" and tv["brand"] == "LG"
    assert tv["additional_image_link"] == [
        "https://cdn.example.com/tv-side.png",
        "https://cdn.example.com/tv-back.png",
    ]
    assert tv["shipping"] == "US:Standard:14.95 USD" and tv["product_type"] == [
        "Consumer Electronics > TVs > Flat Panel TVs"
    ]
    assert rss.issues == []
    atom = read_feed(feed_copy(tmp_path, "atom.xml", "https://cdn.example.com"))
    lamp = atom.items[0].attributes
    assert atom.format == "atom" and (lamp["title"], lamp["link"]) == (
        "Halo desk lamp",
        "https://www.example.com/lamp",
    )
    meta = read_feed(feed_copy(tmp_path, "meta-catalog.csv", "https://cdn.example.com"))
    assert meta.format == "csv" and meta.items[1].row == 3 and meta.items[0].attributes["sale_price"] == "7.99 USD"


def test_feed_problems_name_the_item_and_the_attribute(tmp_path):
    path = tmp_path / "feed.tsv"
    header = "id\ttitle\tdescription\tlink\timage_link\tprice\tavailability\n"
    good = "A1\tMug\tA mug\thttps://e.com/a\thttps://e.com/a.png\t15.00 USD\tin stock\n"
    path.write_text(header + good + "A1\tLamp\t\thttps://e.com/l\thttps://e.com/l.png\t15 dollars\tsoon\n")
    found = {(issue.item, issue.row, issue.column): issue for issue in read_feed(path).issues}
    assert set(found) == {("A1", 3, "description"), ("A1", 3, "id"), ("A1", 3, "price"), ("A1", 3, "availability")}
    assert "first at row 2" in found["A1", 3, "id"].message and "15.00 USD" in found["A1", 3, "price"].fix
    path.write_text("id\ttitle\n" + "B1\tBottle\n")
    missing = {issue.column for issue in read_feed(path).issues}
    assert missing == {"description", "link", "image_link", "price", "availability"}


def test_recipe_problems_name_the_file_and_the_line(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("campaign_id: x\nheadlin: '{{ title }}'\ncta: '{{ title'\nwhere: 'price >'\n", encoding="utf-8")
    with pytest.raises(ValidationError) as refused:
        load_recipe(path)
    issues = {issue.key: issue for issue in refused.value.issues}
    assert (issues["headlin"].line, issues["cta"].line, issues["where"].line) == (2, 3, 4)
    assert "no campaign column" in issues["headlin"].message and "does not compile" in issues["cta"].message
    assert money("15.00 USD") == "$15.00" and money("12.5 EUR") == "€12.50" and money("3.00 CHF") == "3.00 CHF"


def test_a_feed_and_recipe_validate_as_rows_with_images_fetched_once(tmp_path, image_server, monkeypatch):
    feed = feed_copy(tmp_path, "merchant-center.xml", image_server)
    campaign = load_campaign(feed, tmp_path / "recipe.yaml")
    [row] = campaign.rows  # the dress is out of stock: the where leaves it out (its 404 image never fetched)
    assert (row.product_id, row.product_name, row.product_image) == ("TV_123456", tv_title(), f"{image_server}/tv.png")
    assert row.copy[0].headlines == ('LG 22LB4510 - 22" LED T…',) and row.copy[0].primary_texts == ("Now $159.00",)
    assert row.product_image_path.read_bytes() == Images.body and Images.sent == ["tv.png"]
    load_campaign(feed, tmp_path / "recipe.yaml")
    assert Images.sent == ["tv.png"] and Images.asked == 1  # fresh in the cache: not asked again
    monkeypatch.setattr(fetch, "FRESH_SECONDS", 0)
    monkeypatch.setattr(fetch, "_recent", {})  # a later process: what this one just fetched is not at hand
    again = fetch.fetch(f"{image_server}/tv.png")  # stale: asked with its ETag, 304, no body sent
    assert Images.asked == 2 and Images.sent == ["tv.png"] and not again.downloaded


def tv_title() -> str:
    return 'LG 22LB4510 - 22" LED TV - 1080p (FullHD)'


def test_an_unfetchable_image_is_its_items_problem(tmp_path, image_server):
    feed = feed_copy(tmp_path, "meta-catalog.csv", image_server)
    with pytest.raises(ValidationError) as refused:
        load_campaign(feed, tmp_path / "recipe.yaml")
    [issue] = refused.value.issues
    assert Images.asked_for.count("missing.png") == 1  # fetched once: the rows' check remembers the failure
    assert (issue.item, issue.row, issue.column) == ("DB_2", 3, "product_image")
    assert "answered 404" in issue.message and "image_link" in issue.fix and issue.file == str(feed)


@pytest.mark.parametrize(
    "name, message",
    [
        ("page.png", "not an image"),
        ("moved.png", "169.254.169.254"),
        ("big.png", "over 0 MB"),
        ("slow.png", "timed out"),
    ],
)
def test_what_a_fetch_refuses(image_server, monkeypatch, name, message):
    if name == "moved.png":  # the redirect's target is checked as the URL was: private addresses refused
        monkeypatch.delenv(fetch.ALLOW_PRIVATE_ENV)
        monkeypatch.setattr(fetch, "allowed_address", _public_for_localhost(fetch.allowed_address))
    if name == "big.png":
        monkeypatch.setattr(fetch, "MAX_IMAGE_BYTES", 100)
    if name == "slow.png":
        monkeypatch.setattr(fetch, "TIMEOUT", 0.5)
    with pytest.raises(fetch.FetchError, match=message):
        fetch.fetch(f"{image_server}/{name}")


def _public_for_localhost(check):
    """The test server's 127.0.0.1 passes; every other host goes through the real check."""
    return lambda host, port: "127.0.0.1" if host == "127.0.0.1" else check(host, port)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "[::1]"])
def test_private_addresses_are_refused(host, monkeypatch):
    monkeypatch.delenv(fetch.ALLOW_PRIVATE_ENV, raising=False)
    with pytest.raises(fetch.FetchError, match="refused"):
        fetch.fetch(f"http://{host}/image.png")


def test_a_feed_without_a_recipe_is_a_clear_error(tmp_path):
    feed = feed_copy(tmp_path, "atom.xml", "https://cdn.example.com")
    result = CliRunner().invoke(app, ["validate", str(feed)])
    assert result.exit_code == EXIT_INVALID_INPUT and "needs a recipe" in result.output and "--recipe" in result.output


def test_run_from_a_feed_and_the_supplemental_feeds_back(tmp_path, image_server):
    feed = feed_copy(tmp_path, "merchant-center.xml", image_server)
    out = tmp_path / "out"
    runner = CliRunner()
    ran = runner.invoke(
        app, ["run", str(feed), "--recipe", str(tmp_path / "recipe.yaml"), "--out", str(out), "--steps", "1"]
    )
    assert ran.exit_code == 0, ran.output
    [row] = pq.read_table(out / "manifest.parquet").to_pylist()
    assert (
        row["product_id"] == "TV_123456" and Path(row["product_image"]).read_bytes() == Images.body
    )  # the cache's copy
    refused = runner.invoke(app, ["export", str(out), "--to", "merchant-center"])
    assert refused.exit_code == EXIT_INVALID_INPUT and "--base-url" in refused.output
    base = "https://cdn.example.com/spring"
    for target, name, column, delimiter in (
        ("merchant-center", "merchant-center.tsv", "lifestyle_image_link", "\t"),
        ("meta-catalog", "meta-catalog.csv", "additional_image_link", ","),
    ):
        exported = runner.invoke(app, ["export", str(out), "--to", target, "--base-url", base])
        assert exported.exit_code == 0, exported.output
        folder = out / "export" / target
        with open(folder / name, encoding="utf-8-sig", newline="") as handle:
            lines = list(csv.DictReader(handle, delimiter=delimiter))
        assert lines == [{"id": "TV_123456", column: f"{base}/images/{Path(row['output_path']).name}"}]
        assert (folder / "images" / Path(row["output_path"]).name).read_bytes() == (
            out / row["output_path"]
        ).read_bytes()


def test_image_links_on_object_storage_are_copied_into_the_cache(tmp_path, monkeypatch):
    import fsspec

    monkeypatch.setenv("PIXIO_ADS_CACHE", str(tmp_path / "cache"))
    fsspec.filesystem("memory").pipe("/catalogue/tv.png", png())  # fsspec's in-memory store, as s3:// is read
    feed = feed_copy(tmp_path, "atom.xml", "memory://catalogue").read_text().replace("lamp.png", "tv.png")
    (tmp_path / "atom.xml").write_text(feed.replace("preorder", "in stock"), encoding="utf-8")
    recipe = RECIPE.replace(" and custom_label_0 == 'spring'", "").replace("(sale_price or price)", "price")
    (tmp_path / "recipe.yaml").write_text(recipe, encoding="utf-8")  # no item of this feed has a sale_price
    [row] = load_campaign(tmp_path / "atom.xml", tmp_path / "recipe.yaml").rows
    assert row.product_image == "memory://catalogue/tv.png" and row.product_image_path.read_bytes() == png()
