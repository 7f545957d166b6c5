#!/usr/bin/env bash
# Checks a running `dijiang serve` with curl: good requests answer 200, bad ones (invalid JSON, unknown model,
# negative max_tokens, a 10 MB body, empty messages, an unknown route, an unsupported parameter) the status code and
# OpenAI error object ({"error": {"message", "type", "param", "code"}}) they should. Needs curl and jq.
#   scripts/openai-bad-requests.sh http://127.0.0.1:8080 stories260K-hybrid
# Prints one line per check and "N passed, N failed"; exits 1 when a check failed, 2 on bad arguments.
set -uo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 BASE_URL MODEL_ID" >&2; exit 2; fi
base=$1 model=$2
for tool in curl jq; do command -v $tool >/dev/null || { echo "error: $tool not found" >&2; exit 2; }; done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# check NAME EXPECTED_STATUS JQ_TEST CURL_ARGS...: runs curl, then the jq test on the body must print true
check() {
  local name=$1 want=$2 test=$3; shift 3
  local status
  status=$(curl -s -o "$tmp/body" -w '%{http_code}' "$@")
  if [ "$status" = "$want" ] && [ "$(jq -r "$test" "$tmp/body" 2>/dev/null)" = true ]; then
    passed=$((passed + 1)); echo "ok    $name ($status)"
  else
    failed=$((failed + 1)); echo "FAIL  $name: status $status (want $want), body: $(head -c 300 "$tmp/body")"
  fi
}
is_error='(.error | has("message") and has("type") and has("param") and has("code")) and (.error.message | length > 0)'
chat() { curl_args=(-X POST "$base/v1/chat/completions" -H 'Content-Type: application/json'); }
chat

check "models lists the model" 200 "[.data[].id] | index(\"$model\") != null" "$base/v1/models"
check "health" 200 '.status == "ok"' "$base/health"
check "a good chat request" 200 '.choices[0].message.role == "assistant" and .usage.prompt_tokens > 0' \
  "${curl_args[@]}" -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":5}"
check "a good completion request" 200 '.object == "text_completion" and (.choices[0].text | type) == "string"' \
  -X POST "$base/v1/completions" -H 'Content-Type: application/json' \
  -d "{\"model\":\"$model\",\"prompt\":\"Once upon a time\",\"max_tokens\":5}"
check "invalid JSON" 400 "$is_error and .error.type == \"invalid_request_error\" and .error.code == \"invalid_json\"" \
  "${curl_args[@]}" -d '{"model": "x", "messages": [ '
check "a body that is not an object" 400 "$is_error and .error.type == \"invalid_request_error\"" \
  "${curl_args[@]}" -d '[1, 2]'
check "unknown model" 404 "$is_error and .error.code == \"model_not_found\" and .error.param == \"model\"" \
  "${curl_args[@]}" -d '{"model":"gpt-17","messages":[{"role":"user","content":"Hi"}]}'
check "negative max_tokens" 400 "$is_error and .error.param == \"max_tokens\" and .error.code == \"integer_below_min_value\"" \
  "${curl_args[@]}" -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":-5}"
check "empty messages" 400 "$is_error and .error.param == \"messages\" and .error.code == \"empty_array\"" \
  "${curl_args[@]}" -d "{\"model\":\"$model\",\"messages\":[]}"
check "missing messages" 400 "$is_error and .error.param == \"messages\"" \
  "${curl_args[@]}" -d "{\"model\":\"$model\"}"
check "an unsupported parameter" 400 "$is_error and .error.param == \"tools\" and .error.code == \"unsupported_parameter\"" \
  "${curl_args[@]}" -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"tools\":[]}"
check "an unknown parameter" 400 "$is_error and (.error.message | startswith(\"Unrecognized request argument\"))" \
  "${curl_args[@]}" -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"frobnicate\":true}"
check "an unknown route" 404 "$is_error and .error.code == \"unknown_url\"" "$base/v1/embeddings"
{ printf '{"model":"%s","messages":[{"role":"user","content":"' "$model"
  head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a'
  printf '"}]}'; } >"$tmp/big.json"
check "a 10 MB body" 413 "$is_error and .error.code == \"request_too_large\"" \
  "${curl_args[@]}" --data-binary "@$tmp/big.json"
# streaming: server-sent events, the usage chunk, then [DONE]
status=$(curl -s -N -o "$tmp/sse" -w '%{http_code}' "${curl_args[@]}" \
  -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":8,\"stream\":true,\"stream_options\":{\"include_usage\":true}}")
last=$(grep '^data: ' "$tmp/sse" | tail -1)
usage=$(grep '^data: {' "$tmp/sse" | tail -1 | sed 's/^data: //' | jq -r '.usage.completion_tokens > 0 and (.choices | length) == 0' 2>/dev/null)
if [ "$status" = 200 ] && [ "$last" = "data: [DONE]" ] && [ "$usage" = true ]; then
  passed=$((passed + 1)); echo "ok    streaming with include_usage (200)"
else
  failed=$((failed + 1)); echo "FAIL  streaming: status $status, last event '$last', usage chunk ok: $usage"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
