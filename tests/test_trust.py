"""Trust and safety: content policy, quotas, watermark/XMP/C2PA disclosure and `verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import REPO, SIZES, good_row, jpeg, scene, write_csv
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.cli import EXIT_ALTERED, app
from pixio_ads.render import pipelines as render
from pixio_ads.run import planning, runner
from pixio_ads.settings import RenderSettings, Safeguards
from pixio_ads.trust import payload as marks
from pixio_ads.trust import provenance, verify
from pixio_ads.trust.credentials import TRAINED_ALGORITHMIC_MEDIA, UNTRUSTED
from pixio_ads.trust.policy import DEFAULT_POLICY, load_policy, normalise
from pixio_ads.trust.quota import QuotaConfig, UsageStore

# --- policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("runner wearing Nike shoes", "trademarks"),
        ("a portrait of Taylor Swift holding the bottle", "public_figures"),
        ("nude model on the beach", "sexual"),
        ("bloody battlefield at dawn", "violent"),
        ("swastika flag", "hateful"),
        ("this tea cures cancer", "medical_claims"),
        ("lose 10 lbs in 7 days", "medical_claims"),
        ("Elmo waving at the camera", "copyrighted_characters"),
        ("a kid in a Spider-Man costume", "copyrighted_characters"),
    ],
)
def test_each_category_blocks(text, category):
    found = load_policy(DEFAULT_POLICY).check({"prompt": text})
    assert found is not None and found.category == category and found.field == "prompt"


@pytest.mark.parametrize("text", ["N i k e running shoes", "n1ke shoes", "NIKE!", "t4yl0r sw1ft", "n.i.k.e"])
def test_obfuscations_are_caught(text):
    assert load_policy(DEFAULT_POLICY).check({"headline": text}) is not None


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("N\u0456ke running shoes", "nike"),  # Cyrillic i
        ("\u039d\u0399\u039a\u0395 shoes", "nike"),  # Greek capitals
        ("\uff2e\uff49\uff4b\uff45 shoes", "nike"),  # fullwidth
        ("\u2115\U0001d55a\U0001d55c\U0001d556 shoes", "nike"),  # mathematical double-struck
        ("Ni\u200bke shoes", "nike"),  # zero-width space inside the word
        ("Ad\u00adidas", "adidas"),  # soft hyphen
        ("Ado\u200dbe Elm\u043e says hi", "elmo"),  # zero-width joiner; Cyrillic o
        ("T\u0430ylor Sw\u0456ft", "taylor swift"),
    ],
)
def test_look_alike_letters_and_invisible_characters_are_caught(text, term):
    found = load_policy(DEFAULT_POLICY).check({"headline": text})
    assert found is not None and found.term == term


@pytest.mark.parametrize(
    "text", ["Café crème for slow mornings", "Straße im Frühling", "東京の春", "Весенняя распродажа"]
)
def test_accented_and_non_latin_copy_passes(text):
    assert load_policy(DEFAULT_POLICY).check({"prompt": text, "headline": text}) is None


@pytest.mark.parametrize(
    "text",
    [
        "a snake in the grass",
        "killer deals on water bottles",
        "Spring sale: shop now",
        "pineapple juice",
        "apples on a table",
    ],
)
def test_ordinary_copy_passes(text):
    assert load_policy(DEFAULT_POLICY).check({"prompt": text, "headline": text}) is None


def test_negative_prompt_may_name_what_to_avoid_but_not_people():
    policy = load_policy(DEFAULT_POLICY)
    assert policy.check({"negative_prompt": "nude, gore, blurry"}) is None
    assert policy.check({"negative_prompt": "elon musk"}).category == "public_figures"


def test_a_brand_may_name_itself_and_what_the_policy_allows_it(tmp_path):
    policy = load_policy(DEFAULT_POLICY)
    assert policy.check({"headline": "Just do it with Nike"}, brand="Nike") is None
    assert policy.check({"headline": "Nike beats Adidas"}, brand="Nike").term == "adidas"
    custom = tmp_path / "policy.yaml"
    custom.write_text(DEFAULT_POLICY.read_text().replace("allow:\n", "allow:\n  Spring Co.: [lego]\n"))
    assert load_policy(custom).check({"prompt": "lego city"}, brand="Spring Co.") is None
    assert load_policy(custom).check({"prompt": "lego city"}, brand="Other") is not None
    assert normalise("N i k e") == "nike" and normalise("Ça n1ke") == "ca nike"


def test_a_pluggable_checker_from_the_policy_file(tmp_path, monkeypatch):
    (tmp_path / "my_moderation.py").write_text(
        "from pixio_ads.trust.policy import Match\n"
        "def classify(text, field):\n"
        "    return Match('classifier', 'unicorn', field) if 'unicorn' in text.lower() else None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("word_list: false\ncheckers: [my_moderation:classify]\n")
    policy = load_policy(policy_file)
    assert policy.check({"prompt": "a Unicorn"}).category == "classifier"
    assert policy.check({"prompt": "nike"}) is None  # word list switched off
    policy_file.write_text("checkers: [no_such_module:fn]\ncategories:\n  x:\n    patterns: ['(']\nbogus: 1\n")
    with pytest.raises(Exception) as caught:
        load_policy(policy_file)
    text = str(caught.value)
    assert "key 'checkers.0'" in text and "key 'categories.x.patterns.0'" in text and "key 'bogus'" in text


def test_blocked_variants_never_reach_the_pipeline(campaign_dir, monkeypatch):
    one = {"audiences": "makers", "formats": "square"}  # one variant per row
    rows = [
        good_row(**one),
        good_row(product_id="b", headline="As worn by Elon Musk", **one),
        good_row(product_id="c", styles="n1ke store", **one),
    ]
    path = write_csv(campaign_dir, rows)
    prompts_rendered: list[str] = []
    real = render.generate

    def spy(model, prompts, *args, **kwargs):
        prompts_rendered.extend(prompts)
        return real(model, prompts, *args, **kwargs)

    monkeypatch.setattr(render, "generate", spy)
    out = campaign_dir / "out"
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1))
    assert plan.blocked == 2 and sum(len(ids) for ids in plan.shards) == 1
    shards = [runner.render_shard(plan.plan_path, ids, out, "cpu") for ids in plan.shards]
    summary = runner.write_manifest(plan.plan_path, shards, out)
    table = {row["product_id"]: row for row in pq.read_table(summary.manifest_path).to_pylist()}
    assert (
        table["b"]["status"] == "blocked"
        and table["b"]["policy_category"] == "public_figures"
        and table["b"]["policy_field"] == "headline"
    )
    assert (
        table["c"]["status"] == "blocked" and table["c"]["policy_term"] == "nike" and table["c"]["output_path"] is None
    )
    assert table["widget"]["status"] == "rendered" and len(prompts_rendered) == 1 and "n1ke" not in prompts_rendered[0]
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert (
        result.exit_code == 0
        and "2 variant(s) will be blocked" in result.output
        and "row 3, column 'headline': public_figures" in result.output
    )


# --- quotas ----------------------------------------------------------------------------


def test_quota_skips_what_is_beyond_it_and_gives_back_failures(campaign_dir):
    quotas = campaign_dir / "quotas.yaml"
    quotas.write_text("campaigns:\n  test-campaign: {images_per_day: 3}\n")
    path = write_csv(campaign_dir, [good_row(variants="5", formats="square", audiences="makers")])
    usage = campaign_dir / "usage.sqlite"
    guard = Safeguards(quotas=str(quotas), usage_db=str(usage))
    out = campaign_dir / "out"
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1), safeguards=guard)
    assert plan.skipped == 2
    shards = [runner.render_shard(plan.plan_path, ids, out, "cpu", safeguards=guard) for ids in plan.shards]
    summary = runner.write_manifest(plan.plan_path, shards, out)
    assert summary.counts["rendered"] == 3 and summary.counts["skipped"] == 2
    skipped = [row for row in pq.read_table(summary.manifest_path).to_pylist() if row["status"] == "skipped"]
    assert all("images_per_day 3" in row["error"] for row in skipped)
    assert UsageStore(usage).used(campaign="test-campaign") == 3
    # A rerun the same day renders nothing new: the 3 are done, the quota is spent.
    again = planning.plan_campaign(path, out, RenderSettings(steps=1), safeguards=guard)
    assert again.skipped == 2 and UsageStore(usage).used(campaign="test-campaign") == 3


CONCURRENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pixio_ads.trust.quota import QuotaConfig, UsageStore
    config = QuotaConfig.model_validate({"brands": {"Acme": {"images_per_day": 10}}})
    store = UsageStore(Path(sys.argv[1]))
    while time.time() < float(sys.argv[2]):
        time.sleep(0.001)
    print(store.reserve(sys.argv[3], "Acme", "c", 8, config).granted)
    """
)


