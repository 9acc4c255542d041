"""The CLI in-process: exit codes and messages, no tracebacks."""

from __future__ import annotations

import pyarrow.parquet as pq
from helpers import EXAMPLE_CAMPAIGN, good_row, write_csv
from typer.testing import CliRunner

from pixio_ads.cli import EXIT_INVALID_INPUT, app
from pixio_ads.outputs.manifest import PLAN_SCHEMA

cli = CliRunner()


def test_validate_ok():
    result = cli.invoke(app, ["validate", str(EXAMPLE_CAMPAIGN)])
    assert result.exit_code == 0, result.output
    assert "3 product rows -> 10 variants" in result.output


def test_messages_are_not_wrapped_at_deep_paths(tmp_path):
    """CI checks out under a deeper path than a laptop: a long path must not split a message or a path across lines."""
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6)
    deep.mkdir(parents=True)
    path = write_csv(deep, [good_row(product_image="missing.png")])
    result = cli.invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert f"{path}: 1 problem(s)" in result.output


def test_validate_prints_every_error_and_exits_2(campaign_dir):
    path = write_csv(
        campaign_dir, [good_row(headline="=1+1"), good_row(product_id="b", formats="tiny", product_image="../x.png")]
    )
    result = cli.invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT
    text = " ".join(result.output.split())
    assert "3 problem(s)" in text
    assert (
        "row 2, column 'headline'" in text
        and "row 3, column 'formats'" in text
        and "row 3, column 'product_image'" in text
    )
    assert "Traceback" not in result.output


def test_validate_reports_template_errors(campaign_dir):
    (campaign_dir / "templates").mkdir()
    (campaign_dir / "templates" / "bad.j2").write_text("{{ product_name }}\n{{ missing_field }}")
    result = cli.invoke(app, ["validate", str(write_csv(campaign_dir, [good_row(template="bad")]))])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "bad.j2, line 2" in " ".join(result.output.split())


def test_expand_writes_variants(tmp_path):
    target = tmp_path / "variants.parquet"
    result = cli.invoke(app, ["expand", str(EXAMPLE_CAMPAIGN), "--out", str(target), "--show", "2"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(target)
    assert table.num_rows == 10 and table.schema.names == PLAN_SCHEMA.names
    for suffix in ("csv", "jsonl"):
        assert (
            cli.invoke(app, ["expand", str(EXAMPLE_CAMPAIGN), "--out", str(tmp_path / f"v.{suffix}")]).exit_code == 0
        )
        assert len((tmp_path / f"v.{suffix}").read_text().strip().splitlines()) == 10 + (suffix == "csv")


def test_run_refuses_invalid_input_before_rendering(campaign_dir, tmp_path):
    path = write_csv(campaign_dir, [good_row(formats="nope")])
    result = cli.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "nothing was rendered" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_run_refuses_a_missing_model_path(tmp_path):
    result = cli.invoke(app, ["run", str(EXAMPLE_CAMPAIGN), "--out", str(tmp_path), "--model", "./no-such-model"])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "no-such-model" in result.output and "Traceback" not in result.output


def test_workers_and_dask_address_together_is_an_error():
    result = CliRunner().invoke(
        app, ["run", str(EXAMPLE_CAMPAIGN), "--workers", "2", "--dask-address", "tcp://127.0.0.1:1"]
    )
    assert result.exit_code == EXIT_INVALID_INPUT
    assert "--workers" in result.output and "--dask-address" in result.output and "Traceback" not in result.output
