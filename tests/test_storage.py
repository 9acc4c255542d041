"""Campaigns and outputs on object storage, against a real S3-compatible server (moto's
standalone server, started here on localhost): a run from s3:// into s3://, read back with
pyarrow and every creative's sha256 checked; resume from a machine with an empty cache;
the object-store lock; clear errors for a missing bucket or key and an unreachable store."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time

import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN
from servers import BIN, harness_env, s3_server

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    home = tmp_path_factory.mktemp("s3")
    with s3_server(home) as env:
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)  # s3fs in this process reads the standard variables too
        try:
            import fsspec

            fs = fsspec.filesystem("s3", skip_instance_cache=True)
            fs.mkdir("campaigns")
            fs.mkdir("creatives")
            fs.put(str(EXAMPLE_CAMPAIGN.parent) + "/", "campaigns/spring-sale/", recursive=True)
            yield fs, env
        finally:
            for name, value in saved.items():
                os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)


def pixio(env: dict, cache, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, with the S3 variables and a cache of its own (another machine)."""
    return subprocess.run(
        [str(BIN / "pixio-ads"), *args],
        env={**harness_env(), **env, "PIXIO_ADS_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_location(fs, root: str) -> list[dict]:
    """The manifest read back from the store with pyarrow; every rendered creative's object
    has the recorded sha256; nothing half-written or locked is left."""
    fs.invalidate_cache()  # the runs wrote from other processes
    table = pq.read_table(f"{root}/manifest.parquet", filesystem=fs)
    rows = [row for row in table.to_pylist() if row["status"] == "rendered"]
    for row in rows:
        assert hashlib.sha256(fs.cat_file(f"{root}/{row['output_path']}")).hexdigest() == row["output_sha256"]
    keys = fs.find(root)
    assert not [key for key in keys if key.endswith(".tmp")]
    assert not [key for key in keys if key.endswith(".pixio-ads.lock")]
    return rows


@pytest.mark.slow
def test_run_from_and_to_object_storage_resumes_from_an_empty_cache(s3, tmp_path):
    fs, env = s3
    campaign, out = "s3://campaigns/spring-sale/campaign.csv", "s3://creatives/runs/spring"
    first = pixio(env, tmp_path / "machine-a", "run", campaign, "--out", out, "--limit", "4")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "manifest:      s3://creatives/runs/spring/manifest.parquet" in first.stdout
    rows = check_location(fs, "creatives/runs/spring")
    assert len(rows) == 4

    # another machine (empty cache): every creative downloaded, its sha256 checked, none redone
    again = pixio(env, tmp_path / "machine-b", "run", campaign, "--out", out, "--limit", "4")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "(0 rendered by this run)" in again.stdout

    # a creative lost from the store is rendered again, the others kept
    fs.rm_file(f"creatives/runs/spring/{rows[0]['output_path']}")
    healed = pixio(env, tmp_path / "machine-b", "run", campaign, "--out", out, "--limit", "4")
    assert healed.returncode == 0, healed.stderr[-3000:]
    assert "(1 rendered by this run)" in healed.stdout
    assert len(check_location(fs, "creatives/runs/spring")) == 4

    exported = pixio(env, tmp_path / "machine-c", "export", out, "--to", "meta")
    assert exported.returncode == 0, exported.stderr[-3000:]
    fs.invalidate_cache()
    assert fs.exists("creatives/runs/spring/export/meta/meta-ads.xlsx")


def test_bad_locations_are_named_with_the_fix(s3, tmp_path):
    fs, env = s3
    cases = [
        (("validate", "s3://no-such-bucket/campaign.csv"), "s3://no-such-bucket: could not read it"),
        (
            ("validate", "s3://campaigns/spring-sale/nothing.csv"),
            "s3://campaigns/spring-sale/nothing.csv: no such object",
        ),
        (
            ("run", "s3://campaigns/spring-sale/campaign.csv", "--out", "s3://no-such-bucket/x", "--limit", "1"),
            "s3://no-such-bucket/x",
        ),
    ]
    for args, message in cases:
        result = pixio(env, tmp_path / "cache", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr[-2000:])
        assert message in " ".join(result.stderr.split()), result.stderr[-2000:]
        assert "Traceback" not in result.stderr
    assert not fs.exists("no-such-bucket")

    unreachable = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    result = pixio(unreachable, tmp_path / "cache", "validate", "s3://campaigns/spring-sale/campaign.csv")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "AWS_ENDPOINT_URL" in result.stderr and "Traceback" not in result.stderr


def test_object_store_lock_refuses_a_second_run_and_takes_over_a_stale_one(s3):
    from pixio_ads.outputs import outlock

    fs, _ = s3
    url = "s3://creatives/locked"
    with outlock.locked(url):
        holder = json.loads(fs.cat_file("creatives/locked/.pixio-ads.lock"))
        assert holder["pid"] == os.getpid()
        with pytest.raises(outlock.FolderLocked, match=f"pid {os.getpid()}"):
            with outlock.locked(url):
                pass
    assert not fs.exists("creatives/locked/.pixio-ads.lock")  # released at the end

    stale = {"token": "dead", "pid": 1, "host": "gone", "since": "then", "beat": time.time() - 3600}
    fs.pipe_file("creatives/locked/.pixio-ads.lock", json.dumps(stale).encode())
    with outlock.locked(url):  # a run killed long ago: taken over
        assert json.loads(fs.cat_file("creatives/locked/.pixio-ads.lock"))["pid"] == os.getpid()


def test_push_uploads_creatives_before_rows_and_the_manifest_last(s3, tmp_path, monkeypatch):
    from pixio_ads.core import storage

    fs, _ = s3
    monkeypatch.setenv("PIXIO_ADS_CACHE", str(tmp_path))
    workspace = storage.Workspace.open("s3://creatives/order")
    for rel in ("manifest.parquet", "shards/shard-1.parquet", "images/a.png", "plan.parquet", ".x.png.1.tmp"):
        (workspace.local / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace.local / rel).write_bytes(rel.encode())
    uploaded = []
    used, _ = storage.filesystem("s3://creatives/order")  # fsspec's cached instance, the one push uses
    real_put = used.put_file

    def recording_put(lpath, rpath, *args, **kwargs):  # the real upload, its order recorded
        uploaded.append(rpath.rsplit("/order/", 1)[1])
        return real_put(lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(used, "put_file", recording_put)
    assert workspace.push() == 4
    assert uploaded == ["images/a.png", "plan.parquet", "shards/shard-1.parquet", "manifest.parquet"]
    assert workspace.push() == 0  # nothing changed since
    (workspace.local / "shards/shard-1.parquet").unlink()
    workspace.push()
    fs.invalidate_cache()
    assert not fs.exists("creatives/order/shards/shard-1.parquet")  # removed with its file


def test_locations_urls_and_paths():
    from pathlib import Path

    from pixio_ads.core import storage

    assert storage.is_remote("s3://bucket/x") and storage.is_remote("gs://b/k")
    assert not storage.is_remote("file:///tmp/x") and not storage.is_remote("out/demo")
    assert storage.as_local("file:///tmp/x") == Path("/tmp/x")
    assert storage.join("s3://bucket/runs/", "a", "b.png") == "s3://bucket/runs/a/b.png"
    assert storage.absolute("s3://bucket/runs") == "s3://bucket/runs"
    assert storage.absolute("out") == str(Path("out").resolve())


def test_a_worker_reroots_the_plan_to_its_own_copy_of_the_campaign_files(tmp_path):
    import pyarrow as pa

    from pixio_ads.run.planning import reroot_plan

    plan = tmp_path / "plan.parquet"
    pq.write_table(pa.table({"product_image": ["/cache-a/inputs/k1/products/mug.png", "/elsewhere/logo.png"]}), plan)
    moved = reroot_plan(plan, {"/cache-a/inputs/k1": "/cache-b/inputs/k1"}, tmp_path / "moved.parquet")
    assert pq.read_table(moved).column("product_image").to_pylist() == [
        "/cache-b/inputs/k1/products/mug.png",
        "/elsewhere/logo.png",
    ]
    assert pq.read_table(plan).column("product_image")[0].as_py().startswith("/cache-a")  # the original kept


def test_an_inbox_on_object_storage_lists_claims_once_and_files_each_campaign(s3, tmp_path, monkeypatch):
    from pixio_ads.run import inbox

    fs, _ = s3
    monkeypatch.setenv("PIXIO_ADS_CACHE", str(tmp_path))
    fs.put(str(EXAMPLE_CAMPAIGN.parent) + "/", "campaigns/inbox/", recursive=True)
    fs.pipe_file("campaigns/inbox/broken.csv", b"campaign_id,product_id\nx,\n")
    fs.pipe_file("campaigns/inbox/~$campaign.xlsx", b"office lock file")
    ready = inbox.ready_files("s3://campaigns/inbox", settle_seconds=0)
    assert ready == [
        "s3://campaigns/inbox/broken.csv",
        "s3://campaigns/inbox/campaign.csv",
        "s3://campaigns/inbox/campaign.xlsx",
    ]
    item = inbox.claim("s3://campaigns/inbox/campaign.csv")
    assert item.sha256 == hashlib.sha256(EXAMPLE_CAMPAIGN.read_bytes()).hexdigest()
    assert inbox.claim("s3://campaigns/inbox/campaign.csv") is None  # another run has it
    assert inbox.validation_report(item.path) is None  # read from the store, images beside it
    target = inbox.finish(item, inbox.DONE, "flow run x: Completed")
    assert target == "s3://campaigns/inbox/done/campaign.csv"
    fs.invalidate_cache()
    assert not fs.exists("campaigns/inbox/campaign.csv")
    assert fs.cat_file("campaigns/inbox/done/campaign.csv") == EXAMPLE_CAMPAIGN.read_bytes()
    assert b"sha256: " + item.sha256.encode() in fs.cat_file("campaigns/inbox/done/campaign.csv.report.txt")
    assert inbox.claim("s3://campaigns/inbox/campaign.xlsx") is not None  # claims are per file

    broken = inbox.claim("s3://campaigns/inbox/broken.csv")
    problems = inbox.validation_report(broken.path)
    assert problems and "broken.csv" in problems
    inbox.finish(broken, inbox.FAILED, problems)
    fs.invalidate_cache()
    assert fs.exists("campaigns/inbox/failed/broken.csv") and not fs.exists("campaigns/inbox/broken.csv")
    assert not fs.exists("campaigns/inbox/.claims/broken.csv.claim")  # released


def test_refused_credentials_are_named_with_the_fix(tmp_path):
    with s3_server(tmp_path, authenticate=True) as env:
        result = pixio(env, tmp_path / "cache", "validate", "s3://campaigns/spring-sale/campaign.csv")
    assert result.returncode == 2, result.stderr[-2000:]
    message = " ".join(result.stderr.split())
    assert "s3://campaigns/spring-sale: could not read it" in message and "AWS_ACCESS_KEY_ID" in message
    assert "Traceback" not in result.stderr
