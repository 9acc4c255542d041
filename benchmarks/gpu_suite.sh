#!/usr/bin/env bash
# GPU figures on real-size architectures, one command (< 8 min on an H100):
#   bash benchmarks/gpu_suite.sh            # results under $OUT (default out/gpu-suite)
# 1. builds SD 2.1 (SD-Turbo architecture), SD 1.5 and SDXL with random weights in fp16
#    (benchmarks/fullsize.py; weights drawn on the GPU, saved with save_pretrained);
# 2. our render path vs a bare diffusers loop, alternating, batch 1 and 4, native size:
#    4 steps for sd21, 30 for sd15 and sdxl (benchmarks/render.py);
# 3. the whole flow on sd21 at 4 steps: 128 variants, 1080 px PNG creatives with
#    watermark and XMP (benchmarks/gpu_flow.py);
# 4. prints the GPU, images/s of each, gpu_render_over_bare_ratio (worst of the three)
#    and gpu_flow_over_render_ratio (flow images/s over render-only images/s at batch 4).
# On an image with torch/transformers/accelerate but without this project's other dependencies,
# put their cp312 wheels on PYTHONPATH first; prefect's server needs greenlet (sqlalchemy asyncio).
# Measured 2026-11-26 on an H100 in ~4.5 min: benchmarks/RESULTS.md.
# SMOKE=1 runs the same steps with the embedded tiny model on the CPU (checks the wiring).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-out/gpu-suite}
MODELS=${MODELS:-/tmp/pixio-fullsize}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$MODELS"
log() { echo "[$(date +%T)] $*"; }

if [[ "${SMOKE:-}" == 1 ]]; then
  DEVICE=cpu; IMAGES=2; REPEATS=1; VARIANTS=8; STEPS_TURBO=1; STEPS_FULL=1
  declare -A MODEL=([sd21]=embedded:tiny-sd [sd15]=embedded:tiny-sd [sdxl]=embedded:tiny-sdxl)
  echo "gpu: none (SMOKE=1: embedded tiny models on the CPU)" | tee "$OUT/gpu.txt"
else
  DEVICE=cuda; IMAGES=8; REPEATS=2; VARIANTS=128; STEPS_TURBO=4; STEPS_FULL=30
  declare -A MODEL=([sd21]=$MODELS/sd21 [sd15]=$MODELS/sd15 [sdxl]=$MODELS/sdxl)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
  for arch in sd21 sd15 sdxl; do
    log "building $arch"
    [[ -f "${MODEL[$arch]}/model_index.json" ]] || "$PY" benchmarks/fullsize.py --arch "$arch" "${MODEL[$arch]}" --dtype fp16 --device cuda | tee "$OUT/build-$arch.txt"
  done
fi

for arch in sd21 sd15 sdxl; do
  steps=$STEPS_FULL; images=$IMAGES
  [[ $arch == sd21 ]] && { steps=$STEPS_TURBO; images=16; }
  [[ $arch == sdxl && $DEVICE == cuda ]] && images=4  # ~2.5 s per 1024 px image at 30 steps
  [[ "${SMOKE:-}" == 1 ]] && images=2
  log "render $arch: $steps steps, $images images, batch 1 and 4"
  # guidance 0 for the turbo-like model (as SD-Turbo samples), 7.5 for the others
  guidance=7.5; [[ $arch == sd21 ]] && guidance=0
  "$PY" benchmarks/render.py --model "${MODEL[$arch]}" --device "$DEVICE" --steps "$steps" --guidance "$guidance" \
    --repeats "$REPEATS" --images "$images" | tee "$OUT/render-$arch.txt"
done

log "flow on sd21: $VARIANTS variants"
"$PY" benchmarks/gpu_flow.py --model "${MODEL[sd21]}" --device "$DEVICE" --steps "$STEPS_TURBO" --variants "$VARIANTS" 2>&1 \
  | grep -v " | INFO\| | WARNING" | tee "$OUT/flow-sd21.txt"

log "summary"
"$PY" - "$OUT" <<'PYTHON' | tee "$OUT/summary.txt"
import re, sys
from pathlib import Path
out = Path(sys.argv[1])
def values(name):
    return {k: float(v) for k, v in re.findall(r"^(\w+): ([\d.]+)$", (out / name).read_text(), re.M)}
print((out / "gpu.txt").read_text().strip() if (out / "gpu.txt").read_text().startswith("gpu:") else "gpu: " + (out / "gpu.txt").read_text().strip())
ratios = {}
for arch in ("sd21", "sd15", "sdxl"):
    v = values(f"render-{arch}.txt")
    ratios[arch] = v["render_over_bare_ratio"]
    for key in sorted(k for k in v if k.startswith("images_per_second")):
        print(f"{arch}_{key}: {v[key]:.2f}")
    print(f"{arch}_render_over_bare_ratio: {v['render_over_bare_ratio']:.3f}")
flow = values("flow-sd21.txt")["flow_images_per_second"]
render_only = values("render-sd21.txt")["images_per_second_ours_batch4"]
print(f"sd21_flow_images_per_second: {flow:.2f}")
print(f"gpu_render_over_bare_ratio: {min(ratios.values()):.3f}")
print(f"gpu_flow_over_render_ratio: {flow / render_only:.3f}")
PYTHON
