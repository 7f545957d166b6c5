#!/usr/bin/env bash
# The defaults table of README "Fidelity" (issue 13, item 4): every built-in default (a profile with `model` and
# `mode` only, and the plain window of the hybrid's budget) and every profile in configs/, evaluated with
# `dijiang eval` on stories260K held-out text the model samples itself (two sets, seeds 1234 and 4321; 8 texts of
# 500 tokens each). Hybrid rows run with --ablate, so each also shows its own plan with the memory (and cache) off.
#
#   scripts/defaults-table.sh [--reuse]
#
# --reuse keeps the held-out texts and eval JSONs already in local/defaults/ (re-renders the table only for rows
# whose JSON exists; delete a row's JSON to re-run it).
#
# Every row is measured on the same positions: "beyond" = positions >= 72 (past every layer's exact tokens in each
# plan here), "long range" = positions whose next token appeared before only more than 72 positions back and not
# among the sinks (eval --long-range-span 72; README "Evaluation").
#
# Writes docs/fidelity/defaults.md and defaults.csv (atomically); work files under local/defaults/. About 15
# minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${DIJIANG_MODEL:-$root/models/stories260K}
work=$root/local/defaults
out=$root/docs/fidelity
beyond=72
reuse=false
for arg in "$@"; do
  case "$arg" in
    --reuse) reuse=true ;;
    *) echo "usage: scripts/defaults-table.sh [--reuse]" >&2; exit 2 ;;
  esac
done
. "$root/scripts/lib/fidelity.sh"
require_model
mkdir -p "$work" "$out"
step() { echo "defaults: $*" >&2; }
sets=(1234 4321)

for seed in "${sets[@]}"; do
  if ! $reuse || [ ! -s "$work/heldout-$seed.txt" ]; then
    step "sampling 8 held-out texts of 500 tokens (temperature 1, seed $seed)"
    dj sample --config "$root/configs/vanilla.yaml" --model "$model" --seed "$seed" --count 8 --max-tokens 500 \
      --out "$work/heldout-$seed.txt"
  fi
done

# rows: name | label | profile file | ablate (yes/no) | variant to read: full, window (sinks + window only) or
# window+cache (the plan with its memory off)
rows=()
row() { rows+=("$1|$2|$3|$4|$5"); }
profile() { # profile NAME KEY: VALUE ... -> $work/NAME.yaml (the model and the given keys, nothing else)
  local name=$1; shift
  { echo "model: $model"; printf '%s\n' "$@"; } > "$work/$name.yaml"
}

profile hybrid-default "mode: hybrid"
row hybrid-default '`mode: hybrid` (built-in defaults: sinks 4, window 64, the default memory)' \
  "$work/hybrid-default.yaml" yes full
row hybrid-default-window "↳ the same plan, memory off: sinks 4 + window 64" "$work/hybrid-default.yaml" yes \
  window+cache
profile hybrid-budget40 "mode: hybrid" "budget: 40"
row hybrid-budget40 '`mode: hybrid`, `budget: 40` (the default memory; split 4 + 36)' "$work/hybrid-budget40.yaml" \
  yes full
row plain-window "plain window of the same budget: sinks 4 + window 36, no memory" "$work/hybrid-budget40.yaml" yes \
  window
profile hybrid-wdcf "mode: hybrid" "budget: 40" "feature_map: wdcf"
row hybrid-wdcf '`mode: hybrid`, `budget: 40`, `feature_map: wdcf` (uncalibrated: the default memory before issue 13)' \
  "$work/hybrid-wdcf.yaml" yes full
profile dijiang-default "mode: dijiang"
row dijiang-default '`mode: dijiang` (built-in default memory map, no exact tokens)' "$work/dijiang-default.yaml" no full
profile softmax-default "mode: softmax"
row softmax-default '`mode: softmax` (Jlama attention, the reference)' "$work/softmax-default.yaml" no full
for config in "$root"/configs/*.yaml; do
  name=$(basename "$config" .yaml)
  mode=$(sed -n 's/^mode: *\([a-z]*\).*/\1/p' "$config")
  ablate=no
  [ "${mode:-hybrid}" = hybrid ] && ablate=yes
  row "configs-$name" "configs/$name.yaml" "$config" "$ablate" full
  if [ "$ablate" = yes ]; then
    row "configs-$name-window" "↳ the same plan, memory off" "$config" yes window+cache
  fi
done

