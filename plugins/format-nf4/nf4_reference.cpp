#include "nf4_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hearth::format_nf4 {
namespace {

// torch.linspace(0.1, 1, steps, dtype=float32): the first half counts up from start, the second
// half down from end, with a float32 step. torch's CPU kernel is compiled with FMA contraction,
// so each point is one fused multiply-add (checked against torch 2.11 on all 7 sizes used).
std::vector<float> linspace_f32(float start, float end, int64_t steps) {
  std::vector<float> out(static_cast<size_t>(steps));
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int64_t halfway = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    out[static_cast<size_t>(i)] = i < halfway
                                      ? std::fma(step, static_cast<float>(i), start)
                                      : std::fma(-step, static_cast<float>(steps - i - 1), end);
  return out;
}

// Index of the code2 entry nearest to v (code2 sorted ascending); a tie takes the lower index.
uint8_t nearest_dynamic_code(float v, const DynamicMap& code2) {
  const auto* it = std::lower_bound(code2.begin(), code2.end(), v);
  if (it == code2.begin()) return 0;
  if (it == code2.end()) return 255;
  const auto hi = static_cast<int>(it - code2.begin());
  const float d_hi = code2[static_cast<size_t>(hi)] - v;
  const float d_lo = v - code2[static_cast<size_t>(hi - 1)];
  return static_cast<uint8_t>(d_lo <= d_hi ? hi - 1 : hi);
}

}  // namespace

DynamicMap dynamic_map() {
  constexpr int kMaxExponentBits = 7;
  std::vector<float> data;
  for (int i = 0; i < kMaxExponentBits; ++i) {
    const auto boundaries = linspace_f32(0.1f, 1.0f, (int64_t{1} << i) + 1);
    // torch multiplies a float32 tensor by a Python scalar in float32.
    const auto scale = static_cast<float>(std::pow(10.0, i - (kMaxExponentBits - 1)));
    for (size_t k = 0; k + 1 < boundaries.size(); ++k) {
      const float mean = (boundaries[k] + boundaries[k + 1]) / 2.0f;
      data.push_back(scale * mean);
      data.push_back(-(scale * mean));
    }
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  std::sort(data.begin(), data.end());
  DynamicMap out{};
  std::copy(data.begin(), data.end(), out.begin());
  return out;
}

uint8_t nf4_code(float x) {
  // The midpoints of neighbouring code values, rounded once to float32. bitsandbytes' CUDA
  // decision tree hard-codes 16-digit decimal literals of the same midpoints; four of them
  // (codes 0/1, 8/9, 12/13, 14/15) lie within a hair of a float32 tie and round to the
  // neighbouring float, so a value within 1 ulp of those thresholds may get the other code there.
  static constexpr auto kThresholds = [] {
    std::array<float, 15> t{};
    for (size_t k = 0; k < t.size(); ++k)
      t[k] = static_cast<float>(
          (static_cast<double>(kNf4Values[k]) + static_cast<double>(kNf4Values[k + 1])) / 2);
    return t;
  }();
  // Binary search: the number of thresholds x lies strictly above (NaN lies above none).
  uint8_t lo = 0, hi = 15;
  while (lo < hi) {
    const auto mid = static_cast<uint8_t>((lo + hi) / 2);
    if (x > kThresholds[mid])
      lo = static_cast<uint8_t>(mid + 1);
    else
      hi = mid;
  }
  return lo;
}

Nf4Quantized quantize_4bit(std::span<const float> x, int64_t blocksize) {
  const auto n = static_cast<int64_t>(x.size());
  Nf4Quantized out;
  out.packed.assign(static_cast<size_t>((n + 1) / 2), 0);
  out.absmax.resize(static_cast<size_t>((n + blocksize - 1) / blocksize));
  for (size_t b = 0; b < out.absmax.size(); ++b) {
    const int64_t begin = static_cast<int64_t>(b) * blocksize;
    const int64_t end = std::min(n, begin + blocksize);
    float absmax = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      absmax = std::max(absmax, std::fabs(x[static_cast<size_t>(i)]));
    out.absmax[b] = absmax;
    for (int64_t i = begin; i < end; ++i) {
      // An all-zero block has no scale: its codes are NF4's exact zero (code 7).
      const uint8_t code =
          absmax == 0.0f ? 7
                         : nf4_code(std::clamp(x[static_cast<size_t>(i)] / absmax, -1.0f, 1.0f));
      auto& byte = out.packed[static_cast<size_t>(i / 2)];
      byte = static_cast<uint8_t>(i % 2 == 0 ? byte | (code << 4) : byte | code);
    }
  }
  return out;
}

DoubleQuantized double_quantize(std::span<const float> absmax, const DynamicMap& code2) {
  DoubleQuantized out;
  const size_t nb = absmax.size();
  if (nb == 0) return out;
  double sum = 0.0;
  for (float a : absmax) sum += a;
  out.offset = static_cast<float>(sum / static_cast<double>(nb));
  out.qabsmax.resize(nb);
  out.absmax2.resize((nb + kNestedBlock - 1) / kNestedBlock);
  for (size_t g = 0; g < out.absmax2.size(); ++g) {
    const size_t begin = g * kNestedBlock;
    const size_t end = std::min(nb, begin + kNestedBlock);
    float group_max = 0.0f;
    for (size_t b = begin; b < end; ++b)
      group_max = std::max(group_max, std::fabs(absmax[b] - out.offset));
    out.absmax2[g] = group_max;
    for (size_t b = begin; b < end; ++b) {
      const float centred = absmax[b] - out.offset;
      out.qabsmax[b] = group_max == 0.0f ? nearest_dynamic_code(0.0f, code2)
                                         : nearest_dynamic_code(centred / group_max, code2);
    }
  }
  return out;
}

std::vector<float> dequantize_absmax(const DoubleQuantized& dq, std::span<const float> code2) {
  std::vector<float> out(dq.qabsmax.size());
  for (size_t b = 0; b < out.size(); ++b) {
    const float scaled = code2[dq.qabsmax[b]] * dq.absmax2[b / kNestedBlock];
    out[b] = scaled + dq.offset;
  }
  return out;
}

void dequantize_4bit(std::span<const uint8_t> packed, std::span<const float> absmax, int64_t n,
                     int64_t blocksize, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t byte = packed[static_cast<size_t>(i / 2)];
    const int code = i % 2 == 0 ? byte >> 4 : byte & 0x0F;
    out[i] = kNf4Values[static_cast<size_t>(code)] * absmax[static_cast<size_t>(i / blocksize)];
  }
}

