#!/usr/bin/env bash
# One lease on a GPU machine: conformance, CPU-vs-CUDA greedy agreement on the shared models, and
# decode/prefill speed on a TinyLlama-shaped random model. Runs from the repository root of a
# copy that carries build-gpu/{bin,lib} (built elsewhere with -DHEARTH_BACKEND_CUDA=ON) and
# build-gpu-carry/ (shared models, the synth tool, the system libraries the binaries need).
# Writes logs under $OUT (or ./device-out).
set -u
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
root=$PWD
# The binaries were configured at /work/main with the shared data at /work/shared.
mkdir -p /work
[ -e /work/main ] || ln -s "$root" /work/main
[ -e /work/shared ] || ln -s "$root/build-gpu-carry/shared" /work/shared
export LD_LIBRARY_PATH=$root/build-gpu-carry/syslib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
build=/work/main/${BUILD:-build/release}
bin=$build/bin
[ -f $build/lib/hearth/plugins/libhearth-backend-cuda.so ] ||
  cp build-gpu-carry/plugin/libhearth-backend-cuda.so $build/lib/hearth/plugins/
models=/work/shared/models
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
nproc | tee -a "$OUT/gpu.txt"
$bin/hearth devices 2>&1 | tee -a "$OUT/gpu.txt"

log "conformance"
timeout 300 $bin/conformance_test --gtest_brief=1 >"$OUT/conformance.log" 2>&1
log "conformance rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$OUT/conformance.log" | tr '\n' ' ')"
grep -E "FAILED|SKIPPED \]" "$OUT/conformance.log" | head -40

log "greedy text, cpu vs cuda (40 tokens, temp 0)"
prompt="Once upon a time, there was a little girl named Lily."
for m in $models/synthetic/*.gguf $models/stories260K.gguf; do
  name=$(basename "$m" .gguf)
  mkdir -p "$OUT/gen"
  for be in ${GEN_BACKENDS:-cpu cuda}; do
    timeout 60 $bin/hearth run -m "$m" --backend $be --kv-type f32 --temp 0 -n 40 -p "$prompt" --no-prompt-echo \
      >"$OUT/gen/$name-$be.txt" 2>"$OUT/gen/$name-$be.err" || log "rc=$? $(tail -2 "$OUT/gen/$name-$be.err")"
  done
  if cmp -s "$OUT/gen/$name-cpu.txt" "$OUT/gen/$name-cuda.txt"; then log "SAME $name"; else log "DIFF (or no cpu run) $name"; fi
done

log "perplexity stories260K on tinystories validation, cpu vs cuda"
head -c 20000 $models/tinystories/validation_100.txt >/tmp/ppl.txt
for be in ${GEN_BACKENDS:-cpu cuda}; do
  timeout 120 $bin/hearth perplexity -m $models/stories260K.gguf --backend $be -f /tmp/ppl.txt 2>&1 | tail -3 | tee -a "$OUT/summary.txt"
done

log "benchmarks: TinyLlama-1.1B shape, random weights (synth_gguf.py), vocab of stories260K"
cd /tmp
timeout 240 python3 $root/build-gpu-carry/synth_gguf.py tinyllama-1.1b $models/stories260K.gguf /tmp/tl-F16.gguf >"$OUT/synth.log" 2>&1 || log "synth failed: $(tail -3 "$OUT/synth.log")"
for t in ${QUANT_TYPES:-Q4_K_M Q4_0 Q8_0}; do
  timeout 240 $bin/hearth quantize /tmp/tl-F16.gguf /tmp/tl-$t.gguf $t >>"$OUT/quantize.log" 2>&1 || log "quantize $t failed"
done
ls -la /tmp/tl-*.gguf | tee -a "$OUT/summary.txt"
head -c 2600 $models/tinystories/validation_100.txt >/tmp/pp.txt
speed() {  # backend, model, tokens to generate
  timeout 150 $bin/hearth run -m "$2" --backend "$1" --temp 0 -n "$3" -f /tmp/pp.txt --no-prompt-echo \
    2>&1 >/dev/null | grep "tok/s" | tee -a "$OUT/summary.txt"
}
for t in F16 Q4_K_M Q4_0 Q8_0; do
  [ -f /tmp/tl-$t.gguf ] || continue
  log "speed cuda $t (prompt of /tmp/pp.txt, 128 generated), two runs"
  speed cuda /tmp/tl-$t.gguf 128; speed cuda /tmp/tl-$t.gguf 128
done
for t in ${CPU_SPEED_TYPES:-Q4_0 F16}; do
  log "speed cpu $t (16 generated)"
  speed cpu /tmp/tl-$t.gguf 16
done
log "done"
tar -C "$OUT" -czf "$OUT/gen.tgz" gen && rm -rf "$OUT/gen"
rm -f "$OUT"/gen-*.txt "$OUT"/gen-*.err
