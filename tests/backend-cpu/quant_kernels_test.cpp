// The cpu backend's weight-row kernels, called directly:
// - activation quantizers and block dequantizers are bit-identical to format-gguf's ggml
//   reference code (itself checked bit-exact against ggml's outputs);
// - each scalar quantized dot equals "dequantized weight row . dequantized quantized activation"
//   computed in double, within float rounding (relative 1e-5 of the sum of |terms|);
// - each AVX2 kernel equals the scalar one within the same bound (skipped without AVX2);
// - each AVX2 tile (several rows x several tokens) equals the scalar dot of every (row, token)
//   within that bound, and gives bit-identical values however the rows and tokens are tiled.
#include <gtest/gtest.h>

#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../plugins/format-gguf/dequantize.hpp"
#include "../../plugins/format-gguf/quantize.hpp"
#include "../conformance/random_inputs.hpp"
#include "dequantize_blocks.hpp"
#include "float_dot.hpp"
#include "interleaved_rows.hpp"
#include "quant_blocks.hpp"
#include "quant_kernels.hpp"
#include "quant_tiles.hpp"
#include "quantize_activations_variants.hpp"
#include "random_blocks.hpp"
#include "weight_rows.hpp"

namespace hearth::backend_cpu {
namespace {

namespace gguf = hearth::format_gguf;

struct TypeCase {
  const char* name;
  hearth_dtype dtype;
  int block_elems;
  int block_bytes;
  void (*dequantize)(const std::byte*, float*, int64_t);
};

const TypeCase kTypes[] = {
    {"Q4_0", HEARTH_DTYPE_Q4_0, 32, 18, gguf::dequantize_q4_0},
    {"Q4_1", HEARTH_DTYPE_Q4_1, 32, 20, gguf::dequantize_q4_1},
    {"Q5_0", HEARTH_DTYPE_Q5_0, 32, 22, gguf::dequantize_q5_0},
    {"Q5_1", HEARTH_DTYPE_Q5_1, 32, 24, gguf::dequantize_q5_1},
    {"Q8_0", HEARTH_DTYPE_Q8_0, 32, 34, gguf::dequantize_q8_0},
    {"Q2_K", HEARTH_DTYPE_Q2_K, 256, 84, gguf::dequantize_q2_k},
    {"Q3_K", HEARTH_DTYPE_Q3_K, 256, 110, gguf::dequantize_q3_k},
    {"Q4_K", HEARTH_DTYPE_Q4_K, 256, 144, gguf::dequantize_q4_k},
    {"Q5_K", HEARTH_DTYPE_Q5_K, 256, 176, gguf::dequantize_q5_k},
    {"Q6_K", HEARTH_DTYPE_Q6_K, 256, 210, gguf::dequantize_q6_k},
};

class QuantKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    rng_ = conformance::generator_for(std::string(info->test_suite_name()) + "." + info->name());
  }
  std::mt19937_64 rng_;
};

std::vector<std::byte> random_row(std::mt19937_64& rng, const TypeCase& t, int64_t n) {
  return test::random_blocks(rng, t.dtype, n);
}

// Activations: normal values, or (extreme) ±1 so that every quant is ±127, the most a SIMD
// kernel's 16-bit pair sums must hold.
std::vector<float> random_activations(std::mt19937_64& rng, int64_t n, bool extreme) {
  std::vector<float> x = conformance::normal_floats(rng, n, 1.0f);
  if (extreme)
    for (auto& v : x) v = v < 0 ? -1.0f : 1.0f;
  return x;
}

std::vector<float> dequantized_activations(hearth_dtype act, const std::byte* blocks, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  if (act == HEARTH_DTYPE_Q8_0) gguf::dequantize_q8_0(blocks, out.data(), n);
  if (act == HEARTH_DTYPE_Q8_1) gguf::dequantize_q8_1(blocks, out.data(), n);
  if (act == HEARTH_DTYPE_Q8_K) gguf::dequantize_q8_k(blocks, out.data(), n);
  return out;
}

struct Reference {
  double value = 0.0;
  double bound = 0.0;  // what float rounding (and Q8_1's fp16 s) may change
};

