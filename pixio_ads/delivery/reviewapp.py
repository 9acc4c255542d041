"""The review page: a local web app (FastAPI + Jinja2, served by uvicorn) over a run's output
folder, to approve or reject creatives, best-scored first.

    pixio-ads review out/demo                 # http://127.0.0.1:8765/

- ``/``: the grid, grouped by product and format, sorted by rank; filters by product,
  audience, style, format, language, status and decision; approve / reject / undo by click or key
  (a, r, u; arrows move); "approve top K" of every product x format.
- ``/creative/{variant_id}``: the creative at 1:1 with its prompt, seed, model, scores,
  watermark and C2PA state, and the history of decisions.
- ``/api/...``: the same as JSON. Every decision is saved when it is made (review.py).

Safety: it listens on 127.0.0.1 unless told otherwise, and then only with an access token
(``?token=`` once, then a same-site cookie). Changes need a custom request header, which a
page of another site cannot send (no cross-site request forgery against the local port).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from pixio_ads.core.errors import PixioError
from pixio_ads.creative.scoring import COMPONENTS
from pixio_ads.delivery.review import ReviewStore, status_of, write_approved
from pixio_ads.outputs import outlock
from pixio_ads.outputs.manifest import read_table
from pixio_ads.outputs.report import thumbnail_path

TOKEN_COOKIE = "pixio_review_token"
CHANGE_HEADER = "x-pixio-review"  # required on every change (see the module docstring)
FILTERS = ("product_id", "audience", "style", "format", "language", "status", "decision")
SERVED_FOLDERS = ("images", "videos", "thumbs", "results")  # results/: the results loop's chart
WEB = Path(str(resources.files("pixio_ads").joinpath("web")))


class DecisionIn(BaseModel):
    variant_id: str
    decision: Literal["approved", "rejected", "unreviewed"]
    note: str = Field("", max_length=2000)
    reviewer: str = Field("", max_length=100)


class TopIn(BaseModel):
    k: int = Field(1, ge=1, le=100)
    reviewer: str = Field("", max_length=100)


class DoneIn(BaseModel):
    reviewer: str = Field("", max_length=100)


@dataclass
class ReviewContext:
    out_dir: Path
    reviewer: str
    token: str | None = None
    on_done: Callable[[str], str] | None = None  # (reviewer) -> message; None: nothing to resume
    done_event: threading.Event | None = None


class _Manifest:
    """The manifest's rows (and an index by variant id), read again when the file changes
    (a rerun, the flow's merge)."""

    def __init__(self, path: Path):
        self.path, self._stamp, self._rows, self._by_id = path, None, [], {}
        self._lock = threading.Lock()

    def rows(self) -> list[dict]:
        with self._lock:
            stamp = self.path.stat().st_mtime_ns
            if stamp != self._stamp:
                self._rows, self._stamp = read_table(self.path).to_pylist(), stamp
                self._by_id = {row["variant_id"]: row for row in self._rows}
            return self._rows

    def row(self, variant_id: str) -> dict:
        self.rows()  # fresh
        if variant_id not in self._by_id:
            raise HTTPException(404, f"no creative {variant_id} in this output folder")
        return self._by_id[variant_id]


def create_app(context: ReviewContext) -> FastAPI:
    app = FastAPI(title="pixio-ads review", docs_url=None, redoc_url=None)
    store = ReviewStore(context.out_dir)
    manifest = _Manifest(context.out_dir / "manifest.parquet")

    @app.middleware("http")
    async def access(request: Request, call_next):
        return await _check_access(request, call_next, context)

    _add_pages(app, context, store, manifest)
    _add_api(app, context, store, manifest)
    return app


def _add_pages(app: FastAPI, context: ReviewContext, store: ReviewStore, manifest: "_Manifest") -> None:
    """The grid, a creative's page, and the files they show."""
    templates = Jinja2Templates(directory=str(WEB))

    @app.get("/", response_class=HTMLResponse)
    def grid(request: Request):
        chosen = {name: request.query_params.get(name, "") for name in FILTERS}
        creatives = _creatives(manifest.rows(), store)
        shown = [c for c in creatives if all(not v or str(c[k]) == v for k, v in chosen.items())]
        options = {name: sorted({str(c[name]) for c in creatives}) for name in FILTERS}
        return templates.TemplateResponse(
            request,
            "review.html",
            {"groups": _groups(shown), "options": options, "chosen": chosen, "reviewer": context.reviewer,
             "total": len(creatives), "shown": len(shown), "waiting": context.on_done is not None},
        )  # fmt: skip

    @app.get("/results", response_class=HTMLResponse)
    def results(request: Request):
        """What wins so far (pixio_ads/results/), from the figures `pixio-ads results` kept."""
        return templates.TemplateResponse(
            request, "results.html", {"reviewer": context.reviewer, **_results(context.out_dir)}
        )

    @app.get("/creative/{variant_id}", response_class=HTMLResponse)
    def detail(request: Request, variant_id: str):
        creative = _creative(manifest.row(variant_id), store.latest())
        history = store.history(variant_id)
        return templates.TemplateResponse(
            request,
            "detail.html",
            {"c": creative, "history": history, "components": COMPONENTS, "reviewer": context.reviewer},
        )

    @app.get("/files/{folder}/{path:path}")
    def files(folder: str, path: str):
        base = (context.out_dir / folder).resolve()
        target = (base / path).resolve()
        if folder not in SERVED_FOLDERS or not target.is_relative_to(base) or not target.is_file():
            raise HTTPException(404)
        return FileResponse(target)


def _add_api(app: FastAPI, context: ReviewContext, store: ReviewStore, manifest: "_Manifest") -> None:
    """What the pages' buttons call: list, decide, approve the top k, review done."""

    @app.get("/api/creatives")
    def list_creatives():
        return _creatives(manifest.rows(), store)

    @app.post("/api/decisions")
    def decide(decision: DecisionIn):
        row = manifest.row(decision.variant_id)  # one creative: a click never rebuilds the whole grid
        if row["status"] != "rendered":
            raise HTTPException(409, f"{decision.variant_id} was not rendered ({row['status']})")
        reviewer = decision.reviewer.strip() or context.reviewer
        made = store.record(decision.variant_id, row["output_sha256"], decision.decision, reviewer, decision.note)
        return _creative(row, {(made.variant_id, made.sha256): made})

    @app.post("/api/approve-top")
    def approve_top(top: TopIn):
        reviewer = top.reviewer.strip() or context.reviewer
        chosen = [c for c in _creatives(manifest.rows(), store) if c["rank"] is not None and c["rank"] <= top.k]
        for creative in chosen:
            store.record(creative["variant_id"], creative["output_sha256"], "approved", reviewer, f"top {top.k}")
        return {"approved": len(chosen)}

    @app.post("/api/done")
    def done(body: DoneIn):
        reviewer = body.reviewer.strip() or context.reviewer
        store.mark_done(reviewer)
        message = context.on_done(reviewer) if context.on_done else "decisions saved"
        if context.done_event:
            context.done_event.set()
        return {"message": message}


async def _check_access(request: Request, call_next, context: ReviewContext):
    """The token (when one is set) and the change header (always)."""
    if context.token:
        offered = (
            request.query_params.get("token")
            or request.cookies.get(TOKEN_COOKIE)
            or request.headers.get("authorization", "").removeprefix("Bearer ")
        )
        if not offered or not hmac.compare_digest(offered, context.token):
            return JSONResponse({"detail": "open the review link with its ?token=..."}, status_code=401)
        if request.query_params.get("token") and request.method == "GET":
            response = RedirectResponse(str(request.url.remove_query_params("token")), status_code=303)
            response.set_cookie(TOKEN_COOKIE, context.token, httponly=True, samesite="strict")
            return response
    if request.method != "GET" and request.headers.get(CHANGE_HEADER) != "1":
        return JSONResponse({"detail": f"changes need the {CHANGE_HEADER} header"}, status_code=403)
    return await call_next(request)


def _creatives(rows: list[dict], store: ReviewStore) -> list[dict]:
    """Manifest rows with their current decision (on this very file), best first."""
    decisions = store.latest()
    result = [_creative(row, decisions) for row in rows]
    return sorted(
        result, key=lambda c: (c["product_id"], c["format"], c["language"], c["rank"] or 10**9, c["variant_id"])
    )


def _creative(row: dict, decisions: dict) -> dict:
    """A manifest row as the page shows it: with the decision that holds for its file."""
    found = status_of(row, decisions)
    return {
        **{k: v for k, v in row.items() if not hasattr(v, "isoformat")},
        "decision": found.decision if found else ("unreviewed" if row["status"] == "rendered" else ""),
        "decided_by": found.reviewer if found else None,
        "note": found.note if found else "",
        "thumb": _thumb(row),
    }


def _thumb(row: dict) -> str | None:
    return f"/files/{Path(thumbnail_path(row['output_path'])).as_posix()}" if row.get("output_path") else None


def _groups(creatives: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for creative in creatives:
        language = f" - {creative['language']}" if creative.get("language", "en") != "en" else ""
        groups.setdefault(f"{creative['product_name']} - {creative['format']}{language}", []).append(creative)
    return list(groups.items())


class ReviewServer:
    """The review app served by uvicorn in a background thread (the flow's review step)."""

    def __init__(self, context: ReviewContext, host: str, port: int):
        import uvicorn

        self.host = host
        self.server = uvicorn.Server(uvicorn.Config(create_app(context), host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="review-app", daemon=True)

    def start(self, timeout: float = 30.0) -> str:
        """Start serving; returns the page's address."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ReviewAppError(f"the review page could not start on {self.host} (is the port taken?)")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '::') else self.host}:{port}/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ReviewAppError(PixioError):
    pass


def standalone_done(out_dir: Path, after: Callable[[], object] | None = None) -> Callable[[str], str]:
    """'Review done' without a waiting flow: write the approved set, unless a run is writing
    the folder (then that run's flow writes it when it resumes); then ``after()`` (uploading
    a working copy to object storage)."""

    def done(reviewer: str) -> str:
        try:
            with outlock.locked(out_dir):
                counts = write_approved(out_dir)
        except outlock.FolderLocked:
            return "saved; a run is writing this folder, the approved set is written when it finishes"
        if after:
            after()
        return f"approved set written: {counts.describe()} (approved/, approved.parquet)"

    return done


def _results(out_dir: Path) -> dict:
    """The results page's parts, as `pixio-ads results` wrote them in OUT/results/ (the review
    page renders no analysis itself): the tables as an HTML fragment, and the chart."""
    folder = Path(out_dir) / "results"
    fragment = folder / "results.html"
    return {
        "fragment": fragment.read_text(encoding="utf-8") if fragment.is_file() else "",
        "chart": (folder / "results.png").is_file(),
    }
