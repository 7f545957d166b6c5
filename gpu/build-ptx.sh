#!/usr/bin/env bash
# Regenerates the committed PTX of the gpu module from src/main/cuda/*.cu: one <name>_sm80.ptx per source.
# sm_80 only: the driver JIT-compiles sm_80 PTX for any newer GPU (sm_90 included), and the kernels use nothing
# newer, so a second target would be the same text with another .target line. CudaKernelFunction.PTX_ARCHITECTURE
# must name the same architecture.
# Usage: gpu/build-ptx.sh            (or: mvn -pl gpu -Pptx generate-resources)
# NVCC overrides the compiler, PTX_OUT the output folder (the up-to-date test writes to a temporary one); without
# nvcc the script says so and leaves the committed PTX alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/src/main/cuda"
out="${PTX_OUT:-$here/src/main/resources/io/dijiang4j/gpu}"
nvcc="${NVCC:-$(command -v nvcc || true)}"
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [[ -z "$nvcc" ]]; then
  echo "build-ptx: nvcc not found (set NVCC or PATH); keeping the committed PTX in $out" >&2
  exit 0
fi
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
arch=80
for cu in "$src"/*.cu; do
  name="$(basename "$cu" .cu)"
  "$nvcc" --ptx -O3 -std=c++17 -arch="sm_$arch" -I"$src" -o "$tmp/${name}_sm${arch}.ptx" "$cu"
done
# Fingerprint of the sources the PTX came from; a unit test compares it with the sources to catch stale PTX.
(cd "$src" && sha256sum $(ls *.cu *.cuh | LC_ALL=C sort)) > "$tmp/sources.sha256"
for f in "$tmp"/*; do mv -f "$f" "$out/$(basename "$f")"; done # rename per file: readers never see a partial file
echo "build-ptx: wrote $(ls "$out" | wc -l) files to $out with $("$nvcc" --version | tail -1)"