// dequantize(W) . dequantize(q8(x)) in double. For Q8_1 activations ggml takes a block's min
// contribution as m * s with s = fp16(d * sum(q)), not m * d * sum(q): the bound admits that.
Reference reference_dot(const TypeCase& t, const std::vector<std::byte>& w,
                        const std::vector<std::byte>& act, hearth_dtype act_dtype, int64_t n) {
  std::vector<float> wf(static_cast<size_t>(n));
  t.dequantize(w.data(), wf.data(), n);
  const auto af = dequantized_activations(act_dtype, act.data(), n);
  Reference r;
  double magnitude = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    r.value += static_cast<double>(wf[i]) * af[i];
    magnitude += std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
  r.bound = 1e-5 * magnitude + 1e-30;
  if (act_dtype == HEARTH_DTYPE_Q8_1) {
    for (int64_t b = 0; b < n / 32; ++b) {
      BlockQ8_1 a;
      std::memcpy(&a, act.data() + b * sizeof a, sizeof a);
      uint16_t m_bits;  // Q4_1 and Q5_1 both keep m right after d
      std::memcpy(&m_bits, w.data() + b * t.block_bytes + 2, sizeof m_bits);
      double exact_s = 0.0;
      for (int j = 0; j < 32; ++j) exact_s += a.qs[j];
      exact_s *= sdk::fp16_to_fp32(a.d);
      r.bound += std::fabs(sdk::fp16_to_fp32(m_bits)) *
                 (std::fabs(exact_s - sdk::fp16_to_fp32(a.s)) + 1e-6 * std::fabs(exact_s));
    }
  }
  return r;
}

std::vector<std::byte> quantized(const QuantTypeKernels& k, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<std::byte> out(
      static_cast<size_t>(n / k.activation_block_elems * k.activation_block_bytes));
  k.quantize_activations(x.data(), out.data(), n);
  return out;
}

TEST_F(QuantKernels, ActivationQuantizersAreGgmlsReference) {
  for (int64_t n : {256, 1024}) {
    for (bool extreme : {false, true}) {
      auto x = random_activations(rng_, n, extreme);
      x[3] = 0.5f;  // ties, which roundf and nearest_int settle differently
      x[40] = -2.5f;
      std::vector<std::byte> ours(static_cast<size_t>(n / 32 * 36)), ref(ours.size());
      quantize_row_q8_0(x.data(), ours.data(), n);
      gguf::quantize_q8_0(x.data(), ref.data(), n, nullptr);
      EXPECT_EQ(0, std::memcmp(ours.data(), ref.data(), static_cast<size_t>(n / 32 * 34)))
          << "Q8_0";
      quantize_row_q8_1(x.data(), ours.data(), n);
      gguf::quantize_q8_1(x.data(), ref.data(), n, nullptr);
      EXPECT_EQ(0, std::memcmp(ours.data(), ref.data(), static_cast<size_t>(n / 32 * 36)))
          << "Q8_1";
      std::vector<std::byte> ours_k(static_cast<size_t>(n / 256 * 292)), ref_k(ours_k.size());
      quantize_row_q8_k(x.data(), ours_k.data(), n);
      gguf::quantize_q8_k(x.data(), ref_k.data(), n, nullptr);
      EXPECT_EQ(ours_k, ref_k) << "Q8_K";
    }
  }
  // An all-zero block has scale 0 and zero quants (no division by zero).
  std::vector<float> zeros(256, 0.0f);
  BlockQ8_K k;
  quantize_row_q8_k(zeros.data(), &k, 256);
  EXPECT_EQ(k.d, 0.0f);
  EXPECT_EQ(k.bsums[0], 0);
}

