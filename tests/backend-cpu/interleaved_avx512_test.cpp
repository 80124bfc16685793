// The AVX-512 VNNI interleaved-rows kernels (interleaved_gemv_avx512.cpp,
// interleaved_gemm_avx512.cpp) against the AVX2 ones, bit for bit, on random rows and
// activations (all quant values occur, and activations all at +-127), over several groups of
// rows and 1..9 tokens split as MATMUL splits them (GEMM for each 4 tokens, GEMV for the rest);
// and within rounding of the scalar reference dot. Skipped on CPUs without AVX-512 VNNI.
// Also HEARTH_CPU_ISA's parsing and the choice it makes, which run everywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../conformance/random_inputs.hpp"
#include "dequantize_blocks.hpp"
#include "interleaved_rows.hpp"
#include "quant_blocks.hpp"
#include "quant_kernels.hpp"
#include "random_blocks.hpp"

namespace hearth::backend_cpu {
namespace {

TEST(CpuIsa, ParsesTheNamesHearthCpuIsaTakes) {
  EXPECT_EQ(parse_cpu_isa("scalar"), CpuIsa::scalar);
  EXPECT_EQ(parse_cpu_isa("avx2"), CpuIsa::avx2);
  EXPECT_EQ(parse_cpu_isa("avx512"), CpuIsa::avx512_vnni);
  for (const char* bad : {"", "AVX2", "avx", "avx2 ", "sse4", "avx512vnni", "native"})
    EXPECT_EQ(parse_cpu_isa(bad), std::nullopt) << "'" << bad << "'";
  for (CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512_vnni})
    EXPECT_EQ(parse_cpu_isa(cpu_isa_name(isa)), isa);
}

TEST(CpuIsa, TheVariableLowersButNeverRaisesWhatTheCpuHas) {
  const CpuIsa best = CpuIsa::avx512_vnni;
  EXPECT_EQ(choose_cpu_isa(best, nullptr).isa, best);
  EXPECT_EQ(choose_cpu_isa(best, nullptr).note, "");
  EXPECT_EQ(choose_cpu_isa(best, "").isa, best);
  EXPECT_EQ(choose_cpu_isa(best, "avx2").isa, CpuIsa::avx2);
  EXPECT_EQ(choose_cpu_isa(best, "avx2").note, "");
  EXPECT_EQ(choose_cpu_isa(best, "scalar").isa, CpuIsa::scalar);
  EXPECT_EQ(choose_cpu_isa(CpuIsa::avx2, "avx2").isa, CpuIsa::avx2);

  const CpuIsaChoice above = choose_cpu_isa(CpuIsa::avx2, "avx512");
  EXPECT_EQ(above.isa, CpuIsa::avx2);
  EXPECT_NE(above.note.find("has only avx2"), std::string::npos) << above.note;

  const CpuIsaChoice unknown = choose_cpu_isa(CpuIsa::avx2, "avx-512");
  EXPECT_EQ(unknown.isa, CpuIsa::avx2);
  EXPECT_NE(unknown.note.find("'avx-512' is not one of scalar, avx2, avx512"), std::string::npos)
      << unknown.note;
}

TEST(CpuIsa, TheProcessChoiceIsConsistent) {
  const CpuIsaChoice& choice = cpu_isa_choice();
  EXPECT_EQ(cpu_has_avx2(), choice.isa >= CpuIsa::avx2);
  EXPECT_EQ(cpu_has_avx512_vnni(), choice.isa == CpuIsa::avx512_vnni);
  // The selectors follow it: AVX-512 kernels exactly when the process runs AVX-512.
  const InterleavedGemvFn gemv = interleaved_gemv(HEARTH_DTYPE_Q4_0);
  if (cpu_has_avx512_vnni())
    EXPECT_EQ(gemv, &gemv_q4_0x8_q8_0_avx512);
  else if (cpu_has_avx2())
    EXPECT_EQ(gemv, &gemv_q4_0x8_q8_0_avx2);
  else
    EXPECT_EQ(gemv, nullptr);
}

struct KernelCase {
  const char* name;
  hearth_dtype dtype;
  InterleavedGemvFn gemv_avx2, gemv_avx512;
  InterleavedGemmFn gemm_avx2, gemm_avx512;
};

const KernelCase kKernels[] = {
    {"Q4_0", HEARTH_DTYPE_Q4_0, gemv_q4_0x8_q8_0_avx2, gemv_q4_0x8_q8_0_avx512,
     gemm_q4_0x8_q8_0_avx2, gemm_q4_0x8_q8_0_avx512},
    {"Q4_1", HEARTH_DTYPE_Q4_1, gemv_q4_1x8_q8_1_avx2, gemv_q4_1x8_q8_1_avx512,
     gemm_q4_1x8_q8_1_avx2, gemm_q4_1x8_q8_1_avx512},
    {"Q5_0", HEARTH_DTYPE_Q5_0, gemv_q5_0x8_q8_0_avx2, gemv_q5_0x8_q8_0_avx512,
     gemm_q5_0x8_q8_0_avx2, gemm_q5_0x8_q8_0_avx512},
    {"Q5_1", HEARTH_DTYPE_Q5_1, gemv_q5_1x8_q8_1_avx2, gemv_q5_1x8_q8_1_avx512,
     gemm_q5_1x8_q8_1_avx2, gemm_q5_1x8_q8_1_avx512},
    {"Q8_0", HEARTH_DTYPE_Q8_0, gemv_q8_0x8_q8_0_avx2, gemv_q8_0x8_q8_0_avx512,
     gemm_q8_0x8_q8_0_avx2, gemm_q8_0x8_q8_0_avx512},
    {"Q2_K", HEARTH_DTYPE_Q2_K, gemv_q2_kx8_q8_k_avx2, gemv_q2_kx8_q8_k_avx512,
     gemm_q2_kx8_q8_k_avx2, gemm_q2_kx8_q8_k_avx512},
    {"Q3_K", HEARTH_DTYPE_Q3_K, gemv_q3_kx8_q8_k_avx2, gemv_q3_kx8_q8_k_avx512,
     gemm_q3_kx8_q8_k_avx2, gemm_q3_kx8_q8_k_avx512},
    {"Q4_K", HEARTH_DTYPE_Q4_K, gemv_q4_kx8_q8_k_avx2, gemv_q4_kx8_q8_k_avx512,
     gemm_q4_kx8_q8_k_avx2, gemm_q4_kx8_q8_k_avx512},
    {"Q5_K", HEARTH_DTYPE_Q5_K, gemv_q5_kx8_q8_k_avx2, gemv_q5_kx8_q8_k_avx512,
     gemm_q5_kx8_q8_k_avx2, gemm_q5_kx8_q8_k_avx512},
    {"Q6_K", HEARTH_DTYPE_Q6_K, gemv_q6_kx8_q8_k_avx2, gemv_q6_kx8_q8_k_avx512,
     gemm_q6_kx8_q8_k_avx2, gemm_q6_kx8_q8_k_avx512},
};

// Rows interleaved into groups, tokens quantized as MATMUL's scratch holds them.
struct Problem {
  int64_t n_in = 0, n_groups = 0, n_tok = 0;
  int64_t row_bytes = 0, group_bytes = 0, act_stride = 0, n_blocks = 0;
  std::vector<std::byte> rows;
  std::vector<char> groups;
  std::vector<char> act;
  std::vector<ActivationBlockInfo> info;
};

Problem make_problem(std::mt19937_64& rng, const KernelCase& k, int64_t n_in, int64_t n_groups,
                     int64_t n_tok) {
  const test::QuantLayout& layout = test::quant_layout(k.dtype);
  const QuantTypeKernels* scalar = quant_type_kernels(k.dtype, false);
  Problem p;
  p.n_in = n_in;
  p.n_groups = n_groups;
  p.n_tok = n_tok;
  p.row_bytes = n_in / layout.block_elems * layout.block_bytes;
  p.group_bytes = interleaved_group_bytes(k.dtype, n_in);
  p.n_blocks = n_in / 32;
  p.rows = test::random_blocks(rng, k.dtype, n_in, n_groups * kInterleavedRows);
  p.groups.resize(static_cast<size_t>(p.group_bytes * n_groups));
  for (int64_t g = 0; g < n_groups; ++g)
    interleave_rows(
        k.dtype, reinterpret_cast<const char*>(p.rows.data()) + g * kInterleavedRows * p.row_bytes,
        p.row_bytes, n_in, p.groups.data() + g * p.group_bytes);
  // A gap after each activation row, as in MATMUL's scratch.
  p.act_stride = activation_row_bytes(k.dtype, n_in) + 64;
  p.act.resize(static_cast<size_t>(p.act_stride * n_tok));
  p.info.resize(static_cast<size_t>(p.n_blocks * n_tok));
  for (int64_t t = 0; t < n_tok; ++t) {
    std::vector<float> x = conformance::normal_floats(rng, n_in, 1.0f);
    if (t % 3 == 1)  // every quant at +-127: the extreme integer sums
      for (auto& v : x) v = v < 0 ? -1.0f : 1.0f;
    char* a = p.act.data() + t * p.act_stride;
    scalar->quantize_activations(x.data(), a, n_in);
    describe_activations(k.dtype, a, p.info.data() + t * p.n_blocks, n_in);
  }
  return p;
}

// out[t][row]: every group's rows times every token, through the GEMM for each kGemmTokens
// tokens, then kGemmTokensNarrow, and the GEMV for the rest (kernel_matmul.cpp's split).
std::vector<std::vector<float>> run_kernels(const Problem& p, InterleavedGemvFn gemv,
                                            InterleavedGemmFn gemm) {
  std::vector<std::vector<float>> out(
      static_cast<size_t>(p.n_tok),
      std::vector<float>(static_cast<size_t>(p.n_groups * kInterleavedRows)));
  for (int64_t g = 0; g < p.n_groups; ++g) {
    const char* group = p.groups.data() + g * p.group_bytes;
    int64_t t = 0;
    for (const int width : {kGemmTokens, kGemmTokensNarrow}) {
      for (; t + width <= p.n_tok; t += width) {
        float res[kGemmTokens][kInterleavedRows];
        gemm(p.n_in, group, p.act.data() + t * p.act_stride, p.act_stride,
             p.info.data() + t * p.n_blocks, p.n_blocks, width, res);
        for (int k = 0; k < width; ++k)
          std::memcpy(&out[t + k][g * kInterleavedRows], res[k], sizeof res[k]);
      }
    }
    for (; t < p.n_tok; ++t)
      gemv(p.n_in, group, p.act.data() + t * p.act_stride, p.info.data() + t * p.n_blocks,
           &out[t][g * kInterleavedRows]);
  }
  return out;
}

// A Q8_0 or Q8_K activation row as floats (d * q), for the reference's magnitude.
std::vector<float> activation_values(hearth_dtype act_dtype, const char* row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  if (act_dtype == HEARTH_DTYPE_Q8_0) {
    for (int64_t b = 0; b < n / kQK; ++b) {
      BlockQ8_0 blk;
      std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof blk), sizeof blk);
      for (int i = 0; i < kQK; ++i) out[b * kQK + i] = half_to_float(blk.d) * blk.qs[i];
    }
  } else if (act_dtype == HEARTH_DTYPE_Q8_1) {
    for (int64_t b = 0; b < n / kQK; ++b) {
      BlockQ8_1 blk;
      std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof blk), sizeof blk);
      for (int i = 0; i < kQK; ++i) out[b * kQK + i] = half_to_float(blk.d) * blk.qs[i];
    }
  } else {
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      BlockQ8_K blk;
      std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof blk), sizeof blk);
      for (int i = 0; i < kQK_K; ++i) out[b * kQK_K + i] = blk.d * blk.qs[i];
    }
  }
  return out;
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

