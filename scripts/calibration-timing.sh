#!/usr/bin/env bash
# Calibration time of `dijiang calibrate` (issue 13): stories260K with the default 16 sampled texts, then the
# synthetic shapes (Q4, random weights) on fixed texts of 512 tokens (BOS + 511 bytes of this repository's docs;
# the byte tokenizer makes one token per byte). Prints one row per run: wall and CPU seconds, layers x tokens, the
# wall seconds per layer and 1000 tokens, the peak resident memory, the load average before and after the run (2
# shared cores: say it), then where the wall time went (the calibration's own progress timings: sampling, recording,
# fitting, scoring, sensitivity, closing evaluation; "other" = loading and the rest).
#
#   scripts/calibration-timing.sh [SHAPE:TEXTS ...]      default: stories260K tiny:16 small:16 medium:16 llama-1b:2
#
# SHAPE is stories260K or a synthetic shape (tiny, small, medium, llama-1b); TEXTS the number of 512-token texts
# (stories260K: sampled texts of 500 tokens, as `calibrate` does by default). A run with fewer than 16 texts also
# gets "16 texts est.": each phase scaled to 16 texts as it grows (recording and fit with the texts, scoring and the
# closing evaluation with the texts they read, at most their limits, sensitivity fixed); an estimate, say so.
# Models are written once into local/timing/ (llama-1b Q4: about 0.9 GB); logs there too. Runs are sequential.
# DIJIANG_JAVA_OPTS is passed to the JVM (e.g. -Xmx3g to cap the heap of a llama-1b run on a shared machine).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$root/local/timing
mkdir -p "$work"
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(stories260K tiny:16 small:16 medium:16 llama-1b:2)

