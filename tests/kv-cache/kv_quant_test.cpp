// The KV slot record (abi.h HEARTH_OP_ATTENTION_SLOTS, sdk/kv_quant.hpp): KIVI's asymmetric
// group-wise quantizer and its bit packing, checked against hand-computed records.
#include <gtest/gtest.h>
#include <hearth/sdk/kv_quant.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace hearth::sdk {
namespace {

struct Decoded {
  float scale, min;
};

Decoded group_header(const std::vector<uint8_t>& record, uint32_t group) {
  uint16_t scale16, min16;
  std::memcpy(&scale16, record.data() + 4 * group, 2);
  std::memcpy(&min16, record.data() + 4 * group + 2, 2);
  return {fp16_to_fp32(scale16), fp16_to_fp32(min16)};
}

TEST(KvRecord, SizesCountCodesAndGroupHeaders) {
  EXPECT_EQ(hearth_kv_record_bytes(16, 128, 128), 256u);
  EXPECT_EQ(hearth_kv_record_bytes(8, 128, 128), 4u + 128u);
  EXPECT_EQ(hearth_kv_record_bytes(4, 128, 32), 16u + 64u);
  EXPECT_EQ(hearth_kv_record_bytes(2, 8, 8), 4u + 2u);
  EXPECT_EQ(hearth_kv_record_bytes(1, 5, 5), 4u + 1u);  // codes round up to a byte
}

// Four values at 2 bits: min 0, max 3 -> scale 1, codes are the values, packed LSB first.
TEST(KvRecord, PacksCodesLeastSignificantFirst) {
  const std::vector<float> x = {0.0f, 1.0f, 2.0f, 3.0f};
  std::vector<uint8_t> record(hearth_kv_record_bytes(2, 4, 4));
  kv_quantize_record(x.data(), 2, 4, 4, record.data());
  EXPECT_EQ(group_header(record, 0).scale, 1.0f);
  EXPECT_EQ(group_header(record, 0).min, 0.0f);
  EXPECT_EQ(record[4], 0b11'10'01'00);
  std::vector<float> back(4);
  kv_dequantize_record(record.data(), 2, 4, 4, back.data());
  EXPECT_EQ(back, x);
}

TEST(KvRecord, OneBitKeepsMinAndMax) {
  const std::vector<float> x = {-1.0f, 0.4f, 0.6f, 2.0f, 1.9f, -0.9f, 0.0f, 1.0f};
  std::vector<uint8_t> record(hearth_kv_record_bytes(1, 8, 8));
  kv_quantize_record(x.data(), 1, 8, 8, record.data());
  std::vector<float> back(8);
  kv_dequantize_record(record.data(), 1, 8, 8, back.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = x[i] - (-1.0f) >= 1.5f ? 2.0f : -1.0f;
    EXPECT_EQ(back[i], want) << "element " << i;
  }
  EXPECT_EQ(record[4], 0b1001'1100);  // elements 2, 3, 4 and 7 high
}

// A constant group has scale 0: every code is 0 and the value comes back from the min.
TEST(KvRecord, ConstantGroupHasScaleZero) {
  const std::vector<float> x(16, 0.75f);
  for (uint32_t bits : {8u, 4u, 2u, 1u}) {
    std::vector<uint8_t> record(hearth_kv_record_bytes(bits, 16, 8));
    kv_quantize_record(x.data(), bits, 16, 8, record.data());
    EXPECT_EQ(group_header(record, 0).scale, 0.0f);
    std::vector<float> back(16);
    kv_dequantize_record(record.data(), bits, 16, 8, back.data());
    EXPECT_EQ(back, x) << bits << " bits";
  }
}

// Random groups: each value comes back within half a step (of the stored F16 scale), plus the
// F16 rounding of min and scale.
TEST(KvRecord, RoundTripErrorIsAtMostHalfAStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (uint32_t bits : {8u, 4u, 2u, 1u})
    for (uint32_t head_dim : {8u, 64u, 128u})
      for (uint32_t group : {head_dim, head_dim / 2}) {
        std::vector<float> x(head_dim);
        for (float& v : x) v = normal(rng);
        std::vector<uint8_t> record(hearth_kv_record_bytes(bits, head_dim, group));
        kv_quantize_record(x.data(), bits, head_dim, group, record.data());
        std::vector<float> back(head_dim);
        kv_dequantize_record(record.data(), bits, head_dim, group, back.data());
        for (uint32_t i = 0; i < head_dim; ++i) {
          const Decoded h = group_header(record, i / group);
          const float max_code = static_cast<float>((1u << bits) - 1);
          // Values above the rounded range clamp to the top code: allow the range's rounding.
          const float slack = 0.5f * h.scale + 2e-3f * (std::fabs(h.min) + h.scale * max_code);
          EXPECT_LE(std::fabs(back[i] - x[i]), slack)
              << bits << " bits, head_dim " << head_dim << ", group " << group << ", element " << i;
        }
      }
}

TEST(KvRecord, SixteenBitsIsF16) {
  const std::vector<float> x = {1.0f, -2.5f, 65504.0f, 1e-3f};
  std::vector<uint8_t> record(hearth_kv_record_bytes(16, 4, 4));
  kv_quantize_record(x.data(), 16, 4, 4, record.data());
  std::vector<float> back(4);
  kv_dequantize_record(record.data(), 16, 4, 4, back.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(back[i], fp16_to_fp32(fp32_to_fp16(x[i])));
}

}  // namespace
}  // namespace hearth::sdk
