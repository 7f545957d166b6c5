#!/usr/bin/env bash
# The fidelity ablation of README "Fidelity" (issue 8) on stories260K: plain window + sinks (StreamingLLM) against
# the hybrid's kernelized memory per feature map, uncalibrated and calibrated, the exact cache, budget splits, and
# pure dijiang, all with 4 sinks and 40 exact tokens per head on average, evaluated with `dijiang eval` on held-out
# text the model samples itself (seed 1234; calibration samples its own texts with seed 1).
#
#   scripts/fidelity-ablation.sh [--recalibrate] [--reuse]
#
# --reuse keeps the sidecars and held-out texts already in local/ablation/ (only for re-running after the
# evaluation step; calibrate again after any code change).
#
# Writes docs/fidelity/ablation.md and ablation.csv (atomically); work files under local/ablation/. The searched
# budget split row uses configs/hybrid.calibration.safetensors unless --recalibrate (about 11 more minutes).
# About 12 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${DIJIANG_MODEL:-$root/models/stories260K}
work=$root/local/ablation
out=$root/docs/fidelity
beyond=72 # past every layer's exact tokens in the searched plan (4 sinks + 64 window + 4 cache at most)
recalibrate=false reuse=false
for arg in "$@"; do
  case "$arg" in
    --recalibrate) recalibrate=true ;;
    --reuse) reuse=true ;;
    *) echo "usage: scripts/fidelity-ablation.sh [--recalibrate] [--reuse]" >&2; exit 2 ;;
  esac
done
. "$root/scripts/lib/fidelity.sh"
require_model
mkdir -p "$work" "$out"
step() { echo "ablation: $*" >&2; }

profile() { # profile NAME KEY: VALUE ... -> $work/NAME.yaml
  local name=$1; shift
  { echo "model: $model"; echo "sinks: 4"; echo "features: 64"; echo "backend: cpu"; printf '%s\n' "$@"; } \
    > "$work/$name.yaml"
}
calibrate() { # calibrate NAME WINDOWS CACHES KEY: VALUE ... (fixed split when one window and one cache size)
  local name=$1 windows=$2 caches=$3; shift 3
  profile "$name" "mode: hybrid" "calibration: $name.safetensors" "$@"
  if $reuse && [ -s "$work/$name.safetensors" ] && [ -s "$work/$name-plain.safetensors" ]; then return; fi
  step "calibrating $name (windows $windows, caches $caches)"
  dj calibrate --config "$work/$name.yaml" --seed 1 --texts 8 --windows "$windows" --caches "$caches" \
    --baseline-out "$work/$name-plain.safetensors" > "$work/$name.calibrate.txt"
}
evaluate() { # evaluate NAME: eval $work/NAME.yaml on the held-out texts
  step "evaluating $1"
  dj eval --config "$work/$1.yaml" --text-file "$work/heldout.txt" --beyond-from "$beyond" \
    --json "$work/$1.json" > "$work/$1.eval.txt"
}

profile sample "mode: softmax"
if ! $reuse || [ ! -s "$work/heldout.txt" ]; then
  step "sampling 8 held-out texts of 500 tokens (temperature 1, seed 1234)"
  dj sample --config "$work/sample.yaml" --count 8 --max-tokens 500 --temperature 1 --seed 1234 \
    --out "$work/heldout.txt"
fi

# rows: name | label | exact tokens per head | memory
rows=()
row() { rows+=("$1|$2|$3|$4"); }

calibrate centroids-w36 36 0 "feature_map: centroids" "window: 36"
profile window "mode: hybrid" "feature_map: centroids" "calibration: centroids-w36-plain.safetensors"
row window "plain window + sinks (StreamingLLM)" "4+36" "none"

for map in wdcf dijiang-code performer pff; do
  profile "$map-raw" "mode: hybrid" "feature_map: $map" "window: 36" "calibration: none"
  row "$map-raw" "+ memory $map, uncalibrated (uniform weights, gain 1)" "4+36" "$map"
done
for map in wdcf dijiang-code performer; do
  calibrate "$map-w36" 36 0 "feature_map: $map" "window: 36"
  row "$map-w36" "+ memory $map, calibrated (NNLS weights, gain per head)" "4+36" "$map"
done
row centroids-w36 "+ memory centroids, calibrated" "4+36" "centroids"

