// Standalone NF4 -> F16/BF16 dequantization (the seed-001 task: shared/specs/nf4.md §6), for
// Hearth's 36-byte blocks and for bitsandbytes' double-quantized layout. Pure streaming: a
// thread decodes one code word (8 weights) per unit and writes it as one 16-byte store, so a
// warp writes 512 contiguous bytes; each thread keeps kUnitsPerThread independent code words in
// flight (a block is one step of kDequantThreads * kUnitsPerThread units).
// Values are NF4[code] * absmax in float32 and one round-to-nearest-even cast, as bitsandbytes
// computes them (bit-exact); the cast is the hardware's paired cvt.rn (one instruction per two
// weights; the software bf16 rounding cost BF16 ~10 % against F16).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "nf4_decode.cuh"
#include "nf4_kernels.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

// Launch shape and order, H200, lab of session 14 (graph replay of the seed harness, % of copy
// bandwidth at (2048, 8192) / (1024, 4096) / (4096, 14336)): a block's code words loaded before
// it waits for the prior kernel, 128 threads x 4 code words, 90.2 / 92.2 / 92.8; the same with
// 128 x 2 (the session-9 shape) 88.5 / 86.9 / 94.8, 256 x 2 87.4 / 97.2 / 94.2; waiting first
// (sessions 9-13) 85.6 / 80.6 / 94.2. 64 x 2 and 128 x 1 ran at ~50 %. Code values come from a
// warp shuffle of a register built from immediates (within half a point of a shared table, and
// no barrier at the block's start).
constexpr int kDequantThreads = 128;
constexpr int kUnitsPerThread = 4;
constexpr int64_t kStepUnits = static_cast<int64_t>(kDequantThreads) * kUnitsPerThread;
// 2048 resident threads per SM (H100/H200): the register budget.
constexpr int kBlocksPerSm = 2048 / kDequantThreads;

template <bool BF16>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  if constexpr (BF16) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  } else {
    const __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
}

// Code value (lane & 15), from immediates (a constant-memory table is a cold miss per block).
__device__ __forceinline__ float lane_code_value() {
  const int code = static_cast<int>(threadIdx.x & 15u);
  float v = nf4_value(0);
#pragma unroll
  for (int c = 1; c < 16; ++c) v = code == c ? nf4_value(c) : v;
  return v;
}

// Every lane of the warp must call this (the values come by shuffle from lane_code_value()).
template <bool BF16>
__device__ __forceinline__ uint4 decode_unit(float lane_value, uint32_t codes, float d) {
  float v[8];
#pragma unroll
  for (int e = 0; e < 8; ++e) v[e] = __shfl_sync(0xffffffffu, lane_value, nf4_code(codes, e)) * d;
  return make_uint4(pack2<BF16>(v[0], v[1]), pack2<BF16>(v[2], v[3]), pack2<BF16>(v[4], v[5]),
                    pack2<BF16>(v[6], v[7]));
}

// A thread's units of one step: code words and their blocks' absmax.
struct Step {
  uint32_t codes[kUnitsPerThread];
  float d[kUnitsPerThread];
};

// Unit u (8 weights) of Hearth blocks: d = word 9 * (u / 8), codes = word 9 * (u / 8) + 1 + u % 8.
struct HearthSource {
  const uint32_t* blocks;
  __device__ __forceinline__ void load(int64_t u, uint32_t& codes, float& d) const {
    const int64_t block_word = (u / kNf4UnitsPerBlock) * (kNf4BlockBytes / 4);
    codes = blocks[block_word + 1 + u % kNf4UnitsPerBlock];
    d = __uint_as_float(blocks[block_word]);
  }
};

// bitsandbytes: absmax = code2[qabsmax[b]] * absmax2[b / 256], then + offset: two float32
// roundings (dequantize_blockwise, then absmax += offset), so no fused multiply-add.
struct BnbSource {
  const uint32_t* codes_words;
  const uint8_t* qabsmax;
  const float* code2_s;  // shared copy
  const float* absmax2;
  float offset;
  __device__ __forceinline__ void load(int64_t u, uint32_t& codes, float& d) const {
    const int64_t b = u / kNf4UnitsPerBlock;
    codes = codes_words[u];
    d = __fadd_rn(__fmul_rn(code2_s[qabsmax[b]], absmax2[b / 256]), offset);
  }
};

template <class Source>
__device__ __forceinline__ void load_step(const Source& src, int64_t step, int64_t n_units,
                                          Step& s) {
#pragma unroll
  for (int k = 0; k < kUnitsPerThread; ++k) {
    const int64_t u = step * kStepUnits + static_cast<int64_t>(k) * kDequantThreads + threadIdx.x;
    s.codes[k] = 0;
    s.d[k] = 0.0f;
    if (u < n_units) src.load(u, s.codes[k], s.d[k]);
  }
}

// Launched as a programmatic dependent of the previous kernel on the stream (launch_after_prior),
// a block may become resident while that kernel's last blocks still run: it lets the next launch
// do the same, reads its first step's weights (no kernel writes weights), then waits for the
// prior kernel to finish and its writes to be visible before it writes (the prior kernel may
// still read the output buffer).

