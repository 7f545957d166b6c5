#!/usr/bin/env bash
# Calibration time of `dijiang calibrate` (issue 13): stories260K with the default 16 sampled texts, then the
# synthetic shapes (Q4, random weights) on fixed texts of 512 tokens (BOS + 511 bytes of this repository's docs;
# the byte tokenizer makes one token per byte). Prints one row per run: wall and CPU seconds, layers x tokens and
# the wall seconds per layer and 1000 tokens, with the load average before the run (2 shared cores: say it).
#
#   scripts/calibration-timing.sh [SHAPE:TEXTS ...]      default: stories260K tiny:16 small:16 medium:16 llama-1b:2
#
# SHAPE is stories260K or a synthetic shape (tiny, small, medium, llama-1b); TEXTS the number of 512-token texts
# (stories260K: sampled texts of 500 tokens, as `calibrate` does by default). Models are written once into
# local/timing/ (llama-1b Q4: about 0.9 GB); logs there too. Runs are sequential.
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

printf '%-11s %6s %9s %9s %10s %8s %8s %12s  %s\n' run layers texts tokens "layers*tok" "wall s" "cpu s" \
  "s/(L*1k tok)" "load before"
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
  /usr/bin/time -f '%U %S' -o "$work/time.txt" "$DIJIANG_JAVA_HOME/bin/java" $DIJIANG_JVM_FLAGS \
    -Ddijiang.home="$root" -jar "$jar" calibrate "${args[@]}" \
    --out "$work/$shape-$count.safetensors" > "$log" 2>&1 || { echo "error: $shape failed, see $log" >&2; exit 1; }
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  cpu=$(awk '{print $1 + $2}' "$work/time.txt")
  printf '%-11s %6d %9d %9d %10d %8.1f %8.1f %12.3f  %s\n' "$shape" "$layers" "$count" "$tokens" \
    $((layers * tokens)) "$wall" "$cpu" "$(echo "$wall * 1000 / ($layers * $tokens)" | bc -l)" "$load"
done