class Avx512Interleaved : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_has_avx512_vnni())
      GTEST_SKIP() << "this process does not run AVX-512 VNNI (CPU without AVX-512 F/BW/VL/VNNI, "
                      "or HEARTH_CPU_ISA lowered it)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    rng_ = conformance::generator_for(std::string(info->test_suite_name()) + "." + info->name());
  }
  std::mt19937_64 rng_;
};

// 1..9 tokens over 3 groups (24 rows), odd block counts: bit-identical to AVX2.
TEST_F(Avx512Interleaved, GemvAndGemmEqualAvx2BitForBit) {
  for (const KernelCase& k : kKernels) {
    const int64_t block = test::quant_layout(k.dtype).block_elems;
    for (int64_t n_blocks : {1, 3, 7, 11}) {
      const int64_t n_in = n_blocks * (block == 32 ? 32 : 256);
      for (int64_t n_tok = 1; n_tok <= 9; ++n_tok) {
        SCOPED_TRACE(std::string(k.name) + " n_in=" + std::to_string(n_in) +
                     " tokens=" + std::to_string(n_tok) + " " + conformance::seed_note());
        const Problem p = make_problem(rng_, k, n_in, 3, n_tok);
        const auto want = run_kernels(p, k.gemv_avx2, k.gemm_avx2);
        const auto got = run_kernels(p, k.gemv_avx512, k.gemm_avx512);
        for (int64_t t = 0; t < n_tok; ++t)
          for (size_t r = 0; r < want[t].size(); ++r)
            ASSERT_EQ(bits(got[t][r]), bits(want[t][r]))
                << "row " << r << " token " << t << ": " << got[t][r] << " vs AVX2 " << want[t][r];
      }
    }
  }
}

