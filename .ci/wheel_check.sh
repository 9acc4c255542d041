#!/usr/bin/env bash
# The package as users get it: build a wheel from this tree, install it (not editable) into a
# fresh virtual environment, and from a folder outside the repository validate the example
# campaign and render 2 of its variants. Fails when anything the library reads at run time
# (fonts, templates, the default policy, the flows) is missing from the wheel.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python=${PYTHON:-python3}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$repo"
"$python" -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install --quiet --upgrade pip build
"$work/build-venv/bin/python" -m build --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/pixio_ads-*.whl)
echo "built $(basename "$wheel")"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --upgrade pip
"$work/venv/bin/pip" install --quiet torch==2.13.0  # the CPU wheel first, as make install does
"$work/venv/bin/pip" install --quiet "$wheel"
cp -r "$repo/campaigns/spring-sale" "$work/campaign"
cd "$work"  # nothing of the repository on the path
"$work/venv/bin/python" -c "import pixio_ads, sys; assert '$repo' not in pixio_ads.__file__, pixio_ads.__file__; print('pixio_ads from', pixio_ads.__file__)"
"$work/venv/bin/pixio-ads" validate campaign/campaign.csv
"$work/venv/bin/pixio-ads" run campaign/campaign.csv --limit 2 --out out
"$work/venv/bin/python" - <<'PYTHON'
import pyarrow.parquet as pq
rows = pq.read_table("out/manifest.parquet").to_pylist()
assert len(rows) == 2 and all(row["status"] == "rendered" for row in rows), rows
print("wheel check: 2 variants rendered from the installed wheel")
PYTHON