void pack_blocks(std::span<const uint8_t> packed, std::span<const float> absmax, int64_t n,
                 BlockNF4* out) {
  for (int64_t b = 0; b < n / kBlockElems; ++b) {
    out[b].d = absmax[static_cast<size_t>(b)];
    std::memcpy(out[b].qs, packed.data() + b * (kBlockElems / 2), sizeof out[b].qs);
  }
}

void dequantize_blocks(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kBlockElems; ++b) {
    BlockNF4 block;
    std::memcpy(&block, src + b * static_cast<int64_t>(sizeof(BlockNF4)), sizeof block);
    for (int j = 0; j < kBlockElems / 2; ++j) {
      dst[b * kBlockElems + 2 * j] = kNf4Values[block.qs[j] >> 4] * block.d;
      dst[b * kBlockElems + 2 * j + 1] = kNf4Values[block.qs[j] & 0x0F] * block.d;
    }
  }
}

void quantize_blocks(const float* src, std::byte* dst, int64_t n, bool double_quant) {
  const Nf4Quantized q = quantize_4bit(std::span(src, static_cast<size_t>(n)), kBlockElems);
  std::vector<float> absmax = q.absmax;
  if (double_quant) {
    const DynamicMap code2 = dynamic_map();
    absmax = dequantize_absmax(double_quantize(q.absmax, code2), code2);
  }
  std::vector<BlockNF4> blocks(static_cast<size_t>(n / kBlockElems));
  pack_blocks(q.packed, absmax, n, blocks.data());
  std::memcpy(dst, blocks.data(), blocks.size() * sizeof(BlockNF4));
}

}  // namespace hearth::format_nf4