// Each AVX-512 GEMM token has the AVX-512 GEMV's bits (what lets MATMUL mix them), and both are
// the scalar reference dot within float rounding (relative 1e-5 of the sum of |terms|).
TEST_F(Avx512Interleaved, GemmEqualsGemvAndTheScalarDot) {
  for (const KernelCase& k : kKernels) {
    const QuantTypeKernels* scalar = quant_type_kernels(k.dtype, false);
    const int64_t n_in = test::quant_layout(k.dtype).block_elems == 32 ? 2048 + 96 : 2816;
    SCOPED_TRACE(std::string(k.name) + " " + conformance::seed_note());
    const Problem p = make_problem(rng_, k, n_in, 2, kGemmTokens + kGemmTokensNarrow + 1);
    const auto gemm_out = run_kernels(p, k.gemv_avx512, k.gemm_avx512);
    std::vector<float> wf(static_cast<size_t>(n_in));
    for (int64_t t = 0; t < p.n_tok; ++t) {
      const char* a = p.act.data() + t * p.act_stride;
      for (int64_t g = 0; g < p.n_groups; ++g) {
        float gemv_out[kInterleavedRows];
        k.gemv_avx512(n_in, p.groups.data() + g * p.group_bytes, a, p.info.data() + t * p.n_blocks,
                      gemv_out);
        for (int r = 0; r < kInterleavedRows; ++r) {
          const int64_t row = g * kInterleavedRows + r;
          ASSERT_EQ(bits(gemm_out[t][row]), bits(gemv_out[r])) << "row " << row << " token " << t;
          const std::byte* w = p.rows.data() + row * p.row_bytes;
          ASSERT_TRUE(dequantize_blocks(k.dtype, w, wf.data(), n_in));
          const std::vector<float> af = activation_values(scalar->activation_dtype, a, n_in);
          double magnitude = 0.0;
          for (int64_t i = 0; i < n_in; ++i) magnitude += std::fabs(double{wf[i]} * af[i]);
          EXPECT_NEAR(gemv_out[r], scalar->dot(n_in, w, a), 1e-5 * magnitude + 1e-30)
              << "row " << row << " token " << t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth::backend_cpu
