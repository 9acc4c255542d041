"""The inbox's file handling: settle time, exclusive claims, done/failed with reports."""

from __future__ import annotations

import os
import time

from helpers import EXAMPLE_CAMPAIGN, good_row, write_csv

from pixio_ads.run import inbox
from pixio_ads.settings import Safeguards, Serving


def test_only_settled_campaign_files_are_ready(tmp_path):
    settled = write_csv(tmp_path, [good_row()], "a.csv")
    growing = write_csv(tmp_path, [good_row()], "b.xlsx")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "~$a.xlsx").write_text("lock")
    (tmp_path / ".hidden.csv").write_text("x")
    old = time.time() - 60
    os.utime(settled, (old, old))
    assert inbox.ready_files(tmp_path, settle_seconds=10) == [settled]
    assert inbox.ready_files(tmp_path, settle_seconds=10, now=time.time() + 11) == [settled, growing]


def test_claims_are_exclusive_and_released(tmp_path):
    path = write_csv(tmp_path, [good_row()])
    first = inbox.claim(path)
    assert first is not None and len(first.sha256) == 64
    assert inbox.claim(path) is None  # a second run does not take it
    inbox.release(first)
    assert inbox.claim(path) is not None


def test_same_content_same_idempotency_key(tmp_path):
    a = write_csv(tmp_path, [good_row()], "a.csv")
    b = write_csv(tmp_path, [good_row()], "b.csv")
    assert inbox.claim(a).idempotency_key == inbox.claim(b).idempotency_key


def test_finish_moves_the_file_and_writes_a_report(tmp_path):
    for _ in range(2):  # the same name twice does not overwrite the first
        path = write_csv(tmp_path, [good_row()])
        item = inbox.claim(path)
        target = inbox.finish(item, inbox.FAILED, "row 2: broken")
        assert not path.exists() and target.parent == tmp_path / "failed"
        report = target.with_name(target.name + ".report.txt").read_text()
        assert "row 2: broken" in report and item.sha256 in report
    assert len(list((tmp_path / "failed").glob("*.csv"))) == 2
    assert inbox.claim(write_csv(tmp_path, [good_row()])) is not None  # claim released


def test_validation_report(campaign_dir):
    assert inbox.validation_report(EXAMPLE_CAMPAIGN) is None
    report = inbox.validation_report(write_csv(campaign_dir, [good_row(formats="huge")]))
    assert "row 2, column 'formats'" in report


def test_served_deployments_carry_the_trust_settings(tmp_path):
    from pixio_ads.flows.deploy import deployments

    settings = {
        "policy": "/etc/pixio/policy.yaml",
        "c2pa_cert": "/etc/pixio/chain.pem",
        "c2pa_key": "/etc/pixio/key.pem",
    }
    safeguards = Safeguards(**settings)
    generate, inbox_deployment = deployments(
        Serving(inbox_dir=str(tmp_path / "inbox"), out_root=str(tmp_path / "out")), safeguards=safeguards
    )
    expected = {**Safeguards().model_dump(), **settings}
    assert generate.parameters["safeguards"] == expected and generate.parameters["rendering"]["model"] is None
    assert inbox_deployment.parameters["safeguards"] == expected
    # the flow's parameter schema is the settings models, with their descriptions (the dashboard's form)
    schema = (
        generate._parameter_openapi_schema
        if hasattr(generate, "_parameter_openapi_schema")
        else generate.parameter_openapi_schema
    )
    definitions = schema.model_dump()["definitions"] if hasattr(schema, "model_dump") else schema["definitions"]
    assert {"RenderSettings", "Safeguards", "Execution"} <= set(definitions)
    assert "Denoising steps" in definitions["RenderSettings"]["properties"]["steps"]["description"]