// The AVX2 quantizers (what quantize_row_* runs on this CPU) against the scalar ones on rows
// full of what SIMD rounding gets wrong: exact .5 ties of both signs, zeros, all-zero blocks,
// tiny and huge magnitudes, and the largest magnitude appearing with both signs.
TEST_F(QuantKernels, Avx2ActivationQuantizersMatchTheScalarOnes) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  using Fn = void (*)(const float*, void*, int64_t);
  struct Pair {
    const char* name;
    Fn scalar;
    Fn simd;
    size_t block_bytes;
    int64_t block_elems;
  };
  const Pair pairs[] = {
      {"Q8_0", quantize_row_q8_0_scalar, quantize_row_q8_0_avx2, sizeof(BlockQ8_0), kQK},
      {"Q8_1", quantize_row_q8_1_scalar, quantize_row_q8_1_avx2, sizeof(BlockQ8_1), kQK},
      {"Q8_K", quantize_row_q8_k_scalar, quantize_row_q8_k_avx2, sizeof(BlockQ8_K), kQK_K}};
  const int64_t n = 1024;
  std::uniform_int_distribution<int> pick(0, static_cast<int>(n) - 1);
  for (int round = 0; round < 60; ++round) {
    auto x = random_activations(rng_, n, round % 2 == 1);
    const float scale = round % 3 == 0 ? 1e-4f : round % 3 == 1 ? 1.0f : 3e4f;
    for (auto& v : x) v *= scale;
    for (int k = 0; k < 150; ++k)  // quants landing on k + 0.5 after the block scale
      x[static_cast<size_t>(pick(rng_))] = static_cast<float>(pick(rng_) % 21 - 10) * 0.5f;
    for (int k = 0; k < 100; ++k) x[static_cast<size_t>(pick(rng_))] = 0.0f;
    if (round % 4 == 0) std::fill(x.begin(), x.begin() + 256, 0.0f);
    if (round % 5 == 0) {  // +m and -m both present: the first one sets Q8_K's sign
      x[300] = -40.0f;
      x[301] = 40.0f;
      x[600] = 40.0f;
      x[601] = -40.0f;
    }
    for (const Pair& p : pairs) {
      SCOPED_TRACE(std::string(p.name) + ", round " + std::to_string(round));
      const auto bytes = static_cast<size_t>(n / p.block_elems) * p.block_bytes;
      std::vector<unsigned char> scalar(bytes, 0xAA), simd(bytes, 0x55);
      p.scalar(x.data(), scalar.data(), n);
      p.simd(x.data(), simd.data(), n);
      ASSERT_EQ(scalar, simd);
    }
  }
}

TEST_F(QuantKernels, DequantizedRowsAreBitIdenticalToGgml) {
  for (const TypeCase& t : kTypes) {
    SCOPED_TRACE(t.name);
    const int64_t n = 512;
    const auto w = random_row(rng_, t, n);
    std::vector<float> ours(n), ref(n);
    ASSERT_TRUE(dequantize_blocks(t.dtype, w.data(), ours.data(), n));
    t.dequantize(w.data(), ref.data(), n);
    EXPECT_EQ(0, std::memcmp(ours.data(), ref.data(), n * sizeof(float)));
  }
}

TEST_F(QuantKernels, ScalarDotsEqualTheDequantizedProduct) {
  for (const TypeCase& t : kTypes) {
    const QuantTypeKernels* k = quant_type_kernels(t.dtype, false);
    ASSERT_NE(k, nullptr) << t.name;
    for (int64_t n : {256, 768, 2048}) {
      for (bool extreme : {false, true}) {
        SCOPED_TRACE(std::string(t.name) + " n=" + std::to_string(n) + (extreme ? " extreme" : "") +
                     " " + conformance::seed_note());
        const auto w = random_row(rng_, t, n);
        const auto act = quantized(*k, random_activations(rng_, n, extreme));
        const Reference ref = reference_dot(t, w, act, k->activation_dtype, n);
        EXPECT_NEAR(k->dot(n, w.data(), act.data()), ref.value, ref.bound);
      }
    }
  }
}

TEST_F(QuantKernels, TheActivationTypesAreGgmls) {
  const auto act = [](hearth_dtype d) { return quant_type_kernels(d, false)->activation_dtype; };
  for (auto d : {HEARTH_DTYPE_Q4_0, HEARTH_DTYPE_Q5_0, HEARTH_DTYPE_Q8_0})
    EXPECT_EQ(act(d), HEARTH_DTYPE_Q8_0);
  for (auto d : {HEARTH_DTYPE_Q4_1, HEARTH_DTYPE_Q5_1}) EXPECT_EQ(act(d), HEARTH_DTYPE_Q8_1);
  for (auto d : {HEARTH_DTYPE_Q2_K, HEARTH_DTYPE_Q3_K, HEARTH_DTYPE_Q4_K, HEARTH_DTYPE_Q5_K,
                 HEARTH_DTYPE_Q6_K})
    EXPECT_EQ(act(d), HEARTH_DTYPE_Q8_K);
  EXPECT_EQ(quant_type_kernels(HEARTH_DTYPE_F16), nullptr);
  EXPECT_EQ(quant_type_kernels(HEARTH_DTYPE_Q8_K), nullptr);
}

