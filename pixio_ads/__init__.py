"""pixio-ads: campaign spreadsheets in, ad creatives and a Parquet manifest out.

The package is laid out by pipeline stage; each stage imports only the stages above it in this
list (tests/test_layout.py checks it, and that no module imports itself back):

    core/       errors, atomic files, ad formats, images, processes, the stall watchdog
    render/     diffusers pipelines, the embedded models, upscaling, CLIP
    creative/   layout, cut-out, copy, fonts and emoji, brand kits, scores
    trust/      content policy, quotas, watermark, provenance (label, XMP, C2PA)
    settings    the run's settings models, shared by the CLI, the flows and the deployments
    campaign/   sheets, columns and validation, prompt templates, platform limits, variants
    training/   how the embedded backdrop model is trained (not needed at run time)
    outputs/    the manifest schema, contact sheet and reports, the folder lock
    delivery/   review, approved sets, exports to the ad platforms
    results/    the platforms' reports read back, what wins with its uncertainty, the next round
    run/        planning, the shard loop, finishing, composing a creative, the inbox
    flows/      the Prefect flows and deployments (thin wiring over run/)
    cli/        the ``pixio-ads`` command (thin over all of the above)
"""

from importlib.metadata import PackageNotFoundError, version

from pixio_ads import _moved

try:
    __version__ = version("pixio-ads")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

# The stages in import order (the list above): tests/test_layout.py and docs/layout.md read it.
STAGES = ("core", "render", "creative", "trust", "settings", "campaign", "training", "outputs", "delivery", "results", "run", "flows", "cli")  # fmt: skip

_moved.install()  # the flat module paths of the last release, for one release
