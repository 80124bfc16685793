#!/usr/bin/env bash
# Partial offload on a GPU machine: greedy tokens with every layer on cuda, every layer on the
# cpu, and the layers split between them by a --config placement (cuda first, then cpu), on the
# shared models; then the speed of the three placements on a TinyLlama-shaped random model.
# Runs from the repository root of a copy that carries build-gpu/{bin,lib} (built elsewhere with
# -DHEARTH_BACKEND_CUDA=ON, configured at $SRC) and build-gpu-carry/ (shared models, the synth
# tool, the system libraries the binaries need). Writes logs under $OUT (or ./device-out).
set -u
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
root=$PWD
mkdir -p /work
[ -e "${SRC:-/work/main}" ] || ln -s "$root" "${SRC:-/work/main}"
[ -e /work/shared ] || ln -s "$root/build-gpu-carry/shared" /work/shared
export LD_LIBRARY_PATH=$root/build-gpu-carry/syslib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bin=$root/build-gpu/bin
models=/work/shared/models
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }

split_config() {  # file, last cuda layer
  cat >"$1" <<EOF
[[device]]
match = "cuda:0"
backend = "cuda"
layers = "0-$2"

[[device]]
match = "cpu"
backend = "cpu"
layers = "rest"
EOF
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
log "conformance"
timeout 300 $bin/conformance_test --gtest_brief=1 >"$OUT/conformance.log" 2>&1
log "conformance rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$OUT/conformance.log" | tr '\n' ' ')"

log "greedy text: cpu, cuda, split (40 tokens, temp 0, F32 KV on all three)"
prompt="Once upon a time, there was a little girl named Lily."
mkdir -p "$OUT/gen"
for m in $models/stories260K.gguf $models/synthetic/*.gguf; do
  name=$(basename "$m" .gguf)
  layers=$($bin/hearth inspect "$m" 2>/dev/null | awk '/block_count/ {print $NF; exit}')
  split_config /tmp/split.toml $(( ${layers:-2} / 2 - 1 ))
  for placement in cpu cuda split; do
    args="--backend $placement"
    [ $placement = split ] && args="--config /tmp/split.toml"
    timeout 60 $bin/hearth run -m "$m" $args --kv-type f32 --temp 0 -n 40 -p "$prompt" \
      --no-prompt-echo >"$OUT/gen/$name-$placement.txt" 2>"$OUT/gen/$name-$placement.err" ||
      log "rc=$? $name $placement: $(tail -2 "$OUT/gen/$name-$placement.err")"
  done
  s_cpu=$(cmp -s "$OUT/gen/$name-split.txt" "$OUT/gen/$name-cpu.txt" && echo same || echo differs)
  s_cuda=$(cmp -s "$OUT/gen/$name-split.txt" "$OUT/gen/$name-cuda.txt" && echo same || echo differs)
  c_c=$(cmp -s "$OUT/gen/$name-cpu.txt" "$OUT/gen/$name-cuda.txt" && echo same || echo differs)
  log "$name ($layers layers, split at $(( ${layers:-2} / 2 ))): split vs cpu $s_cpu, split vs cuda $s_cuda, cpu vs cuda $c_c"
done

log "speed: TinyLlama-1.1B shape Q4_K_M, random weights; 1277-token prompt, 64 generated"
cd /tmp
timeout 240 python3 $root/build-gpu-carry/synth_gguf.py tinyllama-1.1b $models/stories260K.gguf /tmp/tl-F16.gguf >"$OUT/synth.log" 2>&1 &&
  timeout 240 $bin/hearth quantize /tmp/tl-F16.gguf /tmp/tl-Q4_K_M.gguf Q4_K_M >"$OUT/quantize.log" 2>&1 ||
  log "synth/quantize failed: $(tail -n 3 "$OUT/synth.log" "$OUT/quantize.log")"
head -c 2600 $models/tinystories/validation_100.txt >/tmp/pp.txt
split_config /tmp/split-tl.toml 10
for placement in cuda split cpu; do
  args="--backend $placement"
  [ $placement = split ] && args="--config /tmp/split-tl.toml"
  n=64
  [ $placement = cpu ] && n=8
  log "speed $placement"
  timeout 200 $bin/hearth run -m /tmp/tl-Q4_K_M.gguf $args --temp 0 -n $n -f /tmp/pp.txt \
    --no-prompt-echo 2>&1 >/dev/null | grep -E "tok/s|error" | tee -a "$OUT/summary.txt"
done
log "done"
tar -C "$OUT" -czf "$OUT/gen.tgz" gen && rm -rf "$OUT/gen"