def test_two_processes_at_once_cannot_overspend(tmp_path):
    usage = tmp_path / "usage.sqlite"
    UsageStore(usage)
    start = str(__import__("time").time() + 3)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(usage), start, f"run{i}"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for i in range(2)
    ]
    granted = sorted(int(child.communicate(timeout=60)[0]) for child in children)
    assert granted == [2, 8] and UsageStore(usage).used(brand="Acme") == 10
    config = QuotaConfig.model_validate({"brands": {"Acme": {"gpu_seconds_per_day": 5}}})
    store = UsageStore(usage)
    store.settle("run0", "Acme", "c", 8, 6.0)
    assert store.reserve("run2", "Acme", "c", 1, config).granted == 0


# --- provenance ------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["jpeg", "png", "webp"])
def test_disclosure_round_trip_and_tampering(output_format, credentials, tmp_path):
    signer = provenance.C2paSigner.from_files(credentials / "chain.pem", credentials / "key.pem")
    done = provenance.disclose(scene(), "variant-123", output_format, 90, "x", signer)
    assert done.values == {
        "watermark_payload": provenance.payload_for("variant-123"),
        "xmp_written": True,
        "c2pa_written": True,
        "signer": signer.name,
    }
    path = tmp_path / f"creative{ {'jpeg': '.jpg', 'png': '.png', 'webp': '.webp'}[output_format] }"
    path.write_bytes(done.data)
    row = {"variant_id": "variant-123", "watermark_payload": done.values["watermark_payload"], "c2pa_written": True}
    manifests = verify.Manifests([(tmp_path, [row])])
    result = verify.verify_file(path, SIZES, manifests)
    assert result.verdict == verify.PROVEN and result.metadata == "present" and result.c2pa.status == "valid"
    assert result.watermark.row == "variant-123" and result.watermark.method == marks.WATERMARK_METHOD
    assert result.xmp["Iptc4xmpExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert result.c2pa.read.state == "Valid" and UNTRUSTED in result.c2pa.read.failures
    assert result.c2pa.read.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert result.c2pa.read.soft_binding == done.values["watermark_payload"]  # the soft binding names the mark
    trusted = verify.verify_file(path, SIZES, manifests, (credentials / "ca.pem").read_bytes())
    assert trusted.c2pa.read.state == "Trusted" and not trusted.c2pa.read.failures
    tampered = bytearray(done.data)
    tampered[len(tampered) // 2] ^= 0x01
    path.write_bytes(bytes(tampered))
    broken = verify.verify_file(path, SIZES, manifests)
    assert broken.verdict == verify.ALTERED and "C2PA manifest does not validate" in broken.reasons[0]


def test_watermark_survives_jpeg_and_resize():
    """Measured on this image: JPEG q85 and a 90% resize decode exactly (BCH corrects up to
    7 of 63 bits); both together are matched to their manifest row by bit distance."""
    payload = provenance.payload_for("abc")
    marked = marks.embed_watermark(scene(), payload)

    def shrink(image: Image.Image) -> Image.Image:
        return image.resize((972, 972), Image.Resampling.LANCZOS)

    assert marks.read_watermark(jpeg(marked), SIZES).payload == payload
    assert marks.read_watermark(shrink(marked), SIZES).payload == payload
    others = {f"other-{i}": provenance.payload_for(f"other-{i}") for i in range(200)}
    matched, distance = marks.match_watermark(jpeg(shrink(marked)), SIZES, {"abc": payload, **others})
    assert matched == "abc" and distance <= marks.match_threshold(201)
    assert marks.match_watermark(scene(), SIZES, {"abc": payload, **others})[0] is None  # unmarked: no match
    assert marks.read_watermark(scene(), SIZES).payload is None


def test_verify_command_on_a_run(campaign_dir, credentials):
    path = write_csv(campaign_dir, [good_row(formats="square", output_format="jpeg")])
    out = campaign_dir / "out"
    guard = Safeguards(c2pa_cert=str(credentials / "chain.pem"), c2pa_key=str(credentials / "key.pem"))
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1), safeguards=guard)
    shards = [runner.render_shard(plan.plan_path, ids, out, "cpu", safeguards=guard) for ids in plan.shards]
    summary = runner.write_manifest(plan.plan_path, shards, out)
    row = pq.read_table(summary.manifest_path).to_pylist()[0]
    assert row["c2pa_written"] and row["xmp_written"] and "CN=Spring Co. signer" in row["signer"]
    cli = CliRunner()
    result = cli.invoke(app, ["verify", str(out), "--trust-anchors", str(credentials / "ca.pem"), "--json"])
    assert result.exit_code == 0, result.output
    files = json.loads(result.output)["files"]
    found = next(file for file in files if file["watermark"]["row"] == row["variant_id"])
    assert found["c2pa"]["state"] == "Trusted" and {file["verdict"] for file in files} == {"ai-origin-proven"}
    assert (out / "c2pa" / f"{Path(row['output_path']).name}.c2pa").is_file()  # the kept manifest store
    image = out / row["output_path"]
    image.write_bytes(image.read_bytes()[:-2000])  # cut short: the C2PA hash no longer matches
    result = cli.invoke(app, ["verify", str(out)])
    assert result.exit_code == EXIT_ALTERED and "altered" in result.output and "Traceback" not in result.output
    assert cli.invoke(app, ["verify", str(out), "--informational"]).exit_code == 0


@pytest.mark.needs("exiftool")
@pytest.mark.parametrize("output_format", ["jpeg", "png", "webp"])
def test_exiftool_reads_the_disclosure(output_format, credentials, tmp_path):
    """The real reader platforms and auditors use: exiftool (installed by make install-system)."""
    import json

    signer = provenance.C2paSigner.from_files(credentials / "chain.pem", credentials / "key.pem")
    path = tmp_path / f"creative.{ {'jpeg': 'jpg', 'png': 'png', 'webp': 'webp'}[output_format] }"
    path.write_bytes(provenance.disclose(scene(), "variant-9", output_format, 90, "x", signer).data)
    tags = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-XMP-iptcExt:DigitalSourceType", "-XMP-xmp:CreatorTool", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    assert tags["DigitalSourceType"] == provenance.TRAINED_ALGORITHMIC_MEDIA
    assert tags["CreatorTool"].startswith("pixio-ads ")
