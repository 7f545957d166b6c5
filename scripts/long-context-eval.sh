#!/usr/bin/env bash
# Long-context evaluation of SmolLM2-135M-Instruct (issue 14 item 4): `dijiang long-context` over
#   - teacher-forced comparisons with vanilla (perplexity, KL, top-1, beyond the exact tokens) on the first N tokens of
#     public-domain prose generated at run time (the Book of Genesis, King James Version, from the Debian packages
#     bible-kjv and bible-kjv-text; the KJV text is out of copyright, see /usr/share/doc/bible-kjv-text/copyright) and,
#     with --samples N, on one text the model samples itself (N tokens, temperature 1, seed 1234);
#   - passkey retrieval (a five-digit number at 10/50/90% depth of filler, the question in the chat template, greedy).
# Profiles (budgets = exact tokens per head: sinks + window + exact cache): vanilla; the plain sinks + window of the
# budget (windowB); the calibration-free hybrid of the budget (hybridB: 4 sinks + window + the online memory); the
# same with a quarter of the budget as a heavy_hitter exact cache (hybridB-cacheC-heavy_hitter); at budget 128 also
# the self_recall cache (also with 512 clusters); the hybrids with 128 to 2048 online clusters instead of 64 (suffix
# -L128 ... -L2048); exact8192, exact softmax attention on the project's kernels (vanilla's answers, faster at 8k).
# --profiles picks some, and runs them in its order (the first ones first, so a run cut short
# has them). Results accumulate in docs/longctx/ (passkey.csv, eval.csv; cells already measured are skipped, so the
# script can be re-run with a larger grid), which also gets report.md and passkey.png; work files in local/longctx/.
# Teacher-forced: one pass per profile at the longest length; the shorter lengths are its prefixes (the model is
# causal), so --eval-lengths 1024,4096,8160 costs one 8160-token pass per profile and one for vanilla.
#
#   scripts/long-context-eval.sh [--eval-lengths 1024,4096,8160] [--passkey-lengths 1024,2048,4096,8160]
#       [--trials N] [--depths 10,50,90] [--budgets 40,64,128] [--samples N] [--max-minutes M] [--only-eval]
#       [--only-passkey] [--profiles NAME,NAME]
#
# 8k is 8160 tokens: SmolLM2's softmax layers hold 8188 positions in Jlama (context 8192 less the RoPE offset of the
# KV heads), and the passkey answer needs a few more. Each teacher-forced length runs one vanilla pass for all profiles.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$root/local/longctx
out=${LONGCTX_OUT:-$root/docs/longctx}
eval_lengths=1024,4096,8160 passkey_lengths=1024,2048,4096,8160 trials=5 depths=10,50,90 budgets=40,64,128
samples=0 max_minutes=0 only="" profiles_wanted=""
while [ $# -gt 0 ]; do
  case "$1" in
    --eval-lengths) eval_lengths=$2; shift 2 ;;
    --passkey-lengths) passkey_lengths=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --depths) depths=$2; shift 2 ;;
    --budgets) budgets=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --max-minutes) max_minutes=$2; shift 2 ;;
    --only-eval) only=eval; shift ;;
    --only-passkey) only=passkey; shift ;;
    --profiles) profiles_wanted=$2; shift 2 ;;
    *) sed -n '2,/^set -e/p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
done
mkdir -p "$work" "$out"
model=$("$root/scripts/fetch-smollm2.sh")
step() { echo "long-context-eval: $*" >&2; }

# public-domain prose, generated from the Debian package (not committed): chapter headings and verse numbers dropped
if [ ! -s "$work/genesis.txt" ]; then
  command -v bible >/dev/null || { echo "long-context-eval: error: the 'bible' command is missing:" \
    "apt-get install bible-kjv bible-kjv-text" >&2; exit 2; }
  bible Gen1:1-50:26 | grep -v '^Genesis [0-9]*$' | sed -E 's/^ +[0-9]+ //' | tr -s '\n ' '  ' \
    > "$work/genesis.tmp" && mv "$work/genesis.tmp" "$work/genesis.txt"