TEST_F(QuantKernels, Avx2DotsEqualTheScalarOnes) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  for (const TypeCase& t : kTypes) {
    const QuantTypeKernels* scalar = quant_type_kernels(t.dtype, false);
    const QuantTypeKernels* simd = quant_type_kernels(t.dtype, true);
    ASSERT_NE(scalar->dot, simd->dot) << t.name << ": no SIMD kernel was chosen";
    for (int64_t n : {256, 512, 2048, 5632}) {
      for (bool extreme : {false, true}) {
        SCOPED_TRACE(std::string(t.name) + " n=" + std::to_string(n) + (extreme ? " extreme" : "") +
                     " " + conformance::seed_note());
        const auto w = random_row(rng_, t, n);
        const auto act = quantized(*scalar, random_activations(rng_, n, extreme));
        const Reference ref = reference_dot(t, w, act, scalar->activation_dtype, n);
        EXPECT_NEAR(simd->dot(n, w.data(), act.data()), scalar->dot(n, w.data(), act.data()),
                    ref.bound);
      }
    }
  }
}

TEST_F(QuantKernels, Avx2FloatDotsEqualTheScalarOnes) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  for (hearth_dtype dtype : {HEARTH_DTYPE_F32, HEARTH_DTYPE_F16, HEARTH_DTYPE_BF16}) {
    for (int64_t n : {1, 7, 33, 100, 257, 2048}) {
      SCOPED_TRACE("dtype " + std::to_string(dtype) + " n=" + std::to_string(n));
      const auto values = conformance::normal_floats(rng_, n, 1.0f);
      const auto x = conformance::normal_floats(rng_, n, 1.0f);
      std::vector<std::byte> row(static_cast<size_t>(n) * (dtype == HEARTH_DTYPE_F32 ? 4 : 2));
      for (int64_t i = 0; i < n; ++i) {
        if (dtype == HEARTH_DTYPE_F32) {
          std::memcpy(row.data() + 4 * i, &values[i], 4);
        } else {
          const uint16_t h = dtype == HEARTH_DTYPE_F16 ? sdk::fp32_to_fp16(values[i])
                                                       : sdk::fp32_to_bf16(values[i]);
          std::memcpy(row.data() + 2 * i, &h, 2);
        }
      }
      std::vector<float> wf(n);
      dequantize_weight_row(dtype, row.data(), wf.data(), n);
      double magnitude = 0.0;
      for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wf[i]) * x[i]);
      EXPECT_NEAR(dot_weight_row(dtype, row.data(), x.data(), n, true),
                  dot_weight_row(dtype, row.data(), x.data(), n, false), 1e-5 * magnitude);
    }
  }
}

// Attention accumulates probability x value row in F16C on AVX2 machines and in the plain loop
// elsewhere; the two must agree bit for bit so a model's tokens do not depend on the CPU.
TEST_F(QuantKernels, Avx2F16AxpyEqualsThePlainLoopBitForBit) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  for (int64_t n : {1, 7, 8, 33, 64, 128, 257}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const auto values = conformance::normal_floats(rng_, n, 1.0f);
    std::vector<uint16_t> row(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) row[i] = sdk::fp32_to_fp16(values[i]);
    auto simd = conformance::normal_floats(rng_, n, 3.0f);
    auto plain = simd;
    const float a = sdk::fp16_to_fp32(sdk::fp32_to_fp16(0.3173f));
    axpy_f16_avx2(a, row.data(), simd.data(), n);
    std::vector<float> widened(static_cast<size_t>(n));
    dequantize_weight_row(HEARTH_DTYPE_F16, row.data(), widened.data(), n);
    for (int64_t i = 0; i < n; ++i) plain[i] += a * widened[i];
    EXPECT_EQ(0, std::memcmp(simd.data(), plain.data(), simd.size() * sizeof(float)));
  }
}

// n_out weight rows and n_tok quantized activation rows for the tile tests.
struct TileProblem {
  int64_t n, n_out, n_tok;
  std::vector<std::byte> w;
  std::vector<std::vector<std::byte>> act;
  int64_t row_bytes() const { return static_cast<int64_t>(w.size()) / n_out; }
};

TileProblem tile_problem(std::mt19937_64& rng, const TypeCase& t, const QuantTypeKernels& k,
                         int64_t n, int64_t n_out, int64_t n_tok) {
  TileProblem p{n, n_out, n_tok, test::random_blocks(rng, t.dtype, n, n_out), {}};
  for (int64_t j = 0; j < n_tok; ++j)
    p.act.push_back(quantized(k, random_activations(rng, n, j == 1)));
  return p;
}