texts() { # texts N -> $work/texts-N.txt: N texts of 511 bytes, separated by <<<STORY>>> lines
  local n=$1 file=$work/texts-$1.txt
  [ -f "$file" ] && { echo "$file"; return; }
  local src
  src=$(cat "$root"/README.md "$root"/docs/*.md | LC_ALL=C tr -c '[:print:]' ' ' | LC_ALL=C tr -s ' ')
  : > "$file.tmp"
  for ((i = 0; i < n; i++)); do
    [ "$i" -gt 0 ] && echo "<<<STORY>>>" >> "$file.tmp"
    echo "${src:$((i * 1500)):511}" | sed 's/<<<STORY>>>//g' >> "$file.tmp"
  done
  mv "$file.tmp" "$file"
  echo "$file"
}

# the CLI jar, copied: a rebuild during the runs (bin/test) must not replace it under a running JVM
"$root/bin/dijiang" --version > /dev/null 2>&1 || true
. "$root/bin/lib/jdk.sh"; find_jdk
jar=$work/dijiang.jar
cp "$root/tools/target/dijiang.jar" "$jar"
dj() { # shellcheck disable=SC2086
  "$DIJIANG_JAVA_HOME/bin/java" $DIJIANG_JVM_FLAGS -Ddijiang.home="$root" -jar "$jar" "$@"; }

printf '%-11s %6s %5s %6s %10s %8s %8s %12s %7s %8s  %-17s %s\n' run layers texts tokens "layers*tok" "wall s" \
  "cpu s" "s/(L*1k tok)" "rss GB" "16 est." "load before" "load after"
phases=()
for run in "${runs[@]}"; do
  shape=${run%%:*} count=${run#*:}
  [ "$count" = "$run" ] && count=16
  log=$work/$shape-$count.log
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  if [ "$shape" = stories260K ]; then
    model=$root/models/stories260K
    args=(--config "$root/configs/hybrid.yaml" --seed 1 --texts 16)
    count=16 tokens=$((16 * 501))
  else
    model=$work/$shape
    [ -f "$model/config.json" ] || dj synth-model --shape "$shape" --dtype Q4 \
      --context-length 2048 --out "$model" >&2
    file=$(texts "$count")
    # calibrate's defaults choose the map (centroids, 64), sinks (4) and cache policy (heavy_hitter)
    { echo "model: $model"; echo "mode: hybrid"; echo "calibration: none"; echo "backend: cpu"; } \
      > "$work/$shape.yaml"
    args=(--config "$work/$shape.yaml" --text-file "$file" --seed 1)
    tokens=$((count * 512))
  fi
  layers=$(grep -o '"num_hidden_layers" *: *[0-9]*' "$model/config.json" | grep -o '[0-9]*$')
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  /usr/bin/time -f '%U %S %M' -o "$work/time.txt" "$DIJIANG_JAVA_HOME/bin/java" $DIJIANG_JVM_FLAGS \
    ${DIJIANG_JAVA_OPTS:-} -Ddijiang.home="$root" -jar "$jar" calibrate "${args[@]}" \
    --out "$work/$shape-$count.safetensors" > "$log" 2>&1 || { echo "error: $shape failed, see $log" >&2; exit 1; }
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  cpu=$(awk '{print $1 + $2}' "$work/time.txt")
  rss=$(awk '{printf "%.2f", $3 / 1048576}' "$work/time.txt")
  # the phases from the calibration's progress lines (seconds), and the texts the scoring and evaluation read
  phase=$(awk -v wall="$wall" -v n="$count" '
    /sampled [0-9]+ texts in / { for (i = 1; i <= NF; i++) if ($i == "in") sample = $(i + 1) }
    /recorded [0-9]+ layers in / { for (i = 1; i <= NF; i++) if ($i == "in") record = $(i + 1) }
    /: fitted the .* memory for / {
      for (i = 1; i <= NF; i++) {
        if ($i == "windows" && $(i + 1) == "in") fit += $(i + 2)
        if ($i == "texts" && $(i + 1) == "of" && $(i + 2) == "the") { scored = $(i - 1); smax = $(i + 6) + 0 }
        if ($i == "s;") score += $(i - 1)
      }
    }
    /measured the sensitivity of/ {
      for (i = 1; i <= NF; i++) {
        if ($i == "texts," && $(i + 1) == "at") { senst = $(i - 1); smx = $(i + 3) + 0 }
        if ($i == "in") sens = $(i + 1)
      }
    }
    /evaluated the plan and the plain window on/ {
      for (i = 1; i <= NF; i++) {
        if ($i == "on") evaluated = $(i + 1)
        if ($i == "most") emax = $(i + 1) + 0
        if ($i == "in") ev = $(i + 1)
      }
    }
    END {
      other = wall - sample - record - fit - score - sens - ev
      est = wall
      if (n < 16 && scored > 0 && evaluated > 0) {
        s16 = smax < 16 ? smax : 16; e16 = emax < 16 ? emax : 16
        n16 = smx < 16 ? smx : 16
        est = other + sample + (record + fit) * 16 / n + score * s16 / scored + ev * e16 / evaluated \
          + (senst > 0 ? sens * n16 / senst : sens)
      }
      printf "%.1f|sampling %.1f, recording %.1f, fit %.1f, scoring %.1f (%d texts), sensitivity %.1f (%d texts), evaluation %.1f (%d texts), other %.1f", \
        est, sample, record, fit, score, scored, sens, senst, ev, evaluated, other
    }' "$log")
  est=${phase%%|*}
  printf '%-11s %6d %5d %6d %10d %8.1f %8.1f %12.3f %7s %8.1f  %-17s %s\n' "$shape" "$layers" "$count" "$tokens" \
    $((layers * tokens)) "$wall" "$cpu" "$(echo "$wall * 1000 / ($layers * $tokens)" | bc -l)" "$rss" "$est" \
    "$load" "$(cut -d' ' -f1-3 /proc/loadavg)"
  phases+=("$shape:$count wall s: ${phase#*|}")
done
printf '%s\n' "${phases[@]}"
