// MATMUL speed of the cpu backend per weight type at TinyLlama's shapes, through the plugin's C
// API on a device with 2 threads (what the engine sees: activation quantization and threading
// included). n_tok = 1 is decode (GEMV), 32 and 128 are prompt chunks. Counters: weight_GBps =
// weight bytes read per second (each weight byte is read once per op), GFLOPs = 2 n_in n_out
// n_tok per second. Run: bench_kernels --benchmark_repetitions=3 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>
#include <emmintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../backend-cpu/random_blocks.hpp"
#include "../conformance/device_under_test.hpp"
#include "attention_f16.hpp"
#include "huge_page_buffer.hpp"
#include "interleaved_rows.hpp"
#include "nf4_kernels.hpp"
#include "quant_kernels.hpp"
#include "quant_tiles.hpp"

namespace hearth::backend_cpu {
namespace {

using conformance::DeviceUnderTest;
using conformance::HostTensor;

std::unique_ptr<DeviceUnderTest> open_device(const char* threads) {
  std::string skip;
  auto d = DeviceUnderTest::open("cpu", {{"threads", threads}}, skip);
  if (!d) throw std::runtime_error("bench_kernels: no cpu backend: " + skip);
  return d;
}

// A cpu device with 1 or 2 threads (opened on first use, kept for the process).
DeviceUnderTest& device(int threads = 2) {
  static const std::unique_ptr<DeviceUnderTest> one = open_device("1");
  static const std::unique_ptr<DeviceUnderTest> two = open_device("2");
  return threads == 1 ? *one : *two;
}

int64_t weight_row_bytes(hearth_dtype dtype, int64_t n_in) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      return 4 * n_in;
    case HEARTH_DTYPE_F16:
    case HEARTH_DTYPE_BF16:
      return 2 * n_in;
    case HEARTH_DTYPE_NF4:
      return n_in / kNf4BlockElems * kNf4BlockBytes;
    default: {
      const auto& l = test::quant_layout(dtype);
      return n_in / l.block_elems * l.block_bytes;
    }
  }
}

std::vector<uint8_t> random_weights(std::mt19937_64& rng, hearth_dtype dtype, int64_t n_in,
                                    int64_t n_out) {
  std::vector<uint8_t> bytes(static_cast<size_t>(weight_row_bytes(dtype, n_in) * n_out));
  if (dtype == HEARTH_DTYPE_F32 || dtype == HEARTH_DTYPE_F16 || dtype == HEARTH_DTYPE_BF16) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int64_t i = 0; i < n_in * n_out; ++i) {
      const float v = u(rng);
      if (dtype == HEARTH_DTYPE_F32) {
        std::memcpy(bytes.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = dtype == HEARTH_DTYPE_F16 ? sdk::fp32_to_fp16(v) : sdk::fp32_to_bf16(v);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    }
    return bytes;
  }
  if (dtype == HEARTH_DTYPE_NF4) {  // random codes, a normal-range absmax per block
    std::uniform_real_distribution<float> scale(0.01f, 0.1f);
    for (size_t b = 0; b < bytes.size(); b += kNf4BlockBytes) {
      const float d = scale(rng);
      std::memcpy(bytes.data() + b, &d, 4);
      for (int64_t j = 4; j < kNf4BlockBytes; ++j)
        bytes[b + static_cast<size_t>(j)] = static_cast<uint8_t>(rng());
    }
    return bytes;
  }
  const auto blocks = test::random_blocks(rng, dtype, n_in, n_out);
  std::memcpy(bytes.data(), blocks.data(), blocks.size());
  return bytes;
}