// Rows [r0, r1) x tokens [t0, t1) through one tile call, into out[t][r].
void run_tile(QuantTileFn fn, const TileProblem& p, int64_t r0, int64_t r1, int64_t t0, int64_t t1,
              std::vector<std::vector<float>>& out) {
  std::vector<const char*> act;
  std::vector<float*> dst;
  for (int64_t t = t0; t < t1; ++t) {
    act.push_back(reinterpret_cast<const char*>(p.act[static_cast<size_t>(t)].data()));
    dst.push_back(out[static_cast<size_t>(t)].data() + r0);
  }
  const QuantTile tile{reinterpret_cast<const char*>(p.w.data()) + r0 * p.row_bytes(),
                       p.row_bytes(),
                       r1 - r0,
                       act.data(),
                       dst.data(),
                       t1 - t0};
  fn(p.n, tile);
}

std::vector<std::vector<float>> tile_output(const TileProblem& p) {
  return std::vector<std::vector<float>>(static_cast<size_t>(p.n_tok),
                                         std::vector<float>(static_cast<size_t>(p.n_out), NAN));
}

TEST_F(QuantKernels, Avx2TilesEqualTheScalarDots) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  int tiled_types = 0;
  for (const TypeCase& t : kTypes) {
    const QuantTypeKernels* scalar = quant_type_kernels(t.dtype, false);
    const QuantTileFn fn = quant_type_kernels(t.dtype, true)->tile;
    if (fn == nullptr) continue;
    ++tiled_types;
    for (int64_t n : {256, 768, 2304}) {
      for (int64_t n_out : {1, 3, 6, 13}) {
        const int64_t n_tok = 9;
        SCOPED_TRACE(std::string(t.name) + " n=" + std::to_string(n) +
                     " n_out=" + std::to_string(n_out) + " " + conformance::seed_note());
        const TileProblem p = tile_problem(rng_, t, *scalar, n, n_out, n_tok);
        for (int64_t tokens = 1; tokens <= n_tok; ++tokens) {
          auto out = tile_output(p);
          run_tile(fn, p, 0, n_out, 0, tokens, out);
          for (int64_t tok = 0; tok < tokens; ++tok) {
            for (int64_t r = 0; r < n_out; ++r) {
              std::vector<std::byte> row(p.w.begin() + r * p.row_bytes(),
                                         p.w.begin() + (r + 1) * p.row_bytes());
              const auto& a = p.act[static_cast<size_t>(tok)];
              const Reference ref = reference_dot(t, row, a, scalar->activation_dtype, n);
              ASSERT_NEAR(out[static_cast<size_t>(tok)][static_cast<size_t>(r)],
                          scalar->dot(n, row.data(), a.data()), ref.bound)
                  << "tokens=" << tokens << " row " << r << " token " << tok;
            }
          }
        }
      }
    }
  }
  EXPECT_GE(tiled_types, 4) << "Q4_0, Q8_0, Q4_K and Q6_K have tiles";
}