for policy in heavy_hitter self_recall; do
  calibrate "centroids-w28-c8-$policy" 28 8 "feature_map: centroids" "window: 28" "cache_policy: $policy"
  row "centroids-w28-c8-$policy" "+ exact cache 8 ($policy), centroids" "4+28+8" "centroids"
done
calibrate centroids-w20-c16 20 16 "feature_map: centroids" "window: 20" "cache_policy: heavy_hitter"
row centroids-w20-c16 "split: cache 16 (heavy_hitter), centroids" "4+20+16" "centroids"

# the searched split's sidecar holds sinks, features, map and cache policy per layer: its profile sets none of them
searched() { { echo "model: $model"; echo "mode: hybrid"; echo "backend: cpu"; echo "calibration: $1"; } \
  > "$work/searched.yaml"; }
if $recalibrate; then
  searched searched.safetensors
  step "calibrating the searched split (16 texts, default candidates: memory off, fitted centroids, online)"
  dj calibrate --config "$work/searched.yaml" --seed 1 --texts 16 > "$work/searched.calibrate.txt"
else
  searched "$root/configs/hybrid.calibration.safetensors"
fi
row searched "split searched per layer (configs/hybrid.yaml: each layer's memory chosen, online in all 5)" "40 avg" \
  "online (chosen per layer)"

profile dijiang-wdcf "mode: dijiang" "feature_map: wdcf" "calibration: none"
row dijiang-wdcf "pure dijiang (no exact tokens), wdcf" "0" "wdcf"
profile dijiang-centroids "mode: dijiang" "feature_map: centroids" "calibration: centroids-w36.safetensors"
row dijiang-centroids "pure dijiang, calibrated centroids" "0" "centroids"

for r in "${rows[@]}"; do evaluate "${r%%|*}"; done

md=$out/ablation.md csv=$out/ablation.csv
{
  echo "| variant | exact tokens/head | ppl ratio | KL mean | ppl ratio beyond | KL mean beyond | KL p95 beyond | top-1 beyond |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$md.tmp"
echo "variant,exact_tokens,memory,perplexity_reference,perplexity,kl_mean,perplexity_reference_beyond_window,perplexity_beyond_window,kl_mean_beyond_window,kl_p95_beyond_window,top1_agreement_beyond_window,tokens_beyond_window" > "$csv.tmp"
for r in "${rows[@]}"; do
  IFS='|' read -r name label exact memory <<< "$r"
  j=$work/$name.json
  pr=$(num "$j" perplexity_reference) p=$(num "$j" perplexity) kl=$(num "$j" kl_mean)
  prb=$(num "$j" perplexity_reference_beyond_window) pb=$(num "$j" perplexity_beyond_window)
  klb=$(num "$j" kl_mean_beyond_window) p95=$(num "$j" kl_p95_beyond_window)
  top=$(num "$j" top1_agreement_beyond_window) nb=$(num "$j" tokens_beyond_window)
  awk -v l="$label" -v e="$exact" -v pr="$pr" -v p="$p" -v kl="$kl" -v prb="$prb" -v pb="$pb" -v klb="$klb" \
    -v p95="$p95" -v top="$top" 'BEGIN { printf "| %s | %s | x%.3f | %.4f | x%.3f | %.4f | %.3f | %.3f |\n",
      l, e, p / pr, kl, pb / prb, klb, p95, top }' >> "$md.tmp"
  echo "$name,$exact,$memory,$pr,$p,$kl,$prb,$pb,$klb,$p95,$top,$nb" >> "$csv.tmp"
done
{
  echo
  echo "stories260K, 8 held-out texts of 500 tokens sampled at temperature 1 (seed 1234), $(num "$work/window.json" tokens) predicted"
  echo "positions, of them $(num "$work/window.json" tokens_beyond_window) beyond position $beyond; vanilla perplexity $(num "$work/window.json" perplexity_reference | cut -c1-6)."
  echo "Calibration: 8 self-sampled texts (seed 1), 16 for the searched split. Made by scripts/fidelity-ablation.sh on $(date -u +%Y-%m-%d)."
} >> "$md.tmp"
mv "$md.tmp" "$md"
mv "$csv.tmp" "$csv"
step "wrote $md and $csv"
cat "$md"
