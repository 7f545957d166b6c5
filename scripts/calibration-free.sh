#!/usr/bin/env bash
# The calibration-free hybrid of README "Fidelity" (issue 13) on stories260K: the online centroid memory (the default
# memory of mode hybrid, no sidecar) against the plain window of the same budget, the uncalibrated seeded memories
# and the calibrated per-layer plan (configs/hybrid.yaml), then the budget splits and cluster counts tried, all
# evaluated with `dijiang eval` beyond position 72 on held-out text the model samples itself (seeds 1234 and 4321;
# the main rows on both sets, the splits and cluster counts on seed 1234).
#
#   scripts/calibration-free.sh [--reuse]      # --reuse keeps the held-out texts already in local/calibration-free/
#
# Writes docs/fidelity/calibration-free.md and .csv (atomically); work files under local/calibration-free/. About
# 15 minutes on 2 busy cores.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${DIJIANG_MODEL:-$root/models/stories260K}
work=$root/local/calibration-free
out=$root/docs/fidelity
beyond=72 # as scripts/fidelity-ablation.sh: past every layer's exact tokens in the calibrated plan
reuse=false
for arg in "$@"; do
  case "$arg" in
    --reuse) reuse=true ;;
    *) echo "usage: scripts/calibration-free.sh [--reuse]" >&2; exit 2 ;;
  esac
done
[ -f "$model/config.json" ] || { echo "error: no model at $model (set DIJIANG_MODEL)" >&2; exit 2; }
mkdir -p "$work" "$out"
dj() { "$root/bin/dijiang" "$@"; }
step() { echo "calibration-free: $*" >&2; }
profile() { # profile NAME KEY: VALUE ... -> $work/NAME.yaml
  local name=$1; shift
  { echo "model: $model"; echo "backend: cpu"; printf '%s\n' "$@"; } > "$work/$name.yaml"
}
num() { sed -n "s/^ *\"$2\" : \([-0-9.eE]*\).*/\1/p" "$1"; }

for seed in 1234 4321; do
  if ! $reuse || [ ! -s "$work/heldout-$seed.txt" ]; then
    step "sampling 8 held-out texts of 500 tokens (temperature 1, seed $seed)"
    dj sample --config "$root/configs/vanilla.yaml" --model "$model" --count 8 --max-tokens 500 --seed "$seed" \
      --out "$work/heldout-$seed.txt"
  fi
done

rows=() # name | label | exact tokens per head | seeds
row() { rows+=("$1|$2|$3|$4"); }
profile window "mode: hybrid" "calibration: none" "feature_map: none" "budget: 40"
row window "plain window + sinks (feature_map none)" "4+36" "1234 4321"
profile online "mode: hybrid" "calibration: none" "budget: 40"
row online "online centroid memory, L 64 (the default: model, mode, budget only)" "4+36" "1234 4321"
profile calibrated "mode: hybrid" "calibration: $root/configs/hybrid.calibration.safetensors"
row calibrated "calibrated per-layer plan (configs/hybrid.yaml)" "40 avg" "1234 4321"
for map in wdcf performer; do
  profile "$map" "mode: hybrid" "calibration: none" "budget: 40" "feature_map: $map"
  row "$map" "memory $map, uncalibrated" "4+36" "1234"
done
for split in "0 40 0" "2 38 0" "8 32 0" "4 32 4" "4 28 8" "4 20 16"; do
  read -r s w c <<< "$split"
  profile "split-$s-$w-$c" "mode: hybrid" "calibration: none" "budget: 40" "sinks: $s" "window: $w" "exact_cache: $c"
  row "split-$s-$w-$c" "online L 64, split sinks+window+cache" "$s+$w+$c" "1234"
done
for l in 16 32 128; do
  profile "online-l$l" "mode: hybrid" "calibration: none" "budget: 40" "features: $l"
  row "online-l$l" "online L $l" "4+36" "1234"
done

for r in "${rows[@]}"; do
  IFS='|' read -r name label exact seeds <<< "$r"
  for seed in $seeds; do
    step "evaluating $name on seed $seed"
    dj eval --config "$work/$name.yaml" --text-file "$work/heldout-$seed.txt" --beyond-from "$beyond" \
      --json "$work/$name-$seed.json" > "$work/$name-$seed.eval.txt"
  done
done

md=$out/calibration-free.md csv=$out/calibration-free.csv
{
  echo "| variant | exact tokens/head | held-out seed | ppl ratio beyond | KL mean beyond | KL p95 beyond | top-1 beyond |"
  echo "|---|---|---|---|---|---|---|"
} > "$md.tmp"
echo "variant,exact_tokens,seed,perplexity_reference_beyond_window,perplexity_beyond_window,kl_mean_beyond_window,kl_p95_beyond_window,top1_agreement_beyond_window,tokens_beyond_window" > "$csv.tmp"
for r in "${rows[@]}"; do
  IFS='|' read -r name label exact seeds <<< "$r"
  for seed in $seeds; do
    j=$work/$name-$seed.json
    prb=$(num "$j" perplexity_reference_beyond_window) pb=$(num "$j" perplexity_beyond_window)
    klb=$(num "$j" kl_mean_beyond_window) p95=$(num "$j" kl_p95_beyond_window)
    top=$(num "$j" top1_agreement_beyond_window) nb=$(num "$j" tokens_beyond_window)
    awk -v l="$label" -v e="$exact" -v s="$seed" -v prb="$prb" -v pb="$pb" -v klb="$klb" -v p95="$p95" -v top="$top" \
      'BEGIN { printf "| %s | %s | %s | x%.3f | %.4f | %.3f | %.3f |\n", l, e, s, pb / prb, klb, p95, top }' >> "$md.tmp"
    echo "$name,$exact,$seed,$prb,$pb,$klb,$p95,$top,$nb" >> "$csv.tmp"
  done
done
{
  echo
  echo "stories260K, 8 held-out texts of 500 tokens per seed sampled at temperature 1 from vanilla Jlama; positions >="
  echo "$beyond ($(num "$work/window-1234.json" tokens_beyond_window) on seed 1234). Made by scripts/calibration-free.sh on $(date -u +%Y-%m-%d)."
} >> "$md.tmp"
mv "$md.tmp" "$md"
mv "$csv.tmp" "$csv"
step "wrote $md and $csv"
cat "$md"