fi

# profiles (the pff rows of docs/longctx/eval.csv were measured before the online memory, with pff in its place)
names=()
profile() { # profile NAME LINES...
  local name=$1; shift
  { echo "model: $model"; echo "backend: cpu"; printf '%s\n' "$@"; } > "$work/$name.yaml"
  names+=("$name")
}
profile vanilla "mode: softmax"
# exact softmax attention on the project's kernels (a window over the whole context, no memory): the same answers as
# vanilla, in a third to a quarter of its time at 8k, where Jlama's attention takes a vanilla prompt's time
profile exact8192 "mode: hybrid" "budget: 8192" "feature_map: none" "calibration: none"
for b in ${budgets//,/ }; do
  profile "window$b" "mode: hybrid" "budget: $b" "feature_map: none" "calibration: none"
  profile "hybrid$b" "mode: hybrid" "budget: $b" "calibration: none"
  profile "hybrid$b-cache$((b / 4))-heavy_hitter" "mode: hybrid" "budget: $b" "exact_cache: $((b / 4))" \
    "cache_policy: heavy_hitter" "calibration: none"
  for clusters in 128 256 512 1024 2048; do # the online memory's clusters (default 64): state L (2d + 1) doubles per KV head
    profile "hybrid$b-L$clusters" "mode: hybrid" "budget: $b" "features: $clusters" "calibration: none"
    profile "hybrid$b-cache$((b / 4))-heavy_hitter-L$clusters" "mode: hybrid" "budget: $b" \
      "exact_cache: $((b / 4))" "cache_policy: heavy_hitter" "features: $clusters" "calibration: none"
  done
  if [ "$b" = 128 ]; then
    profile "hybrid$b-cache32-self_recall" "mode: hybrid" "budget: $b" "exact_cache: 32" \
      "cache_policy: self_recall" "calibration: none"
    profile "hybrid$b-cache32-self_recall-L512" "mode: hybrid" "budget: $b" "exact_cache: 32" \
      "cache_policy: self_recall" "features: 512" "calibration: none"
  fi
done

args=()
if [ -z "$profiles_wanted" ]; then
  for name in "${names[@]}"; do args+=(--profile "$name=$work/$name.yaml"); done
else
  for name in ${profiles_wanted//,/ }; do
    [[ " ${names[*]} " == *" $name "* ]] || { echo "long-context-eval: error: no profile '$name' with these budgets" \
      "(known: ${names[*]})" >&2; exit 2; }
    args+=(--profile "$name=$work/$name.yaml")
  done
fi

texts=(--eval-text "genesis=$work/genesis.txt")
if [ "$samples" -gt 0 ]; then
  if [ ! -s "$work/samples-$samples.txt" ]; then
    step "sampling one text of $samples tokens from vanilla SmolLM2 (temperature 1, seed 1234)"
    "$root/bin/dijiang" sample --config "$work/vanilla.yaml" --count 1 --max-tokens "$samples" --temperature 1 \
      --seed 1234 --out "$work/samples-$samples.txt"
  fi
  texts+=(--eval-text "samples-$samples=$work/samples-$samples.txt") # the corpus named after its length: an earlier sample of another length is another text
fi
grid=()
[ "$only" = passkey ] || grid+=("${texts[@]}" --eval-lengths "$eval_lengths")
[ "$only" = eval ] || grid+=(--passkey-lengths "$passkey_lengths" --trials "$trials" --depths "$depths")
step "$(uptime)"
# an 8160-token pass holds every position's logits, vanilla's and the profile's (2 x 1.6 GB for SmolLM2)
DIJIANG_JAVA_OPTS=${DIJIANG_JAVA_OPTS:--Xmx8g} "$root/bin/dijiang" long-context "${args[@]}" "${grid[@]}" --out "$out" --max-minutes "$max_minutes" \
  --reference-cache "$work"
step "$(uptime)"
step "wrote $out/report.md"
