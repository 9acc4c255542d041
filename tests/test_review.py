"""The review store and the review app's API on a real run's output: decisions saved with
reviewer, time, note and sha256; history kept, last decision wins; a re-rendered file comes
back unreviewed; the access token and the change header; 'Review done' writes the approved set."""

from __future__ import annotations

import threading

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pixio_ads.cli import EXIT_INVALID_INPUT, app
from pixio_ads.delivery.review import DB_FILE, ReviewStore, refresh_manifest, write_approved
from pixio_ads.delivery.reviewapp import CHANGE_HEADER, TOKEN_COOKIE, ReviewContext, create_app, standalone_done

CHANGE = {CHANGE_HEADER: "1"}


def client(out, token=None, on_done=None) -> TestClient:
    return TestClient(create_app(ReviewContext(out, "alice", token, on_done)))


def rendered(out) -> list[dict]:
    return [r for r in pq.read_table(out / "manifest.parquet").to_pylist() if r["status"] == "rendered"]


def test_decisions_are_kept_with_their_history_and_the_last_wins(example_copy):
    api = client(example_copy)
    first = rendered(example_copy)[0]["variant_id"]
    for decision, reviewer in (("approved", ""), ("rejected", "bob"), ("unreviewed", ""), ("approved", "carol")):
        answer = api.post("/api/decisions", json={"variant_id": first, "decision": decision, "reviewer": reviewer,
                                                   "note": f"{decision} note"}, headers=CHANGE)  # fmt: skip
        assert answer.status_code == 200 and answer.json()["decision"] == decision
    history = ReviewStore(example_copy).history(first)
    assert [(d.decision, d.reviewer) for d in history] == [
        ("approved", "alice"), ("rejected", "bob"), ("unreviewed", "alice"), ("approved", "carol"),
    ]  # fmt: skip
    assert history[-1].note == "approved note" and history[-1].sha256 == rendered(example_copy)[0]["output_sha256"]
    table = refresh_manifest(example_copy)
    row = next(r for r in table.to_pylist() if r["variant_id"] == first)
    assert (row["review_status"], row["reviewed_by"]) == ("approved", "carol") and row["reviewed_at"] is not None
    assert {r["review_status"] for r in table.to_pylist() if r["variant_id"] != first} == {"unreviewed"}


def test_a_re_rendered_creative_comes_back_unreviewed(example_copy):
    row = rendered(example_copy)[0]
    store = ReviewStore(example_copy)
    store.record(row["variant_id"], "an-older-file-sha256", "approved", "alice")
    table = refresh_manifest(example_copy)
    assert next(r for r in table.to_pylist() if r["variant_id"] == row["variant_id"])["review_status"] == "unreviewed"


