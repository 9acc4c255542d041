#!/usr/bin/env bash
# GPU figures on real-size architectures, one command (issue 24):
#   bash benchmarks/gpu_suite.sh            # results under $OUT (default out/gpu-suite)
# 1. builds SD 2.1 (the SD-Turbo architecture), SD 1.5 and SDXL with random fp16 weights
#    (benchmarks/fullsize.py; drawn on the GPU, saved with save_pretrained);
# 2. per model, at its native size: bare eager diffusers loop, our render path (batch 1 and
#    4), and the bare loop compiled in each of $COMPILE_MODES (benchmarks/render.py);
#    4 steps for sd21 (guidance 0, as SD-Turbo samples), 30 for sd15 and sdxl;
# 3. per model, the whole flow (benchmarks/gpu_flow.py: 1080 px PNG creatives with product,
#    brand kit, watermark and XMP), eager, and compiled for the models in $COMPILE_ARCHS (sd21
#    unless set); sd15 with its safety checker on (as SD 1.5 ships), sdxl also with the
#    fp16-safe VAE saved beside it (--vae, flow-sdxl-fp16vae.txt);
#    $VARIANTS_sd21 (1,024), $VARIANTS_sd15 (128), $VARIANTS_sdxl (32) variants,
#    sized for a 15-minute device budget; the render loop's step breakdown, gpu_busy_share,
#    and a torch.profiler trace of sd21 under $OUT/trace;
# 4. finishing's cost per creative on this host's CPU (benchmarks/finish_costs.py);
# 5. summary.txt: every figure as `name: value`, the ratios of issue 24 and the cores one
#    GPU needs to be finished at the compiled SD-Turbo flow's rate.
# Model families (issue 40): ARCHS="flux sd35m" builds FLUX.1 schnell (1024 px, 4 steps, no
# guidance) and SD 3.5 Medium (1024 px, 28 steps, guidance 4.5) with random bf16 weights
# (benchmarks/fullsize_dit.py: ~33 GB and ~16 GB saved, then loaded by from_pretrained) and runs
# the same render (bare, ours, compiled) and flow steps on them, with peak GPU memory; run them
# as a call of their own (building and loading FLUX's 33 GB takes minutes).
# ARCHS= and COMPILE_ARCHS= pick models. Not yet timed on a GPU as a whole; estimated from the
# 2026-11-26 H100 figures, sd21 with compiling ~6 min, sd15 + sdxl ~6 min: run it as two calls
# of the device tool, `ARCHS=sd21` then `ARCHS="sd15 sdxl"`, same $OUT (the summary reads
# whatever $OUT holds). A smoke run (SMOKE=1, CPU, embedded models) took 5.2 min. On an image with torch/transformers/accelerate but
# without this project's other dependencies, put their cp312 wheels on PYTHONPATH first;
# prefect's server needs greenlet (sqlalchemy asyncio).
# SMOKE=1 runs the same steps with the embedded tiny models on the CPU (checks the wiring).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-out/gpu-suite}
MODELS=${MODELS:-/tmp/pixio-fullsize}
COMPILE_MODES=${COMPILE_MODES:-default}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$MODELS"
log() { echo "[$(date +%T)] $*"; }
declare -A STEPS=([sd21]=4 [sd15]=30 [sdxl]=30 [flux]=4 [sd35m]=28)
declare -A GUIDANCE=([sd21]=0 [sd15]=7.5 [sdxl]=5 [flux]=0 [sd35m]=4.5)
declare -A IMAGES=([sd21]=16 [sd15]=8 [sdxl]=4 [flux]=4 [sd35m]=4)
declare -A VARIANTS=([sd21]=${VARIANTS_sd21:-1024} [sd15]=${VARIANTS_sd15:-128} [sdxl]=${VARIANTS_sdxl:-32}
                     [flux]=${VARIANTS_flux:-32} [sd35m]=${VARIANTS_sd35m:-16})
declare -A DIT_ARCH=([flux]=flux-schnell [sd35m]=sd35m)  # benchmarks/fullsize_dit.py's names

if [[ "${SMOKE:-}" == 1 ]]; then
  DEVICE=cpu; REPEATS=1; ARCHS=${ARCHS:-sd21 sdxl}; COMPILE_ARCHS=${COMPILE_ARCHS:-sd21}
  STEPS=([sd21]=1 [sd15]=1 [sdxl]=1 [flux]=1 [sd35m]=1); IMAGES=([sd21]=4 [sd15]=4 [sdxl]=2 [flux]=2 [sd35m]=2)
  VARIANTS=([sd21]=8 [sd15]=8 [sdxl]=8 [flux]=4 [sd35m]=4)
  declare -A MODEL=([sd21]=embedded:tiny-sd [sd15]=embedded:tiny-sd [sdxl]=embedded:tiny-sdxl
                    [flux]=embedded:tiny-flux [sd35m]=embedded:tiny-sd3)
  FP16_VAE=$MODELS/tiny-sdxl-vae-fp16-safe  # the embedded SDXL's VAE marked fp16-safe, as fullsize.py does
  "$PY" -c "from pixio_ads.render import loading; vae = loading.load_model('embedded:tiny-sdxl', 'cpu').pipeline.vae
