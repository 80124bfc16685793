// F32, F16 and BF16 "quantizers": plain conversions, rounding as ggml's reference does
// (fp16: round to nearest even, as F16C; bf16: round to nearest even, NaN kept quiet).
#include <hearth/sdk/half.hpp>

#include <cstring>

#include "quantize.hpp"

namespace hearth::format_gguf {

void quantize_f32(const float* src, std::byte* dst, int64_t n, const float* /*importance*/) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_f16(const float* src, std::byte* dst, int64_t n, const float* /*importance*/) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = sdk::fp32_to_fp16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

void quantize_bf16(const float* src, std::byte* dst, int64_t n, const float* /*importance*/) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t b = sdk::fp32_to_bf16(src[i]);
    std::memcpy(dst + 2 * i, &b, 2);
  }
}

}  // namespace hearth::format_gguf
