#!/usr/bin/env bash
# Two `dijiang serve` processes sharing one Redis (the redis-server binary of the embedded-redis artifact in the
# Maven repository, as the tests use it): a conversation's second turn on the other process restores the first
# turn's state; its time to first token (a max_tokens 1 request, timed by curl) is set beside the same turn on the
# process that served the first turn and beside a full prefill; then Redis is killed and a request must still succeed.
#   [REPEATS=3] scripts/serve-replicas.sh [PROFILE] [SENTENCES]   (default configs/hybrid.yaml, 120 sentences: ~2000 tokens)
# Needs curl, jq, unzip and a built bin/dijiang (it builds the server jar on first use).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
profile=${1:-$root/configs/hybrid.yaml} sentences=${2:-120}
for tool in curl jq unzip; do command -v $tool >/dev/null || { echo "error: $tool not found" >&2; exit 2; }; done
jar=$(find "${HOME}/.m2/repository/com/github/codemonstur/embedded-redis" -name 'embedded-redis-*.jar' 2>/dev/null | sort | tail -1)
[ -n "$jar" ] || { echo "error: no embedded-redis jar in ~/.m2 (run the server module's tests once)" >&2; exit 2; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
unzip -p "$jar" redis-server-6.2.6-v5-linux-amd64 >"$tmp/redis-server"; chmod +x "$tmp/redis-server"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rp=$(free_port) pa=$(free_port) pb=$(free_port)
"$tmp/redis-server" --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 & redis_pid=$!; pids+=($redis_pid)
"$root/bin/dijiang" serve --config "$profile" --port "$pa" --redis "redis://127.0.0.1:$rp" >"$tmp/a.log" 2>&1 & pids+=($!)
"$root/bin/dijiang" serve --config "$profile" --port "$pb" --redis "redis://127.0.0.1:$rp" >"$tmp/b.log" 2>&1 & pids+=($!)
for port in "$pa" "$pb"; do
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
  curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "error: server on $port did not start:"; tail -5 "$tmp"/*.log; exit 1; }
done
model=$(curl -s "http://127.0.0.1:$pa/v1/models" | jq -r '.data[0].id')
sentence=("Lily went to the park with her mom." "She saw a big red ball under a tree." "Tom came to play and they ran in the sun." "The dog barked and jumped over the box." "They were happy and had a lot of fun." "Then it started to rain, so they went home.")
story() { local s="Once upon a time, story $1." i; for ((i = 0; i < sentences; i++)); do s+=" ${sentence[$(((i * 7 + i / 6 + $1) % 6))]}"; done; echo "$s"; }
# post PORT JSON -> prints "seconds<TAB>body"
post() { curl -s -o "$tmp/body" -w '%{time_total}' "http://127.0.0.1:$1/v1/chat/completions" -H 'Content-Type: application/json' -d "$2"; printf '\t'; cat "$tmp/body"; }
turn1() { jq -nc --arg m "$model" --arg s "$1" '{model:$m,temperature:0,max_tokens:16,messages:[{role:"user",content:$s}]}'; }
turn2() { jq -nc --arg m "$model" --arg s "$1" --arg a "$2" '{model:$m,temperature:0,max_tokens:1,messages:[{role:"user",content:$s},{role:"assistant",content:$a},{role:"user",content:"What happened next?"}]}'; }
# a warm-up conversation of two turns on each process (JIT of prefill, snapshot, restore), then the timed ones
warm() { local s a; s=$(story "$2"); a=$(post "$1" "$(turn1 "$s")" | cut -f2- | jq -r '.choices[0].message.content')
  post "$1" "$(turn2 "$s" "$a")" >/dev/null; }
warm "$pa" 90; warm "$pb" 91
measure() { # CONVERSATION TURN1_PORT TURN2_PORT -> "seconds cached prompt" of turn 2
  local s a out; s=$(story "$1")
  a=$(post "$2" "$(turn1 "$s")" | cut -f2- | jq -r '.choices[0].message.content')
  out=$(post "$3" "$(turn2 "$s" "$a")")
  echo "$(cut -f1 <<<"$out") $(cut -f2- <<<"$out" | jq -r '"\(.usage.prompt_tokens_details.cached_tokens) \(.usage.prompt_tokens)"')"
}
# interleaved repeats (conversations 1..2R), medians: timings on a shared machine are noisy
reps=${REPEATS:-3}; same=() other=()
for ((r = 0; r < reps; r++)); do
  read -r t same_c same_p <<<"$(measure $((2 * r + 1)) "$pa" "$pa")"; same+=("$t")
  read -r t other_c other_p <<<"$(measure $((2 * r + 2)) "$pa" "$pb")"; other+=("$t")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
same_t=$(median "${same[@]}") other_t=$(median "${other[@]}")
# a full prefill of the same shape: the second turn of a conversation nobody saved (no turn 1 sent)
s=$(story 99); full=$(post "$pb" "$(turn2 "$s" "The end.")")
full_t=$(cut -f1 <<<"$full"); full_c=$(cut -f2- <<<"$full" | jq -r '.usage.prompt_tokens_details.cached_tokens')
printf 'second turn, time to first token (max_tokens 1, curl time_total, median of %s), history %s prompt tokens:\n' "$reps" "$other_p"
printf '  on the process of turn 1:      %6.3f s (restored %s of %s tokens)\n' "$same_t" "$same_c" "$same_p"
printf '  on the other process (Redis):  %6.3f s (restored %s of %s tokens), %.2fx the first\n' "$other_t" "$other_c" "$other_p" "$(echo "$other_t / $same_t" | bc -l)"
printf '  full prefill, nothing saved:   %6.3f s (restored %s)\n' "$full_t" "$full_c"
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
down=$(post "$pb" "$(turn2 "$(story 2)" "Then they slept.")")
status=$(jq -r 'if .choices then "ok" else "failed: \(.)" end' <<<"$(cut -f2- <<<"$down")")
printf '  Redis killed, same process:    %6.3f s, request %s\n' "$(cut -f1 <<<"$down")" "$status"
[ "$status" = ok ] && [ "$other_c" -gt 0 ]
