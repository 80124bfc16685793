// bitsandbytes NF4 (shared/specs/nf4.md), written out element by element: the code book, the
// quantizer (blockwise absmax, nearest code, high nibble first), the double quantization of the
// absmax vector (mean offset, dynamic 8-bit map, groups of 256) and the dequantizers. These are
// the reference every NF4 kernel is tested against; they favour plainness over speed.
//
// Bit-exactness depends on every float operation rounding on its own: build with
// -ffp-contract=off (CMakeLists.txt does) so a*b+c never becomes an FMA.
#pragma once

#include <hearth/sdk/abi.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hearth::format_nf4 {

// bitsandbytes' default blocksize, and the only one Hearth's GGUF type uses.
inline constexpr int64_t kBlockElems = 64;
// Absmax values per group of the second (8-bit) quantization level.
inline constexpr int64_t kNestedBlock = 256;

// get_4bit_type("nf4"): index = 4-bit code, sorted ascending.
inline constexpr std::array<float, 16> kNf4Values = HEARTH_NF4_CODEBOOK;

using DynamicMap = std::array<float, 256>;

// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), in float32 as torch
// computes it (linspace from both ends, midpoints, times 10^(i-6)), sorted ascending.
DynamicMap dynamic_map();

// The NF4 code of a value already scaled to [-1, 1], as bitsandbytes' dQuantizeNF4 decision
// tree picks it: thresholds at the midpoints between neighbouring code values (rounded to
// float32), a value on a threshold takes the lower code; NaN gives code 0, as the CUDA tree does.
uint8_t nf4_code(float scaled);

// quantize_4bit(quant_type="nf4") over a flat tensor of n values: blocks of `blocksize`, the
// last one possibly short. packed has (n+1)/2 bytes, element 2k in the high nibble.
struct Nf4Quantized {
  std::vector<uint8_t> packed;
  std::vector<float> absmax;  // one per block
};
Nf4Quantized quantize_4bit(std::span<const float> x, int64_t blocksize = kBlockElems);

// The compressed absmax of double quantization (compress_statistics=True).
struct DoubleQuantized {
  std::vector<uint8_t> qabsmax;  // one per block
  std::vector<float> absmax2;    // one per group of kNestedBlock blocks
  float offset = 0.0f;           // mean of the absmax vector
};
DoubleQuantized double_quantize(std::span<const float> absmax, const DynamicMap& code2);

// absmax[b] = code2[qabsmax[b]] * absmax2[b / 256] + offset, each step rounded to float32.
std::vector<float> dequantize_absmax(const DoubleQuantized& dq, std::span<const float> code2);

// w[i] = NF4[nibble(i)] * absmax[i / blocksize], in float32.
void dequantize_4bit(std::span<const uint8_t> packed, std::span<const float> absmax, int64_t n,
                     int64_t blocksize, float* out);

// ------------------------------------------------------------------ Hearth's GGUF block

// One row-addressable block of 64 weights (README.md): the block's absmax as float32 (for a
// double-quantized tensor, the already reconstructed absmax, so dequantization is bit-exact
// with bitsandbytes), then 32 bytes of codes in bitsandbytes' nibble order.
struct BlockNF4 {
  float d;
  uint8_t qs[kBlockElems / 2];
};
static_assert(sizeof(BlockNF4) == 36, "NF4 block layout is 36 bytes");

// Packs n values (a multiple of 64) of bitsandbytes codes and per-block absmax into blocks.
void pack_blocks(std::span<const uint8_t> packed, std::span<const float> absmax, int64_t n,
                 BlockNF4* out);

// n values (a multiple of 64) of GGUF NF4 blocks to float32.
void dequantize_blocks(const std::byte* src, float* dst, int64_t n);

// n values (a multiple of 64, the rows of one tensor back to back) to GGUF NF4 blocks, the way
// bitsandbytes quantizes a Linear4bit weight; with double_quant the stored absmax is the
// reconstructed one (double quantization groups span the whole call, as bnb's span the tensor).
void quantize_blocks(const float* src, std::byte* dst, int64_t n, bool double_quant);

}  // namespace hearth::format_nf4