// Eight rows interleaved (interleaved_rows.hpp) give each row's dot within the reference's
// rounding bound, including extreme activations (all quants at +-127, the int16 sums' limit)
// and weights of extreme quants (random_row covers the full nibble / byte range).
TEST_F(QuantKernels, Avx2InterleavedRowsEqualTheScalarDots) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  int interleaved_types = 0;
  for (const TypeCase& t : kTypes) {
    const InterleavedGemvFn gemv = interleaved_gemv(t.dtype);
    if (gemv == nullptr) continue;
    ++interleaved_types;
    const QuantTypeKernels* scalar = quant_type_kernels(t.dtype, false);
    for (int64_t n : {32, 256, 2048, 5632}) {
      if (n % t.block_elems != 0) continue;
      for (bool extreme : {false, true}) {
        SCOPED_TRACE(std::string(t.name) + " n=" + std::to_string(n) + (extreme ? " extreme" : "") +
                     " " + conformance::seed_note());
        const int64_t row_bytes = n / t.block_elems * t.block_bytes;
        std::vector<std::byte> rows;
        for (int r = 0; r < kInterleavedRows; ++r) {
          const auto row = random_row(rng_, t, n);
          rows.insert(rows.end(), row.begin(), row.end());
        }
        const auto act = quantized(*scalar, random_activations(rng_, n, extreme));
        std::vector<ActivationBlockInfo> info(static_cast<size_t>(n / 32));
        describe_activations(t.dtype, act.data(), info.data(), n);
        std::vector<char> group(static_cast<size_t>(interleaved_group_bytes(t.dtype, n)));
        ASSERT_GE(static_cast<int64_t>(group.size()), kInterleavedRows * row_bytes);
        interleave_rows(t.dtype, reinterpret_cast<const char*>(rows.data()), row_bytes, n,
                        group.data());
        float out[kInterleavedRows];
        gemv(n, group.data(), act.data(), info.data(), out);
        for (int r = 0; r < kInterleavedRows; ++r) {
          std::vector<std::byte> row(rows.begin() + r * row_bytes,
                                     rows.begin() + (r + 1) * row_bytes);
          const Reference ref = reference_dot(t, row, act, scalar->activation_dtype, n);
          EXPECT_NEAR(out[r], scalar->dot(n, row.data(), act.data()), ref.bound) << "row " << r;
        }
      }
    }
  }
  EXPECT_EQ(interleaved_types, 10)
      << "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K have interleaved layouts";
}

// The prompt GEMM over interleaved rows (8 or 4 tokens per call) gives every (row, token)
// the GEMV's exact bits, so MATMUL may mix the two; through the GEMV it is also within the
// reference's rounding of the scalar dot. Tokens include extreme activations (all +-127).
TEST_F(QuantKernels, Avx2InterleavedGemmEqualsTheGemvBitForBit) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  int gemm_types = 0;
  for (const TypeCase& t : kTypes) {
    const InterleavedGemmFn gemm = interleaved_gemm(t.dtype);
    const InterleavedGemvFn gemv = interleaved_gemv(t.dtype);
    if (gemm == nullptr) continue;
    ASSERT_NE(gemv, nullptr);
    ++gemm_types;
    const QuantTypeKernels* scalar = quant_type_kernels(t.dtype, false);
    for (int64_t n : {32, 256, 768, 2048}) {
      if (n % t.block_elems != 0) continue;
      SCOPED_TRACE(std::string(t.name) + " n=" + std::to_string(n) + " " +
                   conformance::seed_note());
      const int64_t row_bytes = n / t.block_elems * t.block_bytes;
      const int64_t n_blocks = n / 32;
      const auto rows = test::random_blocks(rng_, t.dtype, n, kInterleavedRows);
      std::vector<char> group(static_cast<size_t>(interleaved_group_bytes(t.dtype, n)));
      interleave_rows(t.dtype, reinterpret_cast<const char*>(rows.data()), row_bytes, n,
                      group.data());
      // Activation rows back to back with a gap, as MATMUL's scratch holds them.
      const int64_t act_bytes = activation_row_bytes(t.dtype, n);
      const int64_t stride = act_bytes + 64;
      std::vector<char> act(static_cast<size_t>(stride * kGemmTokens));
      std::vector<ActivationBlockInfo> info(static_cast<size_t>(n_blocks * kGemmTokens));
      for (int k = 0; k < kGemmTokens; ++k) {
        const auto q = quantized(*scalar, random_activations(rng_, n, k == 2));
        std::memcpy(act.data() + k * stride, q.data(), q.size());
        describe_activations(t.dtype, act.data() + k * stride, info.data() + k * n_blocks, n);
      }
      for (const int width : {kGemmTokens, kGemmTokensNarrow}) {
        SCOPED_TRACE("tokens per call " + std::to_string(width));
        float res[kGemmTokens][kInterleavedRows];
        gemm(n, group.data(), act.data(), stride, info.data(), n_blocks, width, res);
        for (int k = 0; k < width; ++k) {
          float want[kInterleavedRows];
          gemv(n, group.data(), act.data() + k * stride, info.data() + k * n_blocks, want);
          const std::vector<std::byte> a(
              reinterpret_cast<const std::byte*>(act.data() + k * stride),
              reinterpret_cast<const std::byte*>(act.data() + k * stride + act_bytes));
          for (int r = 0; r < kInterleavedRows; ++r) {
            EXPECT_EQ(res[k][r], want[r]) << "row " << r << " token " << k;
            const std::vector<std::byte> row(rows.begin() + r * row_bytes,
                                             rows.begin() + (r + 1) * row_bytes);
            const Reference ref = reference_dot(t, row, a, scalar->activation_dtype, n);
            EXPECT_NEAR(res[k][r], scalar->dot(n, row.data(), a.data()), ref.bound)
                << "row " << r << " token " << k;
          }
        }
      }
    }
  }
  EXPECT_EQ(gemm_types, 10)
      << "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K have an interleaved GEMM";
}