evaluate() { # evaluate JSON PROFILE ABLATE SEED
  local json=$1 config=$2 ablate=$3 seed=$4
  if $reuse && [ -s "$json" ]; then return; fi
  local flags=()
  [ "$ablate" = yes ] && flags+=(--ablate)
  step "evaluating $(basename "$config") on set $seed ${flags[*]:-}"
  dj eval --config "$config" --model "$model" --text-file "$work/heldout-$seed.txt" --beyond-from "$beyond" \
    --long-range-span "$beyond" "${flags[@]}" --json "$json" > "${json%.json}.txt"
}
declare -A done_json=()
for r in "${rows[@]}"; do
  IFS='|' read -r name label config ablate variant <<< "$r"
  for seed in "${sets[@]}"; do
    json="$work/$(basename "$config" .yaml)-$(basename "$(dirname "$config")")-$seed.json"
    if [ -z "${done_json[$json]:-}" ]; then
      evaluate "$json" "$config" "$ablate" "$seed"
      done_json[$json]=1
    fi
  done
done

md=$out/defaults.md csv=$out/defaults.csv
fmt() { # fmt A B FORMAT [PREFIX]: "A / B"
  awk -v a="$1" -v b="$2" -v f="$3" -v x="${4:-}" 'BEGIN {
  if (a == "" || a == "null") { print "-"; exit }
  printf x f " / " x f "\n", a, b }'; }
ratio() { awk -v p="$1" -v r="$2" 'BEGIN { if (p == "" || p == "null") print ""; else printf "%.6f\n", p / r }'; }
{
  echo "| profile | ppl ratio | ppl ratio beyond | KL mean beyond | top-1 beyond | KL long range | top-1 long range | long-range positions |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$md.tmp"
echo "row,set,profile,variant,perplexity_reference,perplexity,kl_mean,perplexity_ratio_beyond_window,kl_mean_beyond_window,top1_agreement_beyond_window,tokens_beyond_window,perplexity_ratio_long_range,kl_mean_long_range,top1_agreement_long_range,tokens_long_range" > "$csv.tmp"
for r in "${rows[@]}"; do
  IFS='|' read -r name label config ablate variant <<< "$r"
  v=$variant
  [ "$v" = full ] && v=""
  declare -A cell=()
  for seed in "${sets[@]}"; do
    j="$work/$(basename "$config" .yaml)-$(basename "$(dirname "$config")")-$seed.json"
    pr=$(num "$j" perplexity_reference "$v") p=$(num "$j" perplexity "$v") kl=$(num "$j" kl_mean "$v")
    rb=$(ratio "$(num "$j" perplexity_beyond_window "$v")" "$(num "$j" perplexity_reference_beyond_window "$v")")
    klb=$(num "$j" kl_mean_beyond_window "$v") topb=$(num "$j" top1_agreement_beyond_window "$v")
    nb=$(num "$j" tokens_beyond_window "$v")
    rl=$(ratio "$(num "$j" perplexity_long_range "$v")" "$(num "$j" perplexity_reference_long_range "$v")")
    kll=$(num "$j" kl_mean_long_range "$v") topl=$(num "$j" top1_agreement_long_range "$v")
    nl=$(num "$j" tokens_long_range "$v")
    echo "$name,$seed,$(basename "$config"),${v:-full},$pr,$p,$kl,$rb,$klb,$topb,$nb,$rl,$kll,$topl,$nl" >> "$csv.tmp"
    cell[$seed]="$(ratio "$p" "$pr")|$rb|$klb|$topb|$kll|$topl|$nl"
  done
  IFS='|' read -r a1 b1 c1 d1 e1 f1 g1 <<< "${cell[1234]}"
  IFS='|' read -r a2 b2 c2 d2 e2 f2 g2 <<< "${cell[4321]}"
  echo "| $label | $(fmt "$a1" "$a2" %.3f x) | $(fmt "$b1" "$b2" %.3f x) | $(fmt "$c1" "$c2" %.4f) | $(fmt "$d1" "$d2" %.3f) | $(fmt "$e1" "$e2" %.4f) | $(fmt "$f1" "$f2" %.3f) | $g1 / $g2 |" >> "$md.tmp"
  unset cell
done
{
  echo
  echo "stories260K; two held-out sets of 8 texts x 500 tokens sampled at temperature 1 (seeds 1234 / 4321, each cell"
  echo "\"set 1234 / set 4321\"); $(num "$work/hybrid-budget40-defaults-1234.json" tokens) / $(num "$work/hybrid-budget40-defaults-4321.json" tokens) predicted positions, of them"
  echo "$(num "$work/hybrid-budget40-defaults-1234.json" tokens_beyond_window) / $(num "$work/hybrid-budget40-defaults-4321.json" tokens_beyond_window) beyond position $beyond. \"long range\": positions whose next token appeared before only"
  echo "more than $beyond positions back and not among the sinks (the same positions for every row but \`mode: dijiang\`,"
  echo "which has no sinks). \"memory off\" rows: the line above with every layer's memory gain 0 (eval --ablate)."
  echo "Made by scripts/defaults-table.sh on $(date -u +%Y-%m-%d) at $(git -C "$root" rev-parse --short HEAD)."
} >> "$md.tmp"
mv "$md.tmp" "$md"
mv "$csv.tmp" "$csv"
step "wrote $md and $csv"
cat "$md"
