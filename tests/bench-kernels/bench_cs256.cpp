// Google Benchmark: single-thread GEMV (one token) of a 4096 x 4096 matrix stored as CS256 (F16
// values, vec 8) at 50/66/75 % sparsity against the dense F16 row kernel, with F32 activations
// (the prefill kernel; the best the CPU has) and with activations rounded to F16 (the decode
// kernel of AVX-512 CPUs; the scalar loop elsewhere). Timings are read by hand (docs/formats.md
// (CS256)), never asserted.
#include <benchmark/benchmark.h>

#include <hearth/sdk/half.hpp>

#include <random>
#include <vector>

#include "cs256_codec.hpp"
#include "cs256_kernels.hpp"
#include "weight_rows.hpp"

namespace {

constexpr int64_t kN = 4096;

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = dist(rng);
  return v;
}

// The benchmark's random matrix pruned to percent % sparsity and encoded.
std::vector<std::byte> encoded(int64_t percent) {
  const auto w = random_values(kN * kN, 1);
  hearth::format_cs256::EncodeOptions options;
  options.sparsity = static_cast<double>(percent) / 100.0;
  return hearth::format_cs256::encode(w.data(), kN, kN, nullptr, options);
}

void bm_dense_f16(benchmark::State& state) {
  const auto w = random_values(kN * kN, 1);
  std::vector<uint16_t> h(w.size());
  for (size_t k = 0; k < w.size(); ++k) h[k] = hearth::sdk::fp32_to_fp16(w[k]);
  const auto x = random_values(kN, 2);
  std::vector<float> y(kN);
  for (auto _ : state) {
    for (int64_t r = 0; r < kN; ++r)
      y[r] = hearth::backend_cpu::dot_weight_row(HEARTH_DTYPE_F16, h.data() + r * kN, x.data(), kN);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["bytes/weight"] = 2.0;
  state.SetBytesProcessed(state.iterations() * kN * kN * 2);
}

void bm_cs256(benchmark::State& state) {
  const auto blob = encoded(state.range(0));
  hearth::backend_cpu::Cs256Matrix m;
  if (!hearth::backend_cpu::cs256_matrix(blob.data(), m)) state.SkipWithError("bad blob");
  const auto x = random_values(kN, 2);
  const float* xs[1] = {x.data()};
  std::vector<float> y(kN);
  for (auto _ : state) {
    for (int64_t r = 0; r < kN; ++r) hearth::backend_cpu::cs256_row_dot(m, r, xs, 1, &y[r]);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["bytes/weight"] = static_cast<double>(blob.size()) / double(kN * kN);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(blob.size()));
}

// The decode path on AVX-512 CPUs: x rounded to F16 once per product (counted), then the
// 16-bit permute kernel.
void bm_cs256_halves(benchmark::State& state) {
  const auto blob = encoded(state.range(0));
  hearth::backend_cpu::Cs256Matrix m;
  if (!hearth::backend_cpu::cs256_matrix(blob.data(), m)) state.SkipWithError("bad blob");
  const auto x = random_values(kN, 2);
  std::vector<uint16_t> xh(kN);
  std::vector<float> y(kN);
  for (auto _ : state) {
    const float unscale = *hearth::backend_cpu::cs256_halve_activations(x.data(), kN, xh.data());
    const uint16_t* xhs[1] = {xh.data()};
    for (int64_t r = 0; r < kN; ++r)
      hearth::backend_cpu::cs256_row_dot_halves(m, r, xhs, &unscale, 1, &y[r]);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["bytes/weight"] = static_cast<double>(blob.size()) / double(kN * kN);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(blob.size()));
}

}  // namespace

BENCHMARK(bm_dense_f16)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cs256)->Arg(50)->Arg(66)->Arg(75)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cs256_halves)->Arg(50)->Arg(66)->Arg(75)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
