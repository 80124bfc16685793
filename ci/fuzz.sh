#!/usr/bin/env bash
# Fuzzes the GGUF reader: builds tests/fuzz's gguf_fuzz (libFuzzer, ASan+UBSan) with clang in
# its own build directory, seeds a corpus from the .gguf files in ../shared/models and runs it
# for FUZZ_SECONDS (default 60). Exits non-zero on any crash, sanitizer report, leak or timeout;
# the failing input is left in <build>/gguf-fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
shared="${HEARTH_SHARED_DIR:-$root/../shared}"
[ -d "$shared/models" ] || shared=/work/shared
seconds="${FUZZ_SECONDS:-60}"
jobs="${HEARTH_JOBS:-$(nproc)}"
max_len=$((1280 * 1024))  # whole small models (stories260K is 1.13 MiB); bigger seeds are cut

mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DHEARTH_FUZZ=ON -DHEARTH_BUILD_TESTS=ON \
  -DHEARTH_BACKEND_CUDA=OFF -DHEARTH_BACKEND_HIP=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target gguf_fuzz -j "$jobs"

seeds="$build/gguf-fuzz-seeds"
corpus="$build/gguf-fuzz-corpus"
artifacts="$build/gguf-fuzz-artifacts"
rm -rf "$seeds" "$artifacts"
mkdir -p "$seeds" "$corpus" "$artifacts"
count=0
while IFS= read -r -d '' model; do
  name="$(basename "$model")"
  # Every file contributes its first 64 KiB (header, keys, tensor infos); small ones also whole.
  head -c 65536 "$model" >"$seeds/$name.head"
  if [ "$(stat -c %s "$model")" -le "$max_len" ]; then cp "$model" "$seeds/$name"; fi
  count=$((count + 1))
done < <(find "$shared/models" -name '*.gguf' -size -20M -print0 | sort -z)
if [ "$count" -eq 0 ]; then
  echo "fuzz: no .gguf files under $shared/models to seed the corpus" >&2
  exit 1
fi
echo "fuzz: corpus seeded from $count model files; running gguf_fuzz for ${seconds}s"

status=0
"$build/bin/gguf_fuzz" "$corpus" "$seeds" \
  -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=30 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz: gguf_fuzz failed (exit $status); inputs that reproduce it:" >&2
  ls -l "$artifacts" >&2
  exit "$status"
fi
echo "fuzz: no crashes in ${seconds}s"