// Q8_K activations whose every quant is -128: the quantizer never makes one (its scale maps the
// largest magnitude to -127), but the kernels' int16 bound is stated for -128..127.
std::vector<std::byte> q8_k_all_minus_128(int64_t n) {
  std::vector<std::byte> out(static_cast<size_t>(n / kQK_K * sizeof(BlockQ8_K)));
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    BlockQ8_K block;
    block.d = 1.0f;
    std::memset(block.qs, 0x80, sizeof block.qs);
    for (auto& s : block.bsums) s = 16 * -128;
    std::memcpy(out.data() + b * sizeof block, &block, sizeof block);
  }
  return out;
}

// The largest integer sums the interleaved kernels hold in 16-bit lanes: every weight quant at
// its extreme (Q4_0 nibble 15 and 0, Q4_1 nibble 15 and 0 and Q5_1 level 31 and 0
// with m 1, Q5_0 level 31 and 0, Q8_0 -128,
// Q2_K level 3 and 0 with scales and mins at 15, Q3_K level 7 and 0 with scales at -32, Q4_K nibble
// 15 and 0 and Q5_K level 31 and 0 with scales and mins at 63, Q6_K levels 63 and 0 with scales at
// 127) times activations all +127 or all -127, and (Q8_K activations) all -128.
TEST_F(QuantKernels, Avx2InterleavedRowsHoldTheExtremeSums) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  const int64_t n = 256;
  for (const TypeCase& t : kTypes) {
    const InterleavedGemvFn gemv = interleaved_gemv(t.dtype);
    if (gemv == nullptr) continue;
    const QuantTypeKernels* scalar = quant_type_kernels(t.dtype, false);
    for (float sign : {1.0f, -1.0f, 0.0f}) {  // 0: the hand-made -128 activations
      if (sign == 0.0f && scalar->activation_dtype != HEARTH_DTYPE_Q8_K) continue;
      SCOPED_TRACE(std::string(t.name) + (sign > 0 ? " +1" : sign < 0 ? " -1" : " -128"));
      const int64_t row_bytes = n / t.block_elems * t.block_bytes;
      std::vector<std::byte> rows(static_cast<size_t>(kInterleavedRows * row_bytes));
      for (int64_t b = 0; b < kInterleavedRows * n / t.block_elems; ++b) {
        std::byte* block = rows.data() + b * t.block_bytes;
        const uint16_t one = sdk::fp32_to_fp16(1.0f);
        std::memcpy(block, &one, 2);
        // Alternate rows between the two extremes of the type.
        const bool high = (b / (n / t.block_elems)) % 2 == 0;
        if (t.dtype == HEARTH_DTYPE_Q4_K || t.dtype == HEARTH_DTYPE_Q5_K) {
          // dmin 1, every scale and min 63, then (Q5_K's qh and) qs: levels 15 or 31, or 0
          std::memcpy(block + 2, &one, 2);
          std::memset(block + 4, 0xFF, 12);
          std::memset(block + 16, high ? 0xFF : 0x00, static_cast<size_t>(t.block_bytes - 16));
          continue;
        }
        if (t.dtype == HEARTH_DTYPE_Q2_K) {  // scales and mins 15, qs, then d and dmin 1
          std::memset(block, 0xFF, sizeof(BlockQ2_K::scales));
          std::memset(block + 16, high ? 0xFF : 0x00, sizeof(BlockQ2_K::qs));
          std::memcpy(block + 80, &one, 2);
          std::memcpy(block + 82, &one, 2);
          continue;
        }
        if (t.dtype == HEARTH_DTYPE_Q3_K) {  // hmask and qs, then scales -32 (0), then d 1
          std::memset(block, high ? 0xFF : 0x00, sizeof(BlockQ3_K::hmask) + sizeof(BlockQ3_K::qs));
          std::memset(block + 96, 0x00, 12);
          std::memcpy(block + 108, &one, 2);
          continue;
        }
        if (t.dtype == HEARTH_DTYPE_Q6_K) {  // ql, qh, then scales 127, then d 1
          std::memset(block, high ? 0xFF : 0x00, sizeof(BlockQ6_K::ql) + sizeof(BlockQ6_K::qh));
          std::memset(block + 192, 0x7F, 16);
          std::memcpy(block + 208, &one, 2);
          continue;
        }
        if (t.dtype == HEARTH_DTYPE_Q4_1 || t.dtype == HEARTH_DTYPE_Q5_1) {
          // m 1, then (Q5_1's qh and) qs: levels 15 or 31, or 0
          std::memcpy(block + 2, &one, 2);
          std::memset(block + 4, high ? 0xFF : 0x00, static_cast<size_t>(t.block_bytes - 4));
          continue;
        }
        // Q4_0 and Q5_0 (qh, qs): levels 15 or 31, or 0; Q8_0: -128
        const bool levels = t.dtype == HEARTH_DTYPE_Q4_0 || t.dtype == HEARTH_DTYPE_Q5_0;
        const auto fill = levels ? (high ? 0xFF : 0x00) : 0x80;
        std::memset(block + 2, fill, static_cast<size_t>(t.block_bytes - 2));
      }
      const auto act = sign == 0.0f
                           ? q8_k_all_minus_128(n)
                           : quantized(*scalar, std::vector<float>(static_cast<size_t>(n), sign));
      std::vector<ActivationBlockInfo> info(static_cast<size_t>(n / 32));
      describe_activations(t.dtype, act.data(), info.data(), n);
      std::vector<char> group(static_cast<size_t>(interleaved_group_bytes(t.dtype, n)));
      interleave_rows(t.dtype, reinterpret_cast<const char*>(rows.data()), row_bytes, n,
                      group.data());
      float out[kInterleavedRows];
      gemv(n, group.data(), act.data(), info.data(), out);
      for (int r = 0; r < kInterleavedRows; ++r)
        EXPECT_FLOAT_EQ(out[r], scalar->dot(n, rows.data() + r * row_bytes, act.data()))
            << "row " << r;
      // The GEMM on the same extreme activation in every token slot (stride 0).
      const InterleavedGemmFn gemm = interleaved_gemm(t.dtype);
      ASSERT_NE(gemm, nullptr);
      float res[kGemmTokens][kInterleavedRows];
      gemm(n, group.data(), reinterpret_cast<const char*>(act.data()), 0, info.data(), 0,
           kGemmTokens, res);
      for (int k = 0; k < kGemmTokens; ++k)
        for (int r = 0; r < kInterleavedRows; ++r)
          EXPECT_EQ(res[k][r], out[r]) << "GEMM row " << r << " token " << k;
    }
  }
}