vae.register_to_config(force_upcast=False); vae.save_pretrained('$FP16_VAE')"
  echo "gpu: none (SMOKE=1: embedded tiny models on the CPU)" | tee "$OUT/gpu.txt"
else
  DEVICE=cuda; REPEATS=2; ARCHS=${ARCHS:-sd21 sd15 sdxl}; COMPILE_ARCHS=${COMPILE_ARCHS:-sd21}
  declare -A MODEL=([sd21]=$MODELS/sd21 [sd15]=$MODELS/sd15 [sdxl]=$MODELS/sdxl [flux]=$MODELS/flux [sd35m]=$MODELS/sd35m)
  FP16_VAE=$MODELS/sdxl/vae-fp16-safe
  echo "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)" | tee "$OUT/gpu.txt"
  echo "cpu: $(nproc) cores" | tee -a "$OUT/gpu.txt"
  for arch in $ARCHS; do
    [[ -f "${MODEL[$arch]}/model_index.json" && ( $arch != sdxl || -f "$FP16_VAE/config.json" ) ]] && continue
    log "building $arch"
    if [[ -n "${DIT_ARCH[$arch]:-}" ]]; then
      "$PY" benchmarks/fullsize_dit.py --arch "${DIT_ARCH[$arch]}" "${MODEL[$arch]}" --dtype bf16 --device cuda | tee "$OUT/build-$arch.txt"
    else
      "$PY" benchmarks/fullsize.py --arch "$arch" "${MODEL[$arch]}" --dtype fp16 --device cuda | tee "$OUT/build-$arch.txt"
    fi
  done
fi
compiles() { [[ " $COMPILE_ARCHS " == *" $1 "* ]]; }
quiet() { grep -v " | INFO\| | WARNING" || true; }

for arch in $ARCHS; do
  modes=(); compiles "$arch" && for mode in $COMPILE_MODES; do modes+=(--compile-mode "$mode"); done
  log "render $arch: ${STEPS[$arch]} steps, ${IMAGES[$arch]} images, batch 1 and 4, compiled: ${modes[*]:-none}"
  "$PY" benchmarks/render.py --model "${MODEL[$arch]}" --device "$DEVICE" --steps "${STEPS[$arch]}" \
    --guidance "${GUIDANCE[$arch]}" --repeats "$REPEATS" --images "${IMAGES[$arch]}" "${modes[@]}" 2>&1 | quiet | tee "$OUT/render-$arch.txt"
done

for arch in $ARCHS; do
  flow=("$PY" benchmarks/gpu_flow.py --model "${MODEL[$arch]}" --device "$DEVICE" --steps "${STEPS[$arch]}"
        --guidance "${GUIDANCE[$arch]}" --variants "${VARIANTS[$arch]}")
  [[ $arch == sd15 ]] && flow+=(--safety-checker)
  trace=(); [[ $arch == sd21 ]] && trace=(--trace "$OUT/trace")
  log "flow on $arch, eager: ${VARIANTS[$arch]} variants"
  "${flow[@]}" "${trace[@]}" 2>&1 | quiet | tee "$OUT/flow-$arch.txt"
  if [[ $arch == sdxl ]]; then
    log "flow on sdxl, eager, fp16-safe VAE"
    "${flow[@]}" --vae "$FP16_VAE" 2>&1 | quiet | tee "$OUT/flow-sdxl-fp16vae.txt"
  fi
  if compiles "$arch"; then
    mode=${COMPILE_MODES%% *}
    log "flow on $arch, compiled ($mode)"
    "${flow[@]}" --compile --compile-mode "$mode" 2>&1 | quiet | tee "$OUT/flow-$arch-compiled.txt"
  fi
done

log "finishing on this host's CPU"
"$PY" benchmarks/finish_costs.py --creatives 24 --repeats 3 2>&1 | tee "$OUT/finish.txt"

# Video (issue 41): VIDEO_ARCHS="ltx-video" builds LTX-Video 2B with random bf16 weights and times
# a 5 s clip (121 frames at the family's size) through the product's image-to-video path, with peak
# GPU memory (benchmarks/video_model.py; VIDEO_STEPS, default 40). Empty by default on a GPU: run it
# as a call of its own (`ARCHS= VIDEO_ARCHS=ltx-video`, same $OUT); SMOKE=1 runs the tiny one.
if [[ "${SMOKE:-}" == 1 ]]; then VIDEO_ARCHS=${VIDEO_ARCHS-ltx-video}; else VIDEO_ARCHS=${VIDEO_ARCHS-}; fi
for arch in $VIDEO_ARCHS; do
  log "video $arch"
  if [[ "${SMOKE:-}" == 1 ]]; then
    "$PY" benchmarks/video_model.py --model "embedded:tiny-$arch" --device cpu --repeats 1 2>&1 | quiet | tee "$OUT/video-$arch.txt"
  else
    "$PY" benchmarks/video_model.py --arch "$arch" "$MODELS" --device cuda --repeats 2 ${VIDEO_STEPS:+--steps $VIDEO_STEPS} 2>&1 | quiet | tee "$OUT/video-$arch.txt"
  fi
done

log "summary"
"$PY" benchmarks/gpu_summary.py "$OUT" | tee "$OUT/summary.txt"
