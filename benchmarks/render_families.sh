#!/usr/bin/env bash
# Our render path against a bare diffusers loop for every model family (issue 40), each on its
# tiny embedded model on the CPU: benchmarks/render.py per model, the same prompts, seeds,
# steps and batch sizes, alternating, best of $REPEATS; goal: render_over_bare_ratio >= 0.95 each.
#   bash benchmarks/render_families.sh                 # ~15 min on 2 cores
# Ends with `render_over_bare_ratio_<family>: value` lines, each the ratio of the median runs (a
# best-of ratio swings by +-10% between runs on 2 shared cores), and the lowest of them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
REPEATS=${REPEATS:-5}
SIZE=${SIZE:-512}  # px: the same for every family (FLUX native is 1024: too slow for 2 cores)
IMAGES=${IMAGES:-8}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
declare -A MODELS=(
  [sd]=embedded:tiny-sd [sdxl]=embedded:tiny-sdxl [sd3]=embedded:tiny-sd3 [flux-schnell]=embedded:tiny-flux
  [flux-dev]=embedded:tiny-flux-dev [flux-kontext]=embedded:tiny-flux-kontext [flux2-klein]=embedded:tiny-flux2-klein
  [qwen-image]=embedded:tiny-qwen-image
)
FAMILIES=${FAMILIES:-sd sdxl sd3 flux-schnell flux-dev flux-kontext flux2-klein qwen-image}
for family in $FAMILIES; do
  echo "== $family (${MODELS[$family]})"
  "$PY" benchmarks/render.py --model "${MODELS[$family]}" --device cpu --size "$SIZE" --steps 4 \
    --repeats "$REPEATS" --images "$IMAGES" 2>&1 | grep -v " | INFO\| | WARNING\|torchvision" | tee "$OUT/$family.txt"
done
echo "== summary"
lowest=
for family in $FAMILIES; do
  ratio=$(sed -n 's/^render_over_bare_ratio_median: //p' "$OUT/$family.txt")
  echo "render_over_bare_ratio_${family//-/_}: $ratio"
  lowest=$(printf '%s\n%s\n' "$ratio" "${lowest:-$ratio}" | sort -g | head -1)
done
echo "render_over_bare_ratio_lowest: $lowest"