// cur holds step blockIdx.x, loaded by the caller before the wait. Grids are capped at 2^31 - 1
// blocks, so only a tensor of more than 2^40 weights loops; its later steps are loaded without
// prefetch (holding the next step's words cost a spill at this register budget).
template <bool BF16, class Source>
__device__ __forceinline__ void dequantize_steps(const Source& src, Step cur, int64_t n_units,
                                                 uint4* out) {
  const int64_t n_steps = (n_units + kStepUnits - 1) / kStepUnits;
  const float lane_value = lane_code_value();
  await_prior_kernel();
  for (int64_t step = blockIdx.x; step < n_steps;) {
#pragma unroll
    for (int k = 0; k < kUnitsPerThread; ++k) {
      const int64_t u = step * kStepUnits + static_cast<int64_t>(k) * kDequantThreads + threadIdx.x;
      const uint4 v = decode_unit<BF16>(lane_value, cur.codes[k], cur.d[k]);
      if (u < n_units) out[u] = v;
    }
    step += gridDim.x;
    if (step < n_steps) load_step(src, step, n_units, cur);
  }
}

template <bool BF16>
__global__ void __launch_bounds__(kDequantThreads, kBlocksPerSm)
    nf4_dequantize_kernel(const uint32_t* blocks, int64_t n_units, uint4* out) {
  allow_next_launch();
  const HearthSource src{blocks};
  Step first;
  load_step(src, blockIdx.x, n_units, first);
  dequantize_steps<BF16>(src, first, n_units, out);
}

template <bool BF16>
__global__ void __launch_bounds__(kDequantThreads, kBlocksPerSm)
    nf4_bnb_dequantize_kernel(const uint32_t* codes_words, const uint8_t* qabsmax,
                              const float* code2, const float* absmax2, float offset,
                              int64_t n_units, uint4* out) {
  allow_next_launch();
  __shared__ float code2_s[256];
  for (int i = static_cast<int>(threadIdx.x); i < 256; i += kDequantThreads) code2_s[i] = code2[i];
  __syncthreads();
  const BnbSource src{codes_words, qabsmax, code2_s, absmax2, offset};
  Step first;
  load_step(src, blockIdx.x, n_units, first);
  dequantize_steps<BF16>(src, first, n_units, out);
}

// One block per step. (A persistent grid of one wave, each block prefetching its next step,
// measured 68 % of copy bandwidth at (2048, 8192) against 76 % for this on an H200: the
// scheduler's own overlap of many short blocks beats one wave's load/store phases.) Grids past
// 2^31 - 1 blocks use the kernel's grid-stride loop.
unsigned grid_for(int64_t n_units) {
  const int64_t steps = (n_units + kStepUnits - 1) / kStepUnits;
  constexpr int64_t kMaxGrid = 0x7fffffff;
  return static_cast<unsigned>(steps < kMaxGrid ? steps : kMaxGrid);
}

bool misaligned(const void* p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment != 0;
}

}  // namespace

cudaError_t launch_nf4_dequantize(const void* blocks, int64_t n_blocks, void* out, Nf4OutType type,
                                  cudaStream_t stream) {
  if (n_blocks <= 0) return cudaSuccess;
  const int64_t n_units = n_blocks * kNf4UnitsPerBlock;
  if (blocks == nullptr || out == nullptr || misaligned(blocks, 4) || misaligned(out, 16))
    return cudaErrorInvalidValue;
  const unsigned grid = grid_for(n_units);
  const auto* words = static_cast<const uint32_t*>(blocks);
  auto* dst = static_cast<uint4*>(out);
  if (type == Nf4OutType::BF16)
    launch_after_prior(nf4_dequantize_kernel<true>, grid, kDequantThreads, 0, stream, words,
                       n_units, dst);
  else
    launch_after_prior(nf4_dequantize_kernel<false>, grid, kDequantThreads, 0, stream, words,
                       n_units, dst);
  return cudaGetLastError();
}

cudaError_t launch_nf4_bnb_dequantize(const Nf4BnbWeight& w, int64_t n, void* out, Nf4OutType type,
                                      cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (n % kNf4BlockElems != 0 || w.codes == nullptr || w.qabsmax == nullptr || w.code2 == nullptr ||
      w.absmax2 == nullptr || out == nullptr || misaligned(w.codes, 4) || misaligned(out, 16))
    return cudaErrorInvalidValue;
  const int64_t n_units = n / kNf4UnitElems;
  const unsigned grid = grid_for(n_units);
  const auto* words = reinterpret_cast<const uint32_t*>(w.codes);
  auto* dst = static_cast<uint4*>(out);
  if (type == Nf4OutType::BF16)
    launch_after_prior(nf4_bnb_dequantize_kernel<true>, grid, kDequantThreads, 0, stream, words,
                       w.qabsmax, w.code2, w.absmax2, w.offset, n_units, dst);
  else
    launch_after_prior(nf4_bnb_dequantize_kernel<false>, grid, kDequantThreads, 0, stream, words,
                       w.qabsmax, w.code2, w.absmax2, w.offset, n_units, dst);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu
