#!/usr/bin/env bash
# Regenerates the committed native library of the cpu-native module from src/main/c: linux-x86_64 only (the
# kernels are x86 SIMD). The kernels carry their own target attributes, so the library is built for the x86-64
# baseline and loads on any x86-64 CPU; dj_q4_level() tells the Java side which may run.
# -ffp-contract=off: every multiply-add is the one the source writes, so that a row gives the same bits in a group of
# four activation rows as alone.
# Usage: cpu-native/build-native.sh     CC overrides the compiler, NATIVE_OUT the output folder; without a C compiler
# the script says so and leaves the committed library alone (NativeLibraryResourcesTest fails if it is then stale).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/src/main/c"
out="${NATIVE_OUT:-$here/src/main/resources/io/dijiang4j/cpunative/linux-x86_64}"
cc="${CC:-$(command -v gcc || command -v cc || true)}"
if [[ -z "$cc" ]]; then
  echo "build-native: no C compiler found (set CC); keeping the committed library in $out" >&2
  exit 0
fi
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$cc" -O3 -ffp-contract=off -shared -fPIC -Wall -Werror -o "$tmp/libdijiang_cpu.so" "$src"/*.c
# Fingerprint of the sources the library came from; a unit test compares it with the sources to catch a stale one.
(cd "$src" && sha256sum $(ls *.c *.h | LC_ALL=C sort)) > "$tmp/sources.sha256"
for f in "$tmp"/*; do mv -f "$f" "$out/$(basename "$f")"; done # rename per file: readers never see a partial file
echo "build-native: wrote $(ls "$out" | wc -l) files to $out with $("$cc" --version | head -1)"