void bm_matmul(benchmark::State& state, hearth_dtype dtype) {
  const int64_t n_in = state.range(0), n_out = state.range(1), n_tok = state.range(2);
  std::mt19937_64 rng(42);
  DeviceUnderTest& dev = device(state.range(3) == 1 ? 1 : 2);
  HostTensor w = HostTensor::raw(dtype, {n_in, n_out, 1, 1}, 2, weight_row_bytes(dtype, n_in));
  w.bytes = random_weights(rng, dtype, n_in, n_out);
  std::vector<float> x(static_cast<size_t>(n_in * n_tok));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  auto w_t = dev.upload(w);
  auto x_t = dev.upload(HostTensor::f32({n_in, n_tok, 1, 1}, 2, x));
  auto out = dev.upload(HostTensor::output({n_out, n_tok, 1, 1}, 2));
  const auto op = conformance::make_op(HEARTH_OP_MATMUL, out.descriptor(),
                                       {w_t.descriptor(), x_t.descriptor()});
  if (auto status = dev.run(op); !status.ok()) {
    state.SkipWithError(status.message().c_str());
    return;
  }
  for (auto _ : state) {
    auto status = dev.run(op);
    benchmark::DoNotOptimize(status);
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["weight_GBps"] = benchmark::Counter(
      static_cast<double>(w.bytes.size()) * iterations / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * static_cast<double>(n_in * n_out * n_tok) * iterations / 1e9,
                         benchmark::Counter::kIsRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n_in", "n_out", "n_tok", "threads"});
  for (int64_t n_tok : {1, 32, 128})
    for (auto [n_in, n_out] : {std::pair<int64_t, int64_t>{2048, 2048}, {2048, 5632}, {5632, 2048}})
      b->Args({n_in, n_out, n_tok, 2});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// Prompt processing (the 128-token chunk) on 1 and 2 threads. The machine may be shared, so the
// CPU column is the whole process's CPU time (both threads): GFLOPs per CPU-second is
// 2 n_in n_out n_tok / (CPU time), which other processes' load changes less than wall time.
void prefill_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n_in", "n_out", "n_tok", "threads"});
  for (int64_t threads : {1, 2})
    for (auto [n_in, n_out] : {std::pair<int64_t, int64_t>{2048, 2048}, {5632, 2048}})
      b->Args({n_in, n_out, 128, threads});
  b->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime()->UseRealTime();
}

#define HEARTH_BENCH_TYPE(NAME) \
  BENCHMARK_CAPTURE(bm_matmul, NAME, HEARTH_DTYPE_##NAME)->Apply(shapes)

HEARTH_BENCH_TYPE(F32);
HEARTH_BENCH_TYPE(F16);
HEARTH_BENCH_TYPE(BF16);
HEARTH_BENCH_TYPE(Q4_0);
HEARTH_BENCH_TYPE(Q4_1);
HEARTH_BENCH_TYPE(Q5_0);
HEARTH_BENCH_TYPE(Q5_1);
HEARTH_BENCH_TYPE(Q8_0);
HEARTH_BENCH_TYPE(Q2_K);
HEARTH_BENCH_TYPE(Q3_K);
HEARTH_BENCH_TYPE(Q4_K);
HEARTH_BENCH_TYPE(Q5_K);
HEARTH_BENCH_TYPE(Q6_K);
HEARTH_BENCH_TYPE(NF4);

#define HEARTH_BENCH_PREFILL(NAME) \
  BENCHMARK_CAPTURE(bm_matmul, prefill_##NAME, HEARTH_DTYPE_##NAME)->Apply(prefill_shapes)

HEARTH_BENCH_PREFILL(Q4_0);
HEARTH_BENCH_PREFILL(Q4_1);
HEARTH_BENCH_PREFILL(Q5_0);
HEARTH_BENCH_PREFILL(Q5_1);
HEARTH_BENCH_PREFILL(Q8_0);
HEARTH_BENCH_PREFILL(Q2_K);
HEARTH_BENCH_PREFILL(Q3_K);
HEARTH_BENCH_PREFILL(Q4_K);
HEARTH_BENCH_PREFILL(Q5_K);
HEARTH_BENCH_PREFILL(Q6_K);

// One thread, the weight-row kernels alone (no pool, no op validation): a GEMV of NF4's fused
// F32 dot against Q4_0's integer dot, whose activation quantization is counted once per GEMV as
// MATMUL does it.
void bm_gemv_one_thread(benchmark::State& state, hearth_dtype dtype) {
  const int64_t n_in = state.range(0), n_out = state.range(1);
  std::mt19937_64 rng(42);
  const auto w = random_weights(rng, dtype, n_in, n_out);
  const int64_t row_bytes = weight_row_bytes(dtype, n_in);
  std::vector<float> x(static_cast<size_t>(n_in)), y(static_cast<size_t>(n_out));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  const QuantTypeKernels* q = quant_type_kernels(dtype);
  std::vector<uint64_t> act(static_cast<size_t>(activation_row_bytes(dtype, n_in) / 8 + 1));
  for (auto _ : state) {
    if (dtype == HEARTH_DTYPE_NF4) {
      for (int64_t r = 0; r < n_out; ++r)
        y[static_cast<size_t>(r)] = nf4_dot(n_in, w.data() + r * row_bytes, x.data());
    } else {
      q->quantize_activations(x.data(), act.data(), n_in);
      for (int64_t r = 0; r < n_out; ++r)
        y[static_cast<size_t>(r)] = q->dot(n_in, w.data() + r * row_bytes, act.data());
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GBps"] = benchmark::Counter(
      static_cast<double>(w.size()) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

void gemv_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n_in", "n_out"});
  for (auto [n_in, n_out] : {std::pair<int64_t, int64_t>{2048, 2048}, {2048, 5632}, {5632, 2048}})
    b->Args({n_in, n_out});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK_CAPTURE(bm_gemv_one_thread, NF4, HEARTH_DTYPE_NF4)->Apply(gemv_shapes);

// The AVX-512 one-token NF4 GEMV (block pairs on reordered activations; the reorder counted).
void bm_nf4_pairs_one_thread(benchmark::State& state) {
  if (!cpu_has_avx512_vnni()) {
    state.SkipWithError("no AVX-512 on this CPU");
    return;
  }
  const int64_t n_in = state.range(0), n_out = state.range(1);
  std::mt19937_64 rng(42);
  const auto w = random_weights(rng, HEARTH_DTYPE_NF4, n_in, n_out);
  const int64_t row_bytes = weight_row_bytes(HEARTH_DTYPE_NF4, n_in);
  std::vector<float> x(static_cast<size_t>(n_in)), xp(x.size()), y(static_cast<size_t>(n_out));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  for (auto _ : state) {
    nf4_pair_activations(x.data(), n_in, xp.data());
    for (int64_t r = 0; r < n_out; ++r)
      y[static_cast<size_t>(r)] =
          dot_nf4_pairs_avx512(n_in, w.data() + r * row_bytes, xp.data(), x.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GBps"] = benchmark::Counter(
      static_cast<double>(w.size()) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}
BENCHMARK(bm_nf4_pairs_one_thread)->Apply(gemv_shapes);
BENCHMARK_CAPTURE(bm_gemv_one_thread, Q4_0, HEARTH_DTYPE_Q4_0)->Apply(gemv_shapes);

// One thread, the decode GEMV of the interleaved-8-rows layout (interleaved_rows.hpp) against
// bm_gemv_one_thread's per-row dot, same shapes plus one larger than the L3 cache (8192 x 8192
// Q4_0 is 36 MiB): activation quantization counted once per GEMV as MATMUL does it.
void bm_interleaved_one_thread(benchmark::State& state, hearth_dtype dtype, bool huge_pages) {
  const int64_t n_in = state.range(0), n_out = state.range(1);
  const InterleavedGemvFn gemv = interleaved_gemv(dtype);
  if (gemv == nullptr || n_out % kInterleavedRows != 0) {
    state.SkipWithError("no interleaved kernel for this type on this CPU");
    return;
  }
  std::mt19937_64 rng(42);
  const auto w = random_weights(rng, dtype, n_in, n_out);
  const int64_t row_bytes = weight_row_bytes(dtype, n_in);
  const int64_t group_bytes = interleaved_group_bytes(dtype, n_in);
  // The engine's copies live in a HugePageBuffer; huge_pages = false measures plain malloc pages.
  const auto total = static_cast<size_t>(n_out / kInterleavedRows * group_bytes);
  std::vector<char> small_pages(huge_pages ? 0 : total);
  HugePageBuffer huge(huge_pages ? total : 1);
  char* groups = huge_pages ? huge.get() : small_pages.data();
  for (int64_t g = 0; g < n_out / kInterleavedRows; ++g)
    interleave_rows(dtype, reinterpret_cast<const char*>(w.data()) + g * 8 * row_bytes, row_bytes,
                    n_in, groups + g * group_bytes);
  std::vector<float> x(static_cast<size_t>(n_in)), y(static_cast<size_t>(n_out));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  const QuantTypeKernels* q = quant_type_kernels(dtype);
  std::vector<uint64_t> act(static_cast<size_t>(activation_row_bytes(dtype, n_in) / 8 + 1));
  std::vector<ActivationBlockInfo> info(static_cast<size_t>(n_in / 32));
  for (auto _ : state) {
    q->quantize_activations(x.data(), act.data(), n_in);
    describe_activations(dtype, act.data(), info.data(), n_in);
    for (int64_t g = 0; g < n_out / kInterleavedRows; ++g)
      gemv(n_in, groups + g * group_bytes, act.data(), info.data(), y.data() + 8 * g);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GBps"] = benchmark::Counter(
      static_cast<double>(w.size()) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

// The per-row dot at the same shapes (bm_gemv_one_thread's loop, Q8_0 too, and > L3).
void bm_rowdot_one_thread(benchmark::State& state, hearth_dtype dtype) {
  const int64_t n_in = state.range(0), n_out = state.range(1);
  std::mt19937_64 rng(42);
  const auto w = random_weights(rng, dtype, n_in, n_out);
  const int64_t row_bytes = weight_row_bytes(dtype, n_in);
  std::vector<float> x(static_cast<size_t>(n_in)), y(static_cast<size_t>(n_out));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  const QuantTypeKernels* q = quant_type_kernels(dtype);
  std::vector<uint64_t> act(static_cast<size_t>(activation_row_bytes(dtype, n_in) / 8 + 1));
  for (auto _ : state) {
    q->quantize_activations(x.data(), act.data(), n_in);
    for (int64_t r = 0; r < n_out; ++r)
      y[static_cast<size_t>(r)] = q->dot(n_in, w.data() + r * row_bytes, act.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GBps"] = benchmark::Counter(
      static_cast<double>(w.size()) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

void decode_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n_in", "n_out"});
  for (auto [n_in, n_out] :
       {std::pair<int64_t, int64_t>{2048, 2048}, {2048, 5632}, {5632, 2048}, {8192, 8192}})
    b->Args({n_in, n_out});
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q4_0, HEARTH_DTYPE_Q4_0)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q4_0, HEARTH_DTYPE_Q4_0, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q4_0_small_pages, HEARTH_DTYPE_Q4_0, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q4_1, HEARTH_DTYPE_Q4_1)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q4_1, HEARTH_DTYPE_Q4_1, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q4_1_small_pages, HEARTH_DTYPE_Q4_1, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q5_0, HEARTH_DTYPE_Q5_0)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q5_0, HEARTH_DTYPE_Q5_0, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q5_0_small_pages, HEARTH_DTYPE_Q5_0, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q5_1, HEARTH_DTYPE_Q5_1)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q5_1, HEARTH_DTYPE_Q5_1, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q5_1_small_pages, HEARTH_DTYPE_Q5_1, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q8_0, HEARTH_DTYPE_Q8_0)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q8_0, HEARTH_DTYPE_Q8_0, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q8_0_small_pages, HEARTH_DTYPE_Q8_0, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q2_K, HEARTH_DTYPE_Q2_K)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q2_K, HEARTH_DTYPE_Q2_K, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q2_K_small_pages, HEARTH_DTYPE_Q2_K, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q3_K, HEARTH_DTYPE_Q3_K)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q3_K, HEARTH_DTYPE_Q3_K, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q3_K_small_pages, HEARTH_DTYPE_Q3_K, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q4_K, HEARTH_DTYPE_Q4_K)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q4_K, HEARTH_DTYPE_Q4_K, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q4_K_small_pages, HEARTH_DTYPE_Q4_K, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q5_K, HEARTH_DTYPE_Q5_K)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q5_K, HEARTH_DTYPE_Q5_K, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q5_K_small_pages, HEARTH_DTYPE_Q5_K, false)
    ->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_rowdot_one_thread, Q6_K, HEARTH_DTYPE_Q6_K)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q6_K, HEARTH_DTYPE_Q6_K, true)->Apply(decode_shapes);
BENCHMARK_CAPTURE(bm_interleaved_one_thread, Q6_K_small_pages, HEARTH_DTYPE_Q6_K, false)
    ->Apply(decode_shapes);

// One thread, activations already quantized and described: n_tok tokens through the
// interleaved groups one token at a time (the GEMV, what MATMUL ran for a prompt before the
// GEMM) against kGemmTokens at a time (the GEMM), walking the tokens in chunks of 32 over all
// groups as MATMUL does. Same machine load for both, so their ratio is the GEMM's gain.
void bm_interleaved_prefill_one_thread(benchmark::State& state, hearth_dtype dtype, bool gemm) {
  const int64_t n_in = state.range(0), n_out = state.range(1), n_tok = state.range(2);
  const InterleavedGemvFn gemv_fn = interleaved_gemv(dtype);
  const InterleavedGemmFn gemm_fn = interleaved_gemm(dtype);
  if (gemv_fn == nullptr || gemm_fn == nullptr || n_out % kInterleavedRows != 0 ||
      n_tok % kGemmTokens != 0) {
    state.SkipWithError("no interleaved kernels for this type on this CPU");
    return;
  }
  std::mt19937_64 rng(42);
  const auto w = random_weights(rng, dtype, n_in, n_out);
  const int64_t row_bytes = weight_row_bytes(dtype, n_in);
  const int64_t group_bytes = interleaved_group_bytes(dtype, n_in);
  const int64_t n_groups = n_out / kInterleavedRows;
  std::vector<char> groups(static_cast<size_t>(n_groups * group_bytes));
  for (int64_t g = 0; g < n_groups; ++g)
    interleave_rows(dtype, reinterpret_cast<const char*>(w.data()) + g * 8 * row_bytes, row_bytes,
                    n_in, groups.data() + g * group_bytes);
  const QuantTypeKernels* q = quant_type_kernels(dtype);
  const int64_t act_bytes = activation_row_bytes(dtype, n_in);
  const int64_t n_blocks = n_in / 32;
  std::vector<char> act(static_cast<size_t>(act_bytes * n_tok));
  std::vector<ActivationBlockInfo> info(static_cast<size_t>(n_blocks * n_tok));
  std::vector<float> x(static_cast<size_t>(n_in));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t t = 0; t < n_tok; ++t) {
    for (auto& v : x) v = normal(rng);
    q->quantize_activations(x.data(), act.data() + t * act_bytes, n_in);
    describe_activations(dtype, act.data() + t * act_bytes, info.data() + t * n_blocks, n_in);
  }
  std::vector<float> y(static_cast<size_t>(n_out * n_tok));
  constexpr int64_t kChunk = 32;
  for (auto _ : state) {
    for (int64_t t0 = 0; t0 < n_tok; t0 += kChunk) {
      const int64_t t1 = std::min(n_tok, t0 + kChunk);
      for (int64_t g = 0; g < n_groups; ++g) {
        const char* group = groups.data() + g * group_bytes;
        float res[kGemmTokens][kInterleavedRows];
        for (int64_t t = t0; t < t1; t += gemm ? kGemmTokens : 1) {
          if (gemm)
            gemm_fn(n_in, group, act.data() + t * act_bytes, act_bytes, info.data() + t * n_blocks,
                    n_blocks, kGemmTokens, res);
          else
            gemv_fn(n_in, group, act.data() + t * act_bytes, info.data() + t * n_blocks, res[0]);
          for (int64_t k = 0; k < (gemm ? kGemmTokens : 1); ++k)
            std::memcpy(y.data() + (t + k) * n_out + 8 * g, res[k], sizeof res[k]);
        }
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * static_cast<double>(n_in * n_out * n_tok) *
                                                    static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}

void interleaved_prefill_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n_in", "n_out", "n_tok"});
  for (auto [n_in, n_out] : {std::pair<int64_t, int64_t>{2048, 2048}, {5632, 2048}})
    b->Args({n_in, n_out, 128});
  b->Unit(benchmark::kMicrosecond);
}

#define HEARTH_BENCH_INTERLEAVED_PREFILL(NAME)                                                  \
  BENCHMARK_CAPTURE(bm_interleaved_prefill_one_thread, NAME##_gemv, HEARTH_DTYPE_##NAME, false) \
      ->Apply(interleaved_prefill_shapes);                                                      \
  BENCHMARK_CAPTURE(bm_interleaved_prefill_one_thread, NAME##_gemm, HEARTH_DTYPE_##NAME, true)  \
      ->Apply(interleaved_prefill_shapes)

HEARTH_BENCH_INTERLEAVED_PREFILL(Q4_0);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q4_1);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q5_0);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q5_1);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q8_0);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q2_K);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q3_K);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q4_K);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q5_K);
HEARTH_BENCH_INTERLEAVED_PREFILL(Q6_K);

