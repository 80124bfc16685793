// Standalone NF4 -> F16/BF16 dequantization (the seed-001 task: shared/specs/nf4.md §6), for
// Hearth's 36-byte blocks and for bitsandbytes' double-quantized layout. Pure streaming: a
// thread decodes one code word (8 weights) per step and writes them as one 16-byte store, so a
// warp writes 512 contiguous bytes; each thread keeps kUnitsPerThread independent words in
// flight. Values are NF4[code] * absmax in float32 and one round-to-nearest-even cast, as
// bitsandbytes computes them (bit-exact).
#include "nf4_decode.cuh"
#include "nf4_kernels.hpp"

namespace hearth::backend_gpu {
namespace {

constexpr int kDequantThreads = 256;
constexpr int kUnitsPerThread = 4;

template <bool BF16>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  if constexpr (BF16)
    return static_cast<uint32_t>(nf4_float_to_bf16_bits(lo)) |
           (static_cast<uint32_t>(nf4_float_to_bf16_bits(hi)) << 16);
  else
    return static_cast<uint32_t>(nf4_float_to_f16_bits(lo)) |
           (static_cast<uint32_t>(nf4_float_to_f16_bits(hi)) << 16);
}

template <bool BF16>
__device__ __forceinline__ uint4 decode_unit(const float* table, uint32_t codes, float d) {
  float v[8];
#pragma unroll
  for (int e = 0; e < 8; ++e) v[e] = table[nf4_code(codes, e)] * d;
  return make_uint4(pack2<BF16>(v[0], v[1]), pack2<BF16>(v[2], v[3]), pack2<BF16>(v[4], v[5]),
                    pack2<BF16>(v[6], v[7]));
}

// Unit u (8 weights) of Hearth blocks: d = word 9 * (u / 8), codes = word 9 * (u / 8) + 1 + u % 8.
template <bool BF16>
__global__ void __launch_bounds__(kDequantThreads)
    nf4_dequantize_kernel(const uint32_t* blocks, int64_t n_units, uint4* out) {
  __shared__ float table[16];
  nf4_fill_table(table);
  const int64_t first =
      static_cast<int64_t>(blockIdx.x) * kDequantThreads * kUnitsPerThread + threadIdx.x;
  uint32_t codes[kUnitsPerThread];
  float d[kUnitsPerThread];
#pragma unroll
  for (int k = 0; k < kUnitsPerThread; ++k) {
    const int64_t u = first + static_cast<int64_t>(k) * kDequantThreads;
    if (u < n_units) {
      const int64_t block_word = (u / kNf4UnitsPerBlock) * (kNf4BlockBytes / 4);
      codes[k] = blocks[block_word + 1 + u % kNf4UnitsPerBlock];
      d[k] = __uint_as_float(blocks[block_word]);
    }
  }
#pragma unroll
  for (int k = 0; k < kUnitsPerThread; ++k) {
    const int64_t u = first + static_cast<int64_t>(k) * kDequantThreads;
    if (u < n_units) out[u] = decode_unit<BF16>(table, codes[k], d[k]);
  }
}

// bitsandbytes: absmax = code2[qabsmax[b]] * absmax2[b / 256], then + offset: two float32
// roundings (dequantize_blockwise, then absmax += offset), so no fused multiply-add.
template <bool BF16>
__global__ void __launch_bounds__(kDequantThreads)
    nf4_bnb_dequantize_kernel(const uint32_t* codes_words, const uint8_t* qabsmax,
                              const float* code2, const float* absmax2, float offset,
                              int64_t n_units, uint4* out) {
  __shared__ float table[16];
  __shared__ float code2_s[256];
  for (int i = static_cast<int>(threadIdx.x); i < 256; i += kDequantThreads) code2_s[i] = code2[i];
  nf4_fill_table(table);  // its barrier also publishes code2_s
  const int64_t first =
      static_cast<int64_t>(blockIdx.x) * kDequantThreads * kUnitsPerThread + threadIdx.x;
  uint32_t codes[kUnitsPerThread];
  float d[kUnitsPerThread];
#pragma unroll
  for (int k = 0; k < kUnitsPerThread; ++k) {
    const int64_t u = first + static_cast<int64_t>(k) * kDequantThreads;
    if (u < n_units) {
      const int64_t b = u / kNf4UnitsPerBlock;
      codes[k] = codes_words[u];
      d[k] = __fadd_rn(__fmul_rn(code2_s[qabsmax[b]], absmax2[b / 256]), offset);
    }
  }
#pragma unroll
  for (int k = 0; k < kUnitsPerThread; ++k) {
    const int64_t u = first + static_cast<int64_t>(k) * kDequantThreads;
    if (u < n_units) out[u] = decode_unit<BF16>(table, codes[k], d[k]);
  }
}

unsigned grid_for(int64_t n_units) {
  constexpr int64_t per_block = static_cast<int64_t>(kDequantThreads) * kUnitsPerThread;
  return static_cast<unsigned>((n_units + per_block - 1) / per_block);
}

bool misaligned(const void* p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment != 0;
}

}  // namespace

cudaError_t launch_nf4_dequantize(const void* blocks, int64_t n_blocks, void* out, Nf4OutType type,
                                  cudaStream_t stream) {
  if (n_blocks <= 0) return cudaSuccess;
  const int64_t n_units = n_blocks * kNf4UnitsPerBlock;
  if (blocks == nullptr || out == nullptr || misaligned(blocks, 4) || misaligned(out, 16) ||
      grid_for(n_units) == 0)
    return cudaErrorInvalidValue;
  const auto* words = static_cast<const uint32_t*>(blocks);
  auto* dst = static_cast<uint4*>(out);
  if (type == Nf4OutType::BF16)
    nf4_dequantize_kernel<true>
        <<<grid_for(n_units), kDequantThreads, 0, stream>>>(words, n_units, dst);
  else
    nf4_dequantize_kernel<false>
        <<<grid_for(n_units), kDequantThreads, 0, stream>>>(words, n_units, dst);
  return cudaGetLastError();
}

cudaError_t launch_nf4_bnb_dequantize(const Nf4BnbWeight& w, int64_t n, void* out, Nf4OutType type,
                                      cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (n % kNf4BlockElems != 0 || w.codes == nullptr || w.qabsmax == nullptr || w.code2 == nullptr ||
      w.absmax2 == nullptr || out == nullptr || misaligned(w.codes, 4) || misaligned(out, 16))
    return cudaErrorInvalidValue;
  const int64_t n_units = n / kNf4UnitElems;
  const auto* words = reinterpret_cast<const uint32_t*>(w.codes);
  auto* dst = static_cast<uint4*>(out);
  if (type == Nf4OutType::BF16)
    nf4_bnb_dequantize_kernel<true><<<grid_for(n_units), kDequantThreads, 0, stream>>>(
        words, w.qabsmax, w.code2, w.absmax2, w.offset, n_units, dst);
  else
    nf4_bnb_dequantize_kernel<false><<<grid_for(n_units), kDequantThreads, 0, stream>>>(
        words, w.qabsmax, w.code2, w.absmax2, w.offset, n_units, dst);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu
