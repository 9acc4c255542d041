"""Images from where a catalogue feed points: http(s) URLs fetched safely, once, into a cache.

A feed is data from outside, so a URL is fetched only when every address its host resolves to
is a public one: loopback, private, link-local (the cloud metadata service at 169.254.169.254
among them), shared, reserved and multicast addresses are refused (server-side request
forgery), unless ``PIXIO_ADS_ALLOW_PRIVATE_URLS=1`` (the tests serve images from localhost).
The connection goes to the address that was checked, not to a second lookup of the name (DNS
rebinding), with TLS verified against the host name; each redirect is checked the same way (5
at most). A response must be an image (``Content-Type: image/...``) of at most
``MAX_IMAGE_BYTES``, within ``TIMEOUT`` seconds per read.

The cache (``PIXIO_ADS_CACHE``/downloads) keeps each URL's bytes by content hash and its ETag
and Last-Modified; a later fetch asks the server with If-None-Match / If-Modified-Since, so an
unchanged image is not downloaded again (304), and a cached image newer than ``FRESH_SECONDS``
is used without asking at all. Files are written to a temporary name and renamed when whole.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import os
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.core.storage import cache_root

ALLOW_PRIVATE_ENV = "PIXIO_ADS_ALLOW_PRIVATE_URLS"
MAX_IMAGE_BYTES = 16 * 1024 * 1024  # Merchant Center takes images up to 16 MB
TIMEOUT = 20.0
MAX_REDIRECTS = 5
FRESH_SECONDS = 3600.0  # a cached image this recent is used without asking the server
WORKERS = 8
_USER_AGENT = "pixio-ads (catalogue image fetch)"


class FetchError(Exception):
    """Why a URL gave no usable image, and the fix."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.message, self.fix = message, fix


@dataclass(frozen=True, slots=True)
class Fetched:
    path: Path
    sha256: str
    downloaded: bool  # False: the cache's copy was used (fresh, or the server said 304)


def is_web_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def fetch_all(urls: list[str], workers: int = WORKERS) -> dict[str, Fetched | FetchError]:
    """Every distinct URL fetched (or taken from the cache) concurrently; each result by URL."""
    distinct = list(dict.fromkeys(urls))
    with ThreadPoolExecutor(max(1, min(workers, len(distinct)))) as pool:
        return dict(zip(distinct, pool.map(_fetch_or_error, distinct), strict=True))


# What fetch_all just found, by URL: checking the rows next asks for each URL again (in this
# process or its forks), and neither a second read of the cache's index nor a second timeout is
# worth it. Kept a minute.
_recent: dict[str, tuple[float, Fetched | FetchError]] = {}
RECENT_SECONDS = 60.0


def _fetch_or_error(url: str) -> Fetched | FetchError:
    try:
        found: Fetched | FetchError = fetch(url)
    except FetchError as exc:
        found = exc
    _recent[url] = (time.monotonic(), found)
    return found