def test_two_reviewers_at_once_lose_nothing(example_copy):
    rows = rendered(example_copy)
    store = ReviewStore(example_copy)

    def review(reviewer: str, decision: str) -> None:
        for _ in range(5):
            for row in rows:
                store.record(row["variant_id"], row["output_sha256"], decision, reviewer)

    threads = [threading.Thread(target=review, args=a) for a in (("ann", "approved"), ("ben", "rejected"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(store.history(row["variant_id"])) for row in rows) == 2 * 5 * len(rows)


def test_approve_the_top_k_of_every_product_and_format(example_copy):
    api = client(example_copy)
    answer = api.post("/api/approve-top", json={"k": 1}, headers=CHANGE)
    groups = {(r["product_id"], r["format"]) for r in rendered(example_copy)}
    assert answer.json()["approved"] == len(groups)
    approved = [c for c in api.get("/api/creatives").json() if c["decision"] == "approved"]
    assert {(c["product_id"], c["format"]) for c in approved} == groups and {c["rank"] for c in approved} == {1}


def test_changes_need_the_header_and_a_token_when_one_is_set(example_copy):
    first = rendered(example_copy)[0]["variant_id"]
    body = {"variant_id": first, "decision": "approved"}
    assert client(example_copy).post("/api/decisions", json=body).status_code == 403  # no header: another site
    token = "t" * 24
    guarded = client(example_copy, token=token)
    assert guarded.get("/").status_code == 401 and guarded.get("/?token=wrong").status_code == 401
    landing = guarded.get(f"/?token={token}", follow_redirects=False)
    assert landing.status_code == 303 and TOKEN_COOKIE in landing.headers["set-cookie"]
    assert "samesite=strict" in landing.headers["set-cookie"].lower()
    assert guarded.get("/").status_code == 200  # the cookie now
    assert guarded.post("/api/decisions", json=body, headers=CHANGE).status_code == 200


def test_pages_and_files(example_copy):
    api = client(example_copy)
    creatives = api.get("/api/creatives").json()
    page = api.get("/", params={"format": "square"}).text
    assert page.count('class="card"') == sum(c["format"] == "square" for c in creatives)
    first = creatives[0]
    detail = api.get(f"/creative/{first['variant_id']}").text
    assert first["prompt"] in detail and str(first["seed"]) in detail and "prompt alignment" in detail
    assert api.get(first["thumb"]).headers["content-type"] == "image/jpeg"
    assert api.get("/files/images/../manifest.parquet").status_code == 404
    assert api.get(f"/files/../{DB_FILE}").status_code == 404
    assert api.get("/creative/nope").status_code == 404


def test_review_done_without_a_flow_writes_the_approved_set(example_copy):
    rows = rendered(example_copy)
    api = client(example_copy, on_done=standalone_done(example_copy))
    for row, decision in zip(rows[:3], ("approved", "approved", "rejected")):
        api.post("/api/decisions", json={"variant_id": row["variant_id"], "decision": decision}, headers=CHANGE)
    message = api.post("/api/done", json={}, headers=CHANGE).json()["message"]
    assert f"2 approved, 1 rejected, {len(rows) - 3} unreviewed" in message
    approved = pq.read_table(example_copy / "approved.parquet").to_pylist()
    assert sorted(r["variant_id"] for r in approved) == sorted(r["variant_id"] for r in rows[:2])
    for row in approved:
        assert (example_copy / "approved" / row["output_path"]).read_bytes() == (
            example_copy / row["output_path"]
        ).read_bytes()
    assert write_approved(example_copy).approved == 2  # again: replaced whole, same result


def test_export_takes_only_approved_creatives_once_a_review_exists(example_copy):
    rows = [r for r in rendered(example_copy) if "meta" in r["platforms"]]
    ReviewStore(example_copy).record(rows[0]["variant_id"], rows[0]["output_sha256"], "approved", "alice")
    result = CliRunner().invoke(app, ["export", str(example_copy), "--to", "csv"])
    assert result.exit_code == 0, result.output
    exported = (example_copy / "export" / "csv" / "creatives.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(exported) == 2 and rows[0]["variant_id"] in exported[1] and exported[0].endswith("reviewed_at")
    everything = CliRunner().invoke(app, ["export", str(example_copy), "--to", "csv", "--all"])
    assert everything.exit_code == 0 and f"{len(rendered(example_copy))} image(s)" in everything.output


def test_export_with_a_review_but_nothing_approved_says_so(example_copy):
    ReviewStore(example_copy)  # a review was started
    result = CliRunner().invoke(app, ["export", str(example_copy), "--to", "meta"])
    assert result.exit_code == EXIT_INVALID_INPUT and "no creative is approved yet" in result.output


@pytest.mark.parametrize("args", [["--host", "0.0.0.0"], ["--token", "short"]])
def test_review_command_refuses_an_open_or_weak_page(example_copy, args):
    result = CliRunner().invoke(app, ["review", str(example_copy), *args])
    assert result.exit_code == EXIT_INVALID_INPUT and "token" in result.output
