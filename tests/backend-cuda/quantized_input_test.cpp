// QuantizedInput decides when a MATMUL may skip quantizing its activations: a wrong "holds"
// multiplies stale values, so every way the source can change must make it forget.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "quantized_input.hpp"

namespace hearth::backend_gpu {
namespace {

// A dense F32 view of rows x cols starting `first` floats into buffer.
hearth_tensor f32_view(float* buffer, int64_t first, int64_t cols, int64_t rows) {
  hearth_tensor t{};
  t.data = buffer + first;
  t.dtype = HEARTH_DTYPE_F32;
  t.n_dims = 2;
  t.ne[0] = cols;
  t.ne[1] = rows;
  t.ne[2] = t.ne[3] = 1;
  t.nb[0] = sizeof(float);
  t.nb[1] = cols * static_cast<int64_t>(sizeof(float));
  t.nb[2] = t.nb[3] = t.nb[1] * rows;
  return t;
}

constexpr ActivationRounding kQ8_0 = ActivationRounding::q8_0_blocks;
constexpr ActivationRounding kQ8_K = ActivationRounding::q8_k_super_blocks;

class QuantizedInputTest : public ::testing::Test {
 protected:
  std::array<float, 1024> buffer_{};
  std::array<char, 16> scratch_{};
  std::array<char, 16> other_scratch_{};
};

TEST_F(QuantizedInputTest, HoldsOnlyTheSameViewInTheSameScratch) {
  QuantizedInput q;
  const hearth_tensor x = f32_view(buffer_.data(), 0, 64, 1);
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_0));
  q.remember(x, scratch_.data(), kQ8_0);
  EXPECT_TRUE(q.holds(x, scratch_.data(), kQ8_0));
  EXPECT_FALSE(q.holds(x, other_scratch_.data(), kQ8_0)) << "a regrown scratch holds nothing yet";
  EXPECT_FALSE(q.holds(f32_view(buffer_.data(), 1, 64, 1), scratch_.data(), kQ8_0)) << "other data";
  EXPECT_FALSE(q.holds(f32_view(buffer_.data(), 0, 32, 2), scratch_.data(), kQ8_0))
      << "other shape";
  hearth_tensor strided = x;
  strided.nb[1] *= 2;
  strided.nb[2] = strided.nb[3] = strided.nb[1];
  EXPECT_FALSE(q.holds(strided, scratch_.data(), kQ8_0)) << "other strides";
  hearth_tensor f16 = x;
  f16.dtype = HEARTH_DTYPE_F16;
  EXPECT_FALSE(q.holds(f16, scratch_.data(), kQ8_0)) << "other dtype";
  q.forget();
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_0));
}

TEST_F(QuantizedInputTest, ActivationsRoundedForAnotherWeightTypeAreNotReused) {
  QuantizedInput q;
  const hearth_tensor x = f32_view(buffer_.data(), 0, 256, 1);
  q.remember(x, scratch_.data(), kQ8_K);
  EXPECT_TRUE(q.holds(x, scratch_.data(), kQ8_K));
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_0)) << "Q8_0 blocks wanted, Q8_K held";
  q.remember(x, scratch_.data(), kQ8_0);
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_K)) << "Q8_K wanted, Q8_0 held";
}

TEST_F(QuantizedInputTest, AnOverlappingWriteForgetsADisjointOneDoesNot) {
  QuantizedInput q;
  const hearth_tensor x = f32_view(buffer_.data(), 128, 64, 2);  // floats [128, 256)
  q.remember(x, scratch_.data(), kQ8_0);
  q.forget_if_overlapping(f32_view(buffer_.data(), 0, 128, 1));    // [0, 128): just before
  q.forget_if_overlapping(f32_view(buffer_.data(), 256, 128, 1));  // [256, 384): just after
  q.forget_if_overlapping(f32_view(buffer_.data(), 300, 0, 1));    // empty
  EXPECT_TRUE(q.holds(x, scratch_.data(), kQ8_0));
  q.forget_if_overlapping(f32_view(buffer_.data(), 255, 1, 1));  // the last float
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_0));
  q.remember(x, scratch_.data(), kQ8_0);
  q.forget_if_overlapping(f32_view(buffer_.data(), 0, 129, 1));  // reaches the first float
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_0));
  q.remember(x, scratch_.data(), kQ8_0);
  q.forget_if_overlapping(x);  // in place (ADD x = x + b)
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_0));
}

TEST_F(QuantizedInputTest, AGapBetweenRowsStillCountsAsTheSource) {
  // Rows 64 floats apart holding 32 values each: a write into the gap is within the extent the
  // source spans, so it is treated as overlapping (conservative, never stale).
  QuantizedInput q;
  hearth_tensor x = f32_view(buffer_.data(), 0, 32, 2);
  x.nb[1] = 64 * sizeof(float);
  x.nb[2] = x.nb[3] = 128 * sizeof(float);
  q.remember(x, scratch_.data(), kQ8_0);
  q.forget_if_overlapping(f32_view(buffer_.data(), 40, 8, 1));
  EXPECT_FALSE(q.holds(x, scratch_.data(), kQ8_0));
}

}  // namespace
}  // namespace hearth::backend_gpu