// One thread, activations already quantized: the per-(row, token) dot kernel (what MATMUL ran
// before the tiles) against the type's register-blocked tile, over all n_out rows and n_tok
// tokens (the tile walks 16 rows x 8 tokens at a time, as MATMUL does). Same machine load for
// both, so their ratio is the tiles' gain.
void bm_quant_one_thread(benchmark::State& state, hearth_dtype dtype, bool tiles) {
  const int64_t n_in = state.range(0), n_out = state.range(1), n_tok = state.range(2);
  const QuantTypeKernels* q = quant_type_kernels(dtype);
  if (tiles && q->tile == nullptr) {
    state.SkipWithError("no tile kernel for this type on this CPU");
    return;
  }
  std::mt19937_64 rng(42);
  const auto w = random_weights(rng, dtype, n_in, n_out);
  const int64_t row_bytes = weight_row_bytes(dtype, n_in);
  const int64_t act_bytes = activation_row_bytes(dtype, n_in);
  std::vector<float> x(static_cast<size_t>(n_in));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<char> act(static_cast<size_t>(act_bytes * n_tok));
  for (int64_t t = 0; t < n_tok; ++t) {
    for (auto& v : x) v = normal(rng);
    q->quantize_activations(x.data(), act.data() + t * act_bytes, n_in);
  }
  std::vector<float> y(static_cast<size_t>(n_out * n_tok));
  std::vector<const char*> act_rows;
  std::vector<float*> out_rows;
  for (int64_t t = 0; t < n_tok; ++t) {
    act_rows.push_back(act.data() + t * act_bytes);
    out_rows.push_back(y.data() + t * n_out);
  }
  constexpr int64_t kRows = 16, kTokens = 8;
  const auto* weights = reinterpret_cast<const char*>(w.data());
  for (auto _ : state) {
    for (int64_t r0 = 0; r0 < n_out; r0 += kRows) {
      const int64_t r1 = std::min(n_out, r0 + kRows);
      for (int64_t t0 = 0; t0 < n_tok; t0 += kTokens) {
        const int64_t t1 = std::min(n_tok, t0 + kTokens);
        if (tiles) {
          float* out[kTokens];
          for (int64_t t = t0; t < t1; ++t) out[t - t0] = out_rows[static_cast<size_t>(t)] + r0;
          q->tile(n_in, {weights + r0 * row_bytes, row_bytes, r1 - r0, act_rows.data() + t0, out,
                         t1 - t0});
        } else {
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t t = t0; t < t1; ++t)
              out_rows[static_cast<size_t>(t)][r] =
                  q->dot(n_in, weights + r * row_bytes, act_rows[static_cast<size_t>(t)]);
        }
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["weight_GBps"] = benchmark::Counter(
      static_cast<double>(w.size()) * iterations / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * static_cast<double>(n_in * n_out * n_tok) * iterations / 1e9,
                         benchmark::Counter::kIsRate);
}

void one_thread_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n_in", "n_out", "n_tok"});
  for (int64_t n_tok : {1, 32, 128}) b->Args({2048, 5632, n_tok});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

#define HEARTH_BENCH_ONE_THREAD(NAME)                                            \
  BENCHMARK_CAPTURE(bm_quant_one_thread, NAME##_dot, HEARTH_DTYPE_##NAME, false) \
      ->Apply(one_thread_shapes);                                                \
  BENCHMARK_CAPTURE(bm_quant_one_thread, NAME##_tile, HEARTH_DTYPE_##NAME, true) \
      ->Apply(one_thread_shapes)

HEARTH_BENCH_ONE_THREAD(Q4_0);
HEARTH_BENCH_ONE_THREAD(Q8_0);
HEARTH_BENCH_ONE_THREAD(Q4_K);
HEARTH_BENCH_ONE_THREAD(Q6_K);

// The machine's own bound for decode: how fast 1 and 2 threads can read memory that is not in any
// cache (each thread sums its half of a 1 GiB buffer with 16-byte loads; read_GBps counts all
// threads' bytes). A GEMV that streams its weights once cannot beat this figure.
void bm_memory_read(benchmark::State& state) {
  constexpr size_t kWords = (size_t{1} << 30) / sizeof(uint64_t);
  static const std::vector<uint64_t> buffer(kWords, 1);  // every page touched before timing
  const size_t per_thread = kWords / static_cast<size_t>(state.threads()) / 8 * 8;
  const uint64_t* begin = buffer.data() + per_thread * static_cast<size_t>(state.thread_index());
  for (auto _ : state) {
    __m128i acc[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(),
                      _mm_setzero_si128()};
    for (size_t i = 0; i < per_thread; i += 8)
      for (int k = 0; k < 4; ++k)
        acc[k] = _mm_add_epi64(
            acc[k], _mm_loadu_si128(reinterpret_cast<const __m128i*>(begin + i + 2 * k)));
    benchmark::DoNotOptimize(acc);
  }
  // Summed over the threads, divided by the wall time: the bandwidth all threads reach together.
  state.counters["read_GBps"] =
      benchmark::Counter(static_cast<double>(per_thread * sizeof(uint64_t)) *
                             static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(bm_memory_read)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The machine's own bound for the prompt GEMMs: how many 256-bit integer vector instructions one
// thread retires per second when nothing else limits it (no loads; 12 independent registers, so
// latency does not count). `add`: vpaddw, which any vector ALU pipe runs; `maddubs`: vpmaddubsw,
// the multiply pipes only; `maddubs_sign` and `maddubs_add` alternate it (ymm0-5) with vpsignb
// (the Q8_0 kernels' sign step) or vpaddw (ymm6-11), which shows whether the two share pipes;
// `q8_0_step` is the Q8_0 GEMM's work per 32 multiply-adds with its loads taken out (vpsignb,
// vpmaddubsw, vpmaddwd, vpaddd; six independent of each other), `q4_0_step` the Q4_0 GEMM's
// per token and 32-element block (8 x vpmaddubsw + vpaddw, then vpmaddwd, vpsubd, vcvtdq2ps,
// vmulps, vfmadd231ps, and a share of the nibble unpacking; three blocks independent). Both
// count the multiply-adds they stand for (G_macs_per_s): a ceiling for the kernel on one core.
// With a kernel's count of each instruction per multiply-add this bounds its speed
// (docs/benchmarks.md, issue #5). One thread: two processes running it at once each reach the
// same rate on this machine (two physical cores).
enum class VectorMix { kAdd, kMaddubs, kMaddubsSign, kMaddubsAdd, kQ8_0Step, kQ4_0Step };

// Instructions of one round of a mix, and the int8 multiply-adds they stand for (0: not a step).
int64_t insns_per_round(VectorMix mix) { return mix == VectorMix::kQ4_0Step ? 67 : 96; }
int64_t macs_per_round(VectorMix mix) {
  if (mix == VectorMix::kQ8_0Step) return 24 * 32;
  if (mix == VectorMix::kQ4_0Step) return 3 * 256;
  return 0;
}

constexpr float kOne = 1.0f;

// One round of a mix: 96 instructions (Q4_0's step: 67), written with the assembler's .rept and
// .irp (r runs over the registers named).
void vector_mix_round(VectorMix mix) {
  switch (mix) {
    case VectorMix::kAdd:
      asm volatile(
          ".rept 8\n\t"
          ".irp r,0,1,2,3,4,5\n\t"
          "vpaddw %%ymm15, %%ymm\\r, %%ymm\\r\n\t"
          ".endr\n\t"
          ".irp r,6,7,8,9,10,11\n\t"
          "vpaddw %%ymm15, %%ymm\\r, %%ymm\\r\n\t"
          ".endr\n\t"
          ".endr\n\t"
          :
          :
          : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11");
      return;
    case VectorMix::kMaddubs:
      asm volatile(
          ".rept 8\n\t"
          ".irp r,0,1,2,3,4,5\n\t"
          "vpmaddubsw %%ymm15, %%ymm14, %%ymm\\r\n\t"
          ".endr\n\t"
          ".irp r,6,7,8,9,10,11\n\t"
          "vpmaddubsw %%ymm15, %%ymm14, %%ymm\\r\n\t"
          ".endr\n\t"
          ".endr\n\t"
          :
          :
          : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11");
      return;
    case VectorMix::kMaddubsSign:
      asm volatile(
          ".rept 8\n\t"
          ".irp r,0,1,2,3,4,5\n\t"
          "vpmaddubsw %%ymm15, %%ymm14, %%ymm\\r\n\t"
          ".endr\n\t"
          ".irp r,6,7,8,9,10,11\n\t"
          "vpsignb %%ymm15, %%ymm14, %%ymm\\r\n\t"
          ".endr\n\t"
          ".endr\n\t"
          :
          :
          : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11");
      return;
    case VectorMix::kMaddubsAdd:
      asm volatile(
          ".rept 8\n\t"
          ".irp r,0,1,2,3,4,5\n\t"
          "vpmaddubsw %%ymm15, %%ymm14, %%ymm\\r\n\t"
          ".endr\n\t"
          ".irp r,6,7,8,9,10,11\n\t"
          "vpaddw %%ymm15, %%ymm\\r, %%ymm\\r\n\t"
          ".endr\n\t"
          ".endr\n\t"
          :
          :
          : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11");
      return;
    case VectorMix::kQ8_0Step:
      asm volatile(
          ".rept 4\n\t"
          "vpsignb %%ymm15, %%ymm14, %%ymm0\n\t"
          "vpmaddubsw %%ymm0, %%ymm13, %%ymm0\n\t"
          "vpmaddwd %%ymm12, %%ymm0, %%ymm0\n\t"
          "vpaddd %%ymm0, %%ymm6, %%ymm6\n\t"
          "vpsignb %%ymm15, %%ymm14, %%ymm1\n\t"
          "vpmaddubsw %%ymm1, %%ymm13, %%ymm1\n\t"
          "vpmaddwd %%ymm12, %%ymm1, %%ymm1\n\t"
          "vpaddd %%ymm1, %%ymm7, %%ymm7\n\t"
          "vpsignb %%ymm15, %%ymm14, %%ymm2\n\t"
          "vpmaddubsw %%ymm2, %%ymm13, %%ymm2\n\t"
          "vpmaddwd %%ymm12, %%ymm2, %%ymm2\n\t"
          "vpaddd %%ymm2, %%ymm8, %%ymm8\n\t"
          "vpsignb %%ymm15, %%ymm14, %%ymm3\n\t"
          "vpmaddubsw %%ymm3, %%ymm13, %%ymm3\n\t"
          "vpmaddwd %%ymm12, %%ymm3, %%ymm3\n\t"
          "vpaddd %%ymm3, %%ymm9, %%ymm9\n\t"
          "vpsignb %%ymm15, %%ymm14, %%ymm4\n\t"
          "vpmaddubsw %%ymm4, %%ymm13, %%ymm4\n\t"
          "vpmaddwd %%ymm12, %%ymm4, %%ymm4\n\t"
          "vpaddd %%ymm4, %%ymm10, %%ymm10\n\t"
          "vpsignb %%ymm15, %%ymm14, %%ymm5\n\t"
          "vpmaddubsw %%ymm5, %%ymm13, %%ymm5\n\t"
          "vpmaddwd %%ymm12, %%ymm5, %%ymm5\n\t"
          "vpaddd %%ymm5, %%ymm11, %%ymm11\n\t"
          ".endr\n\t"
          :
          :
          : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11");
      return;
    case VectorMix::kQ4_0Step:
      // Its float operands set to 1.0 and the accumulators to zero first (zeroing idioms and a
      // load, not counted), so no float operation meets a denormal and takes a slow path.
      asm volatile(
          "vbroadcastss %0, %%ymm12\n\t"
          "vbroadcastss %0, %%ymm13\n\t"
          "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
          "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
          "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
          ".rept 8\n\t"
          "vpmaddubsw %%ymm14, %%ymm15, %%ymm3\n\t"
          "vpaddw %%ymm3, %%ymm0, %%ymm0\n\t"
          ".endr\n\t"
          "vpmaddwd %%ymm13, %%ymm0, %%ymm3\n\t"
          "vpsubd %%ymm12, %%ymm3, %%ymm3\n\t"
          "vcvtdq2ps %%ymm3, %%ymm3\n\t"
          "vmulps %%ymm12, %%ymm13, %%ymm9\n\t"
          "vfmadd231ps %%ymm9, %%ymm3, %%ymm6\n\t"
          ".rept 8\n\t"
          "vpmaddubsw %%ymm14, %%ymm15, %%ymm4\n\t"
          "vpaddw %%ymm4, %%ymm1, %%ymm1\n\t"
          ".endr\n\t"
          "vpmaddwd %%ymm13, %%ymm1, %%ymm4\n\t"
          "vpsubd %%ymm12, %%ymm4, %%ymm4\n\t"
          "vcvtdq2ps %%ymm4, %%ymm4\n\t"
          "vmulps %%ymm12, %%ymm13, %%ymm10\n\t"
          "vfmadd231ps %%ymm10, %%ymm4, %%ymm7\n\t"
          ".rept 8\n\t"
          "vpmaddubsw %%ymm14, %%ymm15, %%ymm5\n\t"
          "vpaddw %%ymm5, %%ymm2, %%ymm2\n\t"
          ".endr\n\t"
          "vpmaddwd %%ymm13, %%ymm2, %%ymm5\n\t"
          "vpsubd %%ymm12, %%ymm5, %%ymm5\n\t"
          "vcvtdq2ps %%ymm5, %%ymm5\n\t"
          "vmulps %%ymm12, %%ymm13, %%ymm11\n\t"
          "vfmadd231ps %%ymm11, %%ymm5, %%ymm8\n\t"
          "vpand %%ymm13, %%ymm15, %%ymm9\n\t"
          "vpsrlw $4, %%ymm15, %%ymm10\n\t"
          "vpand %%ymm13, %%ymm10, %%ymm10\n\t"
          "vpand %%ymm13, %%ymm15, %%ymm11\n\t"
          :
          : "m"(kOne)
          : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11", "xmm12", "xmm13");
      return;
  }
}

void bm_vector_ops(benchmark::State& state, VectorMix mix) {
  if (!cpu_has_avx2()) return state.SkipWithError("no AVX2");
  constexpr int64_t kRounds = 1 << 16;
  for (auto _ : state)
    for (int64_t r = 0; r < kRounds; ++r) vector_mix_round(mix);
  const auto rounds = static_cast<double>(kRounds) * static_cast<double>(state.iterations());
  state.counters["G_insns_per_s"] = benchmark::Counter(
      static_cast<double>(insns_per_round(mix)) * rounds / 1e9, benchmark::Counter::kIsRate);
  if (macs_per_round(mix) > 0)
    state.counters["G_macs_per_s"] = benchmark::Counter(
        static_cast<double>(macs_per_round(mix)) * rounds / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(bm_vector_ops, add, VectorMix::kAdd)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_vector_ops, maddubs, VectorMix::kMaddubs)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_vector_ops, maddubs_sign, VectorMix::kMaddubsSign)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_vector_ops, maddubs_add, VectorMix::kMaddubsAdd)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_vector_ops, q8_0_step, VectorMix::kQ8_0Step)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_vector_ops, q4_0_step, VectorMix::kQ4_0Step)->Unit(benchmark::kMillisecond);

// Decode attention over an F16 cache, one thread, TinyLlama's layout (head_dim 64, 4 KV heads of
// 8 query heads each, a slot holding all 4 heads' rows): one call = one query's 8 heads of one KV
// head over n_kv keys. The cache spans 22 layers (46 MB at 2048 keys), walked layer after layer
// as a decode step does, so keys come from memory. Counters: ns per (head, key) and the cache
// bytes read per second.
void bm_attention_f16_one_thread(benchmark::State& state) {
  if (!cpu_has_avx2()) return state.SkipWithError("no AVX2");
  constexpr int64_t kDim = 64, kKvHeads = 4, kHeads = 8, kLayers = 22;
  const int64_t n_kv = state.range(0);
  const int64_t slot_bytes = kKvHeads * kDim * 2;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> dist(0x3000, 0x3BFF);  // F16 values in [0.125, 1)
  std::vector<uint16_t> cache(static_cast<size_t>(kLayers * 2 * n_kv * slot_bytes / 2));
  for (auto& h : cache) h = static_cast<uint16_t>(dist(rng));
  std::vector<float> q(kHeads * kDim), out(kHeads * kDim);
  for (auto& x : q) x = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f;
  std::vector<int32_t> visible(static_cast<size_t>(n_kv));
  for (int64_t j = 0; j < n_kv; ++j) visible[j] = static_cast<int32_t>(j);
  F16AttentionScratch scratch;
  int64_t layer = 0, kv_head = 0;
  for (auto _ : state) {
    const char* base = reinterpret_cast<const char*>(cache.data()) + layer * 2 * n_kv * slot_bytes;
    F16HeadGroup g;
    g.head_dim = kDim;
    g.n_heads = kHeads;
    for (int h = 0; h < kHeads; ++h) g.q[h] = q.data() + h * kDim, g.out[h] = out.data() + h * kDim;
    g.k = base + kv_head * kDim * 2;
    g.k_stride = slot_bytes;
    g.v = base + n_kv * slot_bytes + kv_head * kDim * 2;
    g.v_stride = slot_bytes;
    g.visible = visible.data();
    g.n_visible = n_kv;
    g.scale = 0.125f;
    attend_f16_heads_avx2(g, scratch);
    benchmark::DoNotOptimize(out.data());
    if (++kv_head == kKvHeads) kv_head = 0, layer = (layer + 1) % kLayers;
  }
  const auto calls = static_cast<double>(state.iterations());
  state.counters["ns_per_head_key"] =
      benchmark::Counter(calls * kHeads * static_cast<double>(n_kv) / 1e9,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["kv_GBps"] = benchmark::Counter(
      calls * 2.0 * static_cast<double>(n_kv) * kDim * 2 / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(bm_attention_f16_one_thread)->Arg(128)->Arg(2048)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hearth::backend_cpu

BENCHMARK_MAIN();