// What a thread split or token grouping changes (which rows share a tile, which tokens share a
// call) must not change any value: every tiling gives the same bits as one row x one token.
TEST_F(QuantKernels, Avx2TileValuesDoNotDependOnTheTiling) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2+FMA+F16C";
  for (const TypeCase& t : kTypes) {
    const QuantTileFn fn = quant_type_kernels(t.dtype, true)->tile;
    if (fn == nullptr) continue;
    SCOPED_TRACE(std::string(t.name) + " " + conformance::seed_note());
    const TileProblem p = tile_problem(rng_, t, *quant_type_kernels(t.dtype, false), 512, 11, 9);
    auto single = tile_output(p);
    for (int64_t r = 0; r < p.n_out; ++r)
      for (int64_t tok = 0; tok < p.n_tok; ++tok) run_tile(fn, p, r, r + 1, tok, tok + 1, single);
    auto whole = tile_output(p);
    run_tile(fn, p, 0, p.n_out, 0, p.n_tok, whole);
    auto split = tile_output(p);  // odd row and token boundaries
    for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 3}, {3, 10}, {10, 11}})
      for (auto [t0, t1] : {std::pair<int64_t, int64_t>{0, 5}, {5, 6}, {6, 9}})
        run_tile(fn, p, r0, r1, t0, t1, split);
    for (size_t tok = 0; tok < single.size(); ++tok) {
      for (size_t r = 0; r < single[tok].size(); ++r) {
        EXPECT_EQ(whole[tok][r], single[tok][r]) << "row " << r << " token " << tok;
        EXPECT_EQ(split[tok][r], single[tok][r]) << "row " << r << " token " << tok;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::backend_cpu