def fetch(url: str) -> Fetched:
    """The image at ``url``: the cache's copy when it is fresh or unchanged, else downloaded."""
    recent = _recent.get(url)
    if recent and time.monotonic() - recent[0] < RECENT_SECONDS:
        if isinstance(recent[1], FetchError):
            raise recent[1]
        if recent[1].path.is_file():
            return recent[1]
    entry = _Entry(url)
    cached = entry.read()
    if cached and cached["path"].is_file() and time.time() - cached["checked"] < FRESH_SECONDS:
        return Fetched(cached["path"], cached["sha256"], False)
    headers = {}
    if cached and cached["path"].is_file():
        headers = {name: value for name, value in (("If-None-Match", cached.get("etag")),
                   ("If-Modified-Since", cached.get("last_modified"))) if value}  # fmt: skip
    status, response_headers, body = _get(url, headers)
    if status == 304 and cached:
        entry.write(cached["path"], cached["sha256"], cached.get("etag"), cached.get("last_modified"))
        return Fetched(cached["path"], cached["sha256"], False)
    path, sha256 = entry.store(body)
    entry.write(path, sha256, response_headers.get("etag"), response_headers.get("last-modified"))
    return Fetched(path, sha256, True)


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` following at most MAX_REDIRECTS redirects, each to an allowed address."""
    for _ in range(MAX_REDIRECTS + 1):
        status, response_headers, body = _request(url, headers)
        if status in (301, 302, 303, 307, 308) and response_headers.get("location"):
            url = urljoin(url, response_headers["location"])
            continue
        if status == 304:
            return status, response_headers, b""
        if status != 200:
            raise FetchError(f"the server answered {status} for {url}", "correct the image_link or make it public")
        return status, response_headers, body
    raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}", "link the image's final address")


def _request(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url}", "give the image's http:// or https:// address")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = allowed_address(parts.hostname, port)
    connection = _connection(parts.scheme, parts.hostname, port, address)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"User-Agent": _USER_AGENT, "Accept": "image/*", **headers})
        response = connection.getresponse()
        response_headers = {name.lower(): value for name, value in response.getheaders()}
        body = _read_image(url, response, response_headers) if response.status == 200 else b""
        return response.status, response_headers, body
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"could not fetch {url} ({exc.__class__.__name__}: {exc})", _RETRY_FIX) from None
    finally:
        connection.close()


_RETRY_FIX = "check the URL opens in a browser, then validate again (cached images are not fetched again)"


def allowed_address(host: str, port: int) -> str:
    """The address to connect to: the host's first, when every address it resolves to is
    public (or private ones are allowed); else FetchError (server-side request forgery)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve {host} ({exc})", "check the URL's host name") from None
    addresses = [info[4][0] for info in infos]
    if os.environ.get(ALLOW_PRIVATE_ENV) != "1":
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])
            if not address.is_global or address.is_multicast:
                raise FetchError(
                    f"{host} resolves to {address}, a private, loopback, link-local or reserved address: refused",
                    f"serve the image from a public address (or set {ALLOW_PRIVATE_ENV}=1 for a trusted feed)",
                )
    return addresses[0]


def _connection(scheme: str, host: str, port: int, address: str) -> http.client.HTTPConnection:
    """A connection to the checked ``address``, speaking to ``host`` (Host header, TLS name)."""
    raw = socket.create_connection((address, port), timeout=TIMEOUT)
    if scheme == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=TIMEOUT, context=context)
        connection.sock = context.wrap_socket(raw, server_hostname=host)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        connection.sock = raw
    return connection


def _read_image(url: str, response: http.client.HTTPResponse, headers: dict[str, str]) -> bytes:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind.startswith("image/"):
        raise FetchError(f"{url} is not an image (Content-Type {kind or 'missing'})", "link the image file itself")
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        raise FetchError(f"{url} is {int(declared) / 1e6:.1f} MB, over {MAX_IMAGE_BYTES // 2**20} MB", _SMALLER)
    body = response.read(MAX_IMAGE_BYTES + 1)
    if len(body) > MAX_IMAGE_BYTES:
        raise FetchError(f"{url} is over {MAX_IMAGE_BYTES // 2**20} MB", _SMALLER)
    return body


_SMALLER = "link a smaller version of the image (Merchant Center's own limit is 16 MB)"


def _url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:24]


class _Entry:
    """One URL's place in the cache: its index record (JSON) and its bytes (by content hash)."""

    def __init__(self, url: str):
        self.url = url
        self.folder = cache_root() / "downloads"
        self.index = self.folder / "index" / f"{_url_key(url)}.json"

    def read(self) -> dict | None:
        try:
            record = json.loads(self.index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return {**record, "path": self.folder / record["file"]} if record.get("url") == self.url else None

    def store(self, body: bytes) -> tuple[Path, str]:
        # no fsync: the bytes are named by their hash and the index is re-read, never trusted blind
        sha256 = hashlib.sha256(body).hexdigest()
        path = self.folder / f"{sha256}{Path(urlsplit(self.url).path).suffix.lower()[:6]}"
        return atomic_write_bytes(path, body, fsync=False), sha256

    def write(self, path: Path, sha256: str, etag: str | None, modified: str | None) -> None:
        record = {"url": self.url, "file": path.name, "sha256": sha256, "etag": etag, "last_modified": modified}
        atomic_write_bytes(self.index, json.dumps({**record, "checked": time.time()}).encode(), fsync=False)
