// The AVX2 forms of the row-wise loops (plugins/backend-cpu/rowwise_simd.hpp) against their
// scalar references: the float rounding to F16 bit for bit, the SiLU product and softmax's
// exponentials within a few ulp (a vector exp in place of std::exp), the double sums within
// double rounding.
// Skipped on machines without AVX2.
#include <gtest/gtest.h>

#include <hearth/sdk/half.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "quant_kernels.hpp"
#include "rowwise_simd.hpp"

namespace hearth::backend_cpu {
namespace {

// Distance in units of the last place between two finite floats of the same sign region.
int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = std::numeric_limits<int32_t>::min() - ia;
  if (ib < 0) ib = std::numeric_limits<int32_t>::min() - ib;
  return std::llabs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
}

std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

class RowwiseAvx2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  }
};

TEST_F(RowwiseAvx2, SumOfSquaresMatchesTheScalarSumWithinDoubleRounding) {
  for (int64_t n : {0, 1, 7, 8, 9, 63, 2048, 5631}) {
    const auto x = random_floats(static_cast<size_t>(n), -30.0f, 30.0f, static_cast<uint32_t>(n));
    const double want = sum_squares_scalar(x.data(), n);
    const double got = sum_squares_avx2(x.data(), n);
    EXPECT_NEAR(got, want, 1e-13 * want) << "n=" << n;
  }
}

TEST_F(RowwiseAvx2, SiluTimesUpIsWithinFourUlpOfTheScalarLoop) {
  // Odd lengths (the scalar tail), the range a decode sees, and the edges of exp's float range.
  std::vector<float> gate = random_floats(1003, -20.0f, 20.0f, 7);
  for (float edge : {0.0f, -0.0f, 1e-30f, -1e-30f, 87.0f, -87.0f, 88.5f, -88.5f, 89.0f, -89.0f,
                     100.0f, -100.0f, 1e4f, -1e4f})
    gate.push_back(edge);
  const auto up = random_floats(gate.size(), -3.0f, 3.0f, 8);
  const auto n = static_cast<int64_t>(gate.size());
  std::vector<float> want(gate.size()), got(gate.size());
  silu_mul_scalar(gate.data(), up.data(), want.data(), n);
  silu_mul_avx2(gate.data(), up.data(), got.data(), n);
  for (size_t i = 0; i < gate.size(); ++i) {
    // Where exp(-g) leaves float range the two differ below 1e-35 (0 against a tiny quotient).
    if (std::fabs(want[i]) < 1e-30f) {
      EXPECT_LT(std::fabs(got[i]), 1e-30f) << "gate " << gate[i];
      continue;
    }
    EXPECT_LE(ulp_distance(got[i], want[i]), 4)
        << "gate " << gate[i] << " up " << up[i] << ": " << got[i] << " vs " << want[i];
  }
}

TEST_F(RowwiseAvx2, SoftmaxExpIsWithinFourUlpAndSumsAsTheScalarLoop) {
  // Scores below a max of 3.5 (softmax's arguments are <= 0), odd lengths for the scalar tail,
  // and arguments past exp's float range (std::exp gives a denormal or 0 there).
  for (int64_t n : {1, 7, 8, 9, 64, 1003}) {
    auto x = random_floats(static_cast<size_t>(n), -30.0f, 3.5f, static_cast<uint32_t>(n + 3));
    if (n > 8) x[3] = -200.0f, x[5] = -86.0f;
    auto want = x, got = x;
    const double want_sum = exp_minus_max_scalar(want.data(), n, 3.5f);
    const double got_sum = exp_minus_max_avx2(got.data(), n, 3.5f);
    EXPECT_NEAR(got_sum, want_sum, 1e-6 * want_sum) << "n=" << n;
    for (int64_t i = 0; i < n; ++i) {
      if (want[i] < 1e-37f) {
        EXPECT_LT(got[i], 1e-37f) << "x " << x[i];
        continue;
      }
      EXPECT_LE(ulp_distance(got[i], want[i]), 4)
          << "x " << x[i] << ": " << got[i] << " vs " << want[i];
    }
  }
}

TEST_F(RowwiseAvx2, RoundingToF16IsBitExact) {
  std::vector<float> x = random_floats(4001, -70000.0f, 70000.0f, 9);
  const auto small = random_floats(1000, -1e-4f, 1e-4f, 10);  // F16 subnormals
  x.insert(x.end(), small.begin(), small.end());
  for (float edge : {0.0f, -0.0f, 65504.0f, 65520.0f, -65520.0f, 1.0f + 1.0f / 2048.0f,
                     1.0f + 3.0f / 2048.0f, std::numeric_limits<float>::infinity()})
    x.push_back(edge);
  const auto n = static_cast<int64_t>(x.size());
  std::vector<float> got(x.size());
  round_to_f16_avx2(x.data(), got.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = sdk::fp16_to_fp32(sdk::fp32_to_fp16(x[i]));
    EXPECT_EQ(std::memcmp(&got[i], &want, 4), 0) << x[i] << " -> " << got[i] << " vs " << want;
    const float one = round_to_f16_avx2(x[i]);
    EXPECT_EQ(std::memcmp(&one, &want, 4), 0) << x[i];
  }
}

}  // namespace
}  // namespace hearth::backend_cpu
