// MATMUL of 1-8 tokens with NF4 weights on Hopper (sm_90). The portable GEMV of nf4_matmul.cu
// spends one shared-memory lookup and one FMA per weight and is bound by the L1 data path near 40 %
// of copy bandwidth (docs/benchmarks.md, seventh to ninth leases). This one:
// - copies the weights into shared memory with the tensor copy engine (TMA: one 2-D copy per
//   stage of 16 rows x GPS groups of 144 bytes = 4 blocks; rows and columns past the matrix come
//   back as zeros), in a ring of stage buffers (its depth chosen per launch) that a producer warp
//   refills as consumer warps release them (mbarriers);
// - looks each code byte up once, in a 256-entry table of F16 pairs (one copy per lane, so a warp
//   never conflicts), and uses the pair as it is: it is one register of the A operand of
//   mma.sync.m16n8k16 (F16 x F16 -> F32), whose 16 rows are 16 weight rows and whose 16 columns
//   are 16 weights of one block and whose 8 columns are up to 8 tokens (the same mma count for
//   8 tokens as for one); the block's scale multiplies the mma's result;
// - runs one wave of CTAs, each looping over tiles of 16 rows (b, b + grid, ...) with its ring
//   running on across tiles, so the table and x are built once per CTA, not once per 16 rows;
// - converts x once per CTA to F16 in shared memory, each token scaled by a power of two that
//   puts its max |x| in [2^13, 2^14) (no overflow, no subnormals; undone exactly at the end).
// Rounding: F16 code values and F16 activations, F32 products and sums (as bitsandbytes' GEMV);
// on random data the error is ~3e-5 of sum |w x| (tools/nf4_bench.cu checks 1e-4).
// It is launched as a programmatic dependent of the previous kernel: barrier set-up, the table
// and the first weight copies (weights are never written by a kernel) overlap that kernel's
// tail; x is read and y written only after griddepcontrol.wait.
// H200 (docs/benchmarks.md, "Tenth lease" and "Eleventh lease"): one token 1.18-1.36x the
// portable kernel on the Llama shapes with one CTA per tile (session 12); the wave of looping
// CTAs took 4096x14336 from 17.2-17.5 to 14.7 us and 8 tokens there from 71.8 to 32.7 us.
// Where the rest goes ("Twelfth lease", lab ablations at 4096x14336, one token): the same kernel
// with consumers that only release the stages takes 11.1 us (71 % of copy), so the copy
// skeleton itself, with its start-up and last partial wave of tiles, sits below 75 %; the
// lookups, mma and x loads add the remaining ~3 us (instruction issue, not bandwidth).
#include "nf4_gemv_tma.hpp"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string_view>

namespace hearth::backend_gpu {
namespace {

constexpr int kRows = 16;         // weight rows per CTA: the mma's M
constexpr int kGroupElems = 256;  // 4 NF4 blocks
constexpr int kGroupWords = 36;   // 4 x 36 bytes
// Words of the pair table: 256 entries of 32 per-lane copies; the one-token kernel spaces entries
// 64 words apart (the upper half unused) so that one byte_perm yields a lane's byte offset.
__host__ __device__ constexpr int table_words(bool multi) { return 256 * (multi ? 32 : 64); }

__host__ __device__ constexpr int64_t padded_cols(int64_t n_in, int gps) {
  return (n_in + int64_t{kGroupElems} * gps - 1) / (int64_t{kGroupElems} * gps) *
         (int64_t{kGroupElems} * gps);
}

constexpr int kMaxTokens = 8;  // the mma's N
// Halves between two tokens' rows of x in shared memory: 32 more than the padded row, so the 8
// tokens' 16-byte reads of one column fall in different banks.
__host__ __device__ constexpr int64_t x_stride(int64_t n_pad) { return n_pad + 32; }

// Bytes of x in shared memory: nt rows of F16, rounded up to 128.
__host__ __device__ constexpr size_t x_bytes(int64_t n_in, int gps, int nt) {
  return (static_cast<size_t>(x_stride(padded_cols(n_in, gps))) * nt * 2 + 127) / 128 * 128;
}

// Bytes of one stage of the ring: 16 rows x GPS groups.
template <int GPS>
constexpr size_t stage_bytes() {
  return size_t{kRows} * GPS * kGroupWords * 4;
}

// Shared memory of one CTA: table | x | ring stage buffers | 2 x ring mbarriers | row partials
// (C x 16 rows x 8 tokens) | per-warp max |x| (C) | per-token 2^-k (8).
template <int GPS, int C, bool kMulti>
constexpr size_t fixed_smem_bytes(int64_t n_in, int nt) {
  return size_t{4} * table_words(kMulti) + x_bytes(n_in, GPS, nt) + C * kRows * kMaxTokens * 4 +
         C * 4 + kMaxTokens * 4;
}
template <int GPS, int C, bool kMulti>
constexpr size_t smem_bytes(int64_t n_in, int nt, int ring) {
  return fixed_smem_bytes<GPS, C, kMulti>(n_in, nt) + size_t(ring) * (stage_bytes<GPS>() + 16);
}

struct GemvArgs {
  int n_rows;
  int n_in;
  int nt;          // tokens, 1..8
  const float* x;  // token t's row at x + t * x_row
  int64_t x_row;   // floats
  float* y;        // token t's outputs at y + t * y_row
  int64_t y_row;   // floats
  int ring;        // stages in the ring of weight copies
};

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(count)
               : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(bar)) : "memory");
}

__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)),
               "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        " selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_addr(bar)), "r"(parity)
        : "memory");
  } while (!done);
}

// Box (words c0.., rows c1..) of the weight's tensor map into dst; completes on bar.
__device__ __forceinline__ void copy_box(void* dst, const CUtensorMap* map, int c0, int c1,
                                         uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];" ::"r"(smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(smem_addr(bar))
      : "memory");
}

// A barrier for the consumer warps only (the producer warp runs on).
__device__ __forceinline__ void consumers_sync(int n_threads) {
  asm volatile("bar.sync 1, %0;" ::"r"(n_threads) : "memory");
}

__device__ __forceinline__ void mma_f16(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                        uint32_t a3, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9},"
      " {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// The F16 bits of code value (lane & 15), from immediates: a constant-memory table costs a cold
// cache miss at every CTA's start (measured ~0.8 us of start-up on an H200).
__device__ __forceinline__ uint32_t lane_code_f16(int lane) {
  constexpr float kValues[16] = HEARTH_NF4_CODEBOOK;
  const int code = lane & 15;
  float v = kValues[0];
#pragma unroll
  for (int c = 1; c < 16; ++c) v = code == c ? kValues[c] : v;
  return __half_as_ushort(__float2half_rn(v));
}

// The pair table: entry v (a code byte) for lane l at word (kWords / 256) v + l holds the F16
// values of the byte's high nibble (element 2j, low half) and low nibble (element 2j + 1, high
// half); with 64 words an entry, words 32-63 repeat 0-31 and go unread.
template <int kThreads, int kWords>
__device__ __forceinline__ void fill_pair_table(uint32_t* table, int tid, int lane) {
  const uint32_t code_h = lane_code_f16(lane);
  constexpr int kWordsPerEntry = kWords / 256;
  for (int i = tid; i < kWords / 4; i += kThreads) {
    const int v = i / (kWordsPerEntry / 4);
    const uint32_t lo = __shfl_sync(0xffffffffu, code_h, v >> 4);
    const uint32_t hi = __shfl_sync(0xffffffffu, code_h, v & 15);
    const uint32_t pair = lo | (hi << 16);
    reinterpret_cast<uint4*>(table)[i] = make_uint4(pair, pair, pair, pair);
  }
}

// x * 2^k as F16 into xh (zeros up to n_pad); returns 2^-k. Every consumer thread calls it. Up to
// kHeld float4 per thread stay in registers between the max and the store; longer rows read the
// rest again.
template <int kThreads, int C, int kHeld>
__device__ float convert_x(const float* __restrict__ x, int n_in, int n_pad, __half* xh,
                           float* warp_max_abs, int tid, int lane) {
  const int n4 = n_in / 4;
  const float4* x4 = reinterpret_cast<const float4*>(x);
  float4 held[kHeld];
#pragma unroll
  for (int j = 0; j < kHeld; ++j) {
    const int i = tid + j * kThreads;
    held[j] = i < n4 ? __ldg(x4 + i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }
  float m = 0.0f;
  bool finite = true;
  const auto visit = [&](const float4& v) {
    m = fmaxf(m, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
    finite = finite && isfinite(v.x) && isfinite(v.y) && isfinite(v.z) && isfinite(v.w);
  };
#pragma unroll
  for (int j = 0; j < kHeld; ++j) visit(held[j]);
  for (int i = tid + kHeld * kThreads; i < n4; i += kThreads) visit(__ldg(x4 + i));
    // A NaN or infinite x keeps scale 1 and reaches y as it would in F32.
#pragma unroll
  for (int mask = 16; mask > 0; mask >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, mask));
  finite = __all_sync(0xffffffffu, finite);
  if (lane == 0) warp_max_abs[tid / 32] = finite ? m : -1.0f;
  consumers_sync(kThreads);
  float max_abs = 0.0f;
  bool all_finite = true;
#pragma unroll
  for (int w = 0; w < C; ++w) {
    const float v = warp_max_abs[w];
    all_finite = all_finite && v >= 0.0f;
    max_abs = fmaxf(max_abs, v);
  }
  int k = 0;
  if (all_finite && max_abs > 0.0f) {
    int e = 0;
    frexpf(max_abs, &e);  // max_abs = f * 2^e, f in [0.5, 1)
    k = 14 - e;
    k = k < -100 ? -100 : (k > 100 ? 100 : k);
  }
  const float scale = ldexpf(1.0f, k);
  const auto store = [&](int i, const float4& v) {
    const __half2 a = __floats2half2_rn(v.x * scale, v.y * scale);
    const __half2 b = __floats2half2_rn(v.z * scale, v.w * scale);
    reinterpret_cast<uint2*>(xh)[i] =
        make_uint2(*reinterpret_cast<const uint32_t*>(&a), *reinterpret_cast<const uint32_t*>(&b));
  };
#pragma unroll
  for (int j = 0; j < kHeld; ++j) {
    const int i = tid + j * kThreads;
    if (i < n_pad / 4) store(i, held[j]);
  }
  for (int i = tid + kHeld * kThreads; i < n_pad / 4; i += kThreads)
    store(i, i < n4 ? __ldg(x4 + i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f));
  return ldexpf(1.0f, -k);
}

#endif  // __CUDA_ARCH__ >= 900

// Tile t is rows [16 t, 16 t + 16); CTA b takes tiles b, b + grid, ... Warps 0..C-1 consume, warp C
// produces. Consumer warp w takes blocks w, w + C, ... of each stage (4 GPS blocks); within a
// block, lane (g, q) holds code words 1 + q and 5 + q of rows g and g + 8, which map to the mma's A
// fragment so that its k index runs over elements 8q..8q+7 and 32+8q..32+8q+7, and reads the
// matching 8 + 8 halves of token g's x (zeros for g >= nt); its results are tokens 2q and 2q + 1 of
// rows g and g + 8. Resident CTAs per SM the register budget of the 1-8 token kernel is sized for.
// The one-token kernel is left to the compiler, as it was when measured fastest.
constexpr int blocks_per_sm(int consumers, bool multi) {
  return multi ? (consumers >= 12 ? 2 : 3) : 1;
}

// kMulti: 1-8 tokens; otherwise exactly one, with every lane reading token 0's x and only column
// 0 of the mma kept (one token through the general kernel measured 2-8 % slower on an H200).
// kLongRows (one token, rows of more than 4096 columns, where a CTA has its SM to itself): x
// conversion holds 10 float4 a thread instead of 8, so rows of up to 15360 columns are read
// once, not twice (14336x4096: 13.10 -> 12.66-12.78 us, "Fifteenth lease"); at 4096 columns the
// extra registers would keep two CTAs from sharing an SM.
template <int GPS, int C, bool kMulti, bool kLongRows = false>
__global__ void __launch_bounds__(32 * (C + 1), blocks_per_sm(C, kMulti))
    nf4_gemv_tma_kernel(const __grid_constant__ CUtensorMap weights, const GemvArgs args) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert((4 * GPS) % C == 0, "consumer warps divide a stage's blocks");
  constexpr int kBlocksPerWarp = 4 * GPS / C;
  constexpr int kConsumerThreads = 32 * C;
  // Words per stage row; 4 * odd (mod 32) puts 8 rows' code words q of a block in 32 banks.
  constexpr int kPitch = GPS * kGroupWords;
  static_assert(kPitch % 32 % 8 == 4, "stage rows would conflict");
  constexpr int kStageWords = kRows * kPitch;
  constexpr uint32_t kStageBytes = kStageWords * 4;

  extern __shared__ __align__(128) unsigned char smem[];
  const int n_pad = static_cast<int>(padded_cols(args.n_in, GPS));
  const int xs = static_cast<int>(x_stride(n_pad));
  uint32_t* table = reinterpret_cast<uint32_t*>(smem);
  constexpr int kTableWords = table_words(kMulti);
  __half* xh = reinterpret_cast<__half*>(smem + kTableWords * 4);
  uint32_t* stages =
      reinterpret_cast<uint32_t*>(smem + kTableWords * 4 + x_bytes(args.n_in, GPS, args.nt));
  const int ring = args.ring;
  uint64_t* full = reinterpret_cast<uint64_t*>(stages + ring * kStageWords);
  uint64_t* empty = full + ring;
  float* row_partial = reinterpret_cast<float*>(empty + ring);  // [C][16 rows][8 tokens]
  float* warp_max_abs = row_partial + C * kRows * kMaxTokens;
  float* unscale = warp_max_abs + C;

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int n_stages = n_pad / (kGroupElems * GPS);
  const int n_tiles = (args.n_rows + kRows - 1) / kRows;

  if (tid == 0) {
    for (int s = 0; s < ring; ++s) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], C);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");

  if (warp == C) {  // producer: weights only, which no kernel writes, so no wait for the prior one
    if (lane == 0) {
      int s = 0;
      int round = 0;  // times the ring has wrapped
      for (int tile = static_cast<int>(blockIdx.x); tile < n_tiles;
           tile += static_cast<int>(gridDim.x)) {
        for (int st = 0; st < n_stages; ++st) {
          if (round > 0) mbar_wait(&empty[s], (round - 1) & 1);
          mbar_arrive_expect_tx(&full[s], kStageBytes);
          copy_box(stages + s * kStageWords, &weights, st * GPS * kGroupWords, tile * kRows,
                   &full[s]);
          if (++s == ring) s = 0, ++round;
        }
      }
    }
    return;
  }

  fill_pair_table<kConsumerThreads, kTableWords>(table, tid, lane);
  asm volatile("griddepcontrol.wait;" ::: "memory");  // x is the previous kernel's output
  float unscale_one = 1.0f;                           // one token: 2^-k in a register
  if constexpr (kMulti) {
    constexpr int kHeldMulti = C >= 12 ? 4 : 8;  // registers for the 8-token accumulators
    for (int t = 0; t < args.nt; ++t) {
      const float u = convert_x<kConsumerThreads, C, kHeldMulti>(
          args.x + t * args.x_row, args.n_in, n_pad, xh + t * xs, warp_max_abs, tid, lane);
      if (tid == 0) unscale[t] = u;
      consumers_sync(kConsumerThreads);  // warp_max_abs is reused by the next token
    }
  } else {
    constexpr int kHeldOne = kLongRows ? 10 : 8;
    unscale_one = convert_x<kConsumerThreads, C, kHeldOne>(args.x, args.n_in, n_pad, xh,
                                                           warp_max_abs, tid, lane);
    consumers_sync(kConsumerThreads);
  }

  const int g = lane / 4;
  const int q = lane % 4;
  const bool has_token = !kMulti || g < args.nt;
  const __half* x_lane = xh + (kMulti && has_token ? g : 0) * xs + 8 * q;
  const auto pair = [&](uint32_t word, int byte) {
    if constexpr (kMulti) {
      return table[__byte_perm(word, 0u, 0x4440u + static_cast<unsigned>(byte)) * 32 + lane];
    } else {
      // Byte offset 256 * code byte + 4 * lane in one byte_perm (byte 0 from 4 * lane, byte 1
      // the code byte, bytes 2-3 zero): a lookup is two instructions instead of four (1.08-1.11x
      // on the Llama shapes, "Twelfth lease"); the table takes 64 KB instead of 32.
      const uint32_t offset = __byte_perm(word, static_cast<uint32_t>(lane) * 4u,
                                          0x5504u | (static_cast<unsigned>(byte) << 4));
      return *reinterpret_cast<const uint32_t*>(reinterpret_cast<const unsigned char*>(table) +
                                                offset);
    }
  };
  int s = 0;
  int round = 0;
  for (int tile = static_cast<int>(blockIdx.x); tile < n_tiles;
       tile += static_cast<int>(gridDim.x)) {
    const int row0 = tile * kRows;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // rows g, g, g + 8, g + 8; tokens 2q, 2q + 1
    for (int st = 0; st < n_stages; ++st) {
      mbar_wait(&full[s], round & 1);
#pragma unroll
      for (int j = 0; j < kBlocksPerWarp; ++j) {
        const int block = warp + j * C;
        const uint32_t* rg = stages + s * kStageWords + g * kPitch + block * 9;
        const uint32_t* rg8 = rg + 8 * kPitch;
        const float d_g = __uint_as_float(rg[0]);
        const float d_g8 = __uint_as_float(rg8[0]);
        const uint32_t u0 = rg[1 + q], u1 = rg[5 + q];
        const uint32_t v0 = rg8[1 + q], v1 = rg8[5 + q];
        const int k0 = st * GPS * kGroupElems + block * 64;
        uint4 xa = make_uint4(0u, 0u, 0u, 0u);
        uint4 xb = xa;
        if (has_token) {
          xa = *reinterpret_cast<const uint4*>(x_lane + k0);
          xb = *reinterpret_cast<const uint4*>(x_lane + k0 + 32);
        }
        if (j == kBlocksPerWarp - 1) {  // everything of this stage is in registers
          __syncwarp();
          if (lane == 0) mbar_arrive(&empty[s]);
        }
        // Two chains of two mma each instead of one of four: a warp holds one block a stage, so
        // the chain's latency is not hidden by other blocks (1.00-1.03x, "Thirteenth lease").
        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        float e[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        mma_f16(c, pair(u0, 0), pair(v0, 0), pair(u0, 1), pair(v0, 1), xa.x, xa.y);
        mma_f16(e, pair(u0, 2), pair(v0, 2), pair(u0, 3), pair(v0, 3), xa.z, xa.w);
        mma_f16(c, pair(u1, 0), pair(v1, 0), pair(u1, 1), pair(v1, 1), xb.x, xb.y);
        mma_f16(e, pair(u1, 2), pair(v1, 2), pair(u1, 3), pair(v1, 3), xb.z, xb.w);
        acc[0] = fmaf(c[0] + e[0], d_g, acc[0]);
        acc[2] = fmaf(c[2] + e[2], d_g8, acc[2]);
        if constexpr (kMulti) {
          acc[1] = fmaf(c[1] + e[1], d_g, acc[1]);
          acc[3] = fmaf(c[3] + e[3], d_g8, acc[3]);
        }
      }
      if (++s == ring) s = 0, ++round;
    }
    if constexpr (kMulti) {
      float* mine = row_partial + warp * kRows * kMaxTokens;
      mine[g * kMaxTokens + 2 * q] = acc[0];
      mine[g * kMaxTokens + 2 * q + 1] = acc[1];
      mine[(g + 8) * kMaxTokens + 2 * q] = acc[2];
      mine[(g + 8) * kMaxTokens + 2 * q + 1] = acc[3];
      consumers_sync(kConsumerThreads);
      for (int o = tid; o < kRows * args.nt; o += kConsumerThreads) {
        const int r = o / args.nt;
        const int t = o % args.nt;
        if (row0 + r >= args.n_rows) continue;
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < C; ++w) sum += row_partial[(w * kRows + r) * kMaxTokens + t];
        args.y[t * args.y_row + row0 + r] = sum * unscale[t];
      }
    } else {
      if (q == 0) {
        row_partial[warp * kRows + g] = acc[0];
        row_partial[warp * kRows + g + 8] = acc[2];
      }
      consumers_sync(kConsumerThreads);
      if (tid < kRows && row0 + tid < args.n_rows) {
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < C; ++w) sum += row_partial[w * kRows + tid];
        args.y[row0 + tid] = sum * unscale_one;
      }
    }
    consumers_sync(kConsumerThreads);  // row_partial is rewritten by the next tile
  }
#else
  static_cast<void>(weights);
  static_cast<void>(args);
#endif
}

// The driver's tensor-map encoder, looked up once through the runtime (the plugin links no
// libcuda); null where the driver has none.
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 encoder = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
#if CUDART_VERSION >= 12050
    const cudaError_t err = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000,
                                                             cudaEnableDefault, &found);
#else
    const cudaError_t err =
        cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &fn, cudaEnableDefault, &found);
#endif
    static_cast<void>(cudaGetLastError());
    return err == cudaSuccess && found == cudaDriverEntryPointSuccess
               ? reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn)
               : nullptr;
  }();
  return encoder;
}

// CTAs of kernel that fit an SM by threads and registers alone (0 if the runtime cannot say).
template <class Kernel>
int ctas_per_sm_by_registers(Kernel kernel, int threads) {
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, 0) != cudaSuccess) n = 0;
  static_cast<void>(cudaGetLastError());
  return n;
}

// Launches with a ring of max_ring stages (fewer where a CTA's tiles take fewer), sized so that
// ctas_per_sm CTAs fit an SM, or fewer CTAs where they would not. Depth is a trade: a deeper ring
// keeps more weight bytes in flight, a smaller CTA leaves room on the SM for the next kernel's
// CTAs to start early; rings filling the SM measured up to 30 % slower back to back than the
// depths chosen below (docs/benchmarks.md, "Twelfth lease").
template <int GPS, int C, bool kMulti, bool kLongRows = false>
std::optional<cudaError_t> launch(const hearth_op& op, cudaStream_t stream, int ctas_per_sm,
                                  int max_ring) {
  const hearth_tensor& w = op.src[0];
  auto* kernel = nf4_gemv_tma_kernel<GPS, C, kMulti, kLongRows>;
  int device = 0;
  int max_smem = 0;
  int smem_per_sm = 0;
  int reserved_per_cta = 0;
  int sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
          cudaSuccess ||
      cudaDeviceGetAttribute(&smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) !=
          cudaSuccess ||
      cudaDeviceGetAttribute(&reserved_per_cta, cudaDevAttrReservedSharedMemoryPerBlock, device) !=
          cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return std::nullopt;
  }
  const int nt = static_cast<int>(op.src[1].ne[1]);
  // Threads and registers limit CTAs per SM the same way at every launch (asked once).
  static const int resident_by_registers = ctas_per_sm_by_registers(kernel, 32 * (C + 1));
  const int64_t n_tiles = (w.ne[1] + kRows - 1) / kRows;
  const int64_t stages_per_tile = padded_cols(w.ne[0], GPS) / (kGroupElems * GPS);
  const int64_t fixed = static_cast<int64_t>(fixed_smem_bytes<GPS, C, kMulti>(w.ne[0], nt));
  const int64_t per_stage = static_cast<int64_t>(stage_bytes<GPS>()) + 16;
  // Sized for ctas_per_sm CTAs an SM, or fewer where max_ring stages would not fit beside x.
  int64_t ring = 0;
  for (int64_t ctas = std::max<int64_t>(1, std::min<int64_t>(ctas_per_sm, resident_by_registers));
       ctas >= 1; --ctas) {
    const int64_t budget = std::min<int64_t>(max_smem, smem_per_sm / ctas - reserved_per_cta);
    const int64_t tiles_per_cta = (n_tiles + ctas * sms - 1) / (ctas * sms);
    const int64_t wanted =
        std::min<int64_t>(max_ring, std::max<int64_t>(2, tiles_per_cta * stages_per_tile));
    ring = std::min<int64_t>(wanted, (budget - fixed) / per_stage);
    if (ring == wanted) break;
  }
  if (ring < 2) return std::nullopt;  // very long rows, or x of many tokens
  const size_t smem = smem_bytes<GPS, C, kMulti>(w.ne[0], nt, static_cast<int>(ring));
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (encode == nullptr) return std::nullopt;

  // The weight as a 2-D array of 32-bit words: (n_in / 64 * 9) x n_rows, rows nb[1] bytes apart.
  CUtensorMap map{};
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(w.ne[0] / 64 * 9),
                              static_cast<cuuint64_t>(w.ne[1])};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(w.nb[1])};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(GPS * kGroupWords),
                             static_cast<cuuint32_t>(kRows)};
  const cuuint32_t element_strides[2] = {1, 1};
  if (encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT32, 2, w.data, dims, strides, box, element_strides,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return std::nullopt;

  const GemvArgs args{static_cast<int>(w.ne[1]),
                      static_cast<int>(w.ne[0]),
                      nt,
                      static_cast<const float*>(op.src[1].data),
                      op.src[1].nb[1] / 4,
                      static_cast<float*>(op.dst.data),
                      op.dst.nb[1] / 4,
                      static_cast<int>(ring)};
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  // One wave of CTAs, each looping over tiles (a second partial wave would double the time of
  // its SMs).
  const int64_t resident = std::min<int64_t>(
      resident_by_registers,
      smem_per_sm / static_cast<int64_t>(smem + static_cast<size_t>(reserved_per_cta)));
  const int64_t slots = std::max<int64_t>(1, resident * sms);
  const int64_t grid = std::min(n_tiles, slots);
  config.gridDim = dim3(static_cast<unsigned>(grid));
  config.blockDim = dim3(32 * (C + 1));
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  const cudaError_t err = cudaLaunchKernelEx(&config, kernel, map, args);
  if (err == cudaErrorInvalidValue) {  // its shared memory was not granted: the portable kernels
    static_cast<void>(cudaGetLastError());
    return std::nullopt;
  }
  return err;
}

bool aligned(const void* p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

}  // namespace

cudaError_t prepare_nf4_gemv_tma() {
#if defined(HEARTH_CUDA_SM90_CODE)
  int device = 0;
  int major = 0;
  int max_smem = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (err != cudaSuccess || major < 9) return err;
  for (auto* kernel : {nf4_gemv_tma_kernel<1, 4, true>, nf4_gemv_tma_kernel<3, 12, false>,
                       nf4_gemv_tma_kernel<3, 12, false, true>, nf4_gemv_tma_kernel<3, 12, true>}) {
    if (err == cudaSuccess)
      err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, max_smem);
  }
  return err;
#else
  return cudaSuccess;
#endif
}

std::optional<cudaError_t> try_launch_nf4_gemv_tma(const hearth_op& op, cudaStream_t stream) {
#if !defined(HEARTH_CUDA_SM90_CODE)
  // Built without sm_90 code: the kernel's body is empty for every target built.
  static_cast<void>(op);
  static_cast<void>(stream);
  return std::nullopt;
#else
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const hearth_tensor& y = op.dst;
  const int64_t n_in = w.ne[0];
  const int64_t n_rows = w.ne[1];
  const int64_t n_tok = x.ne[1];
  if (n_tok < 1 || n_tok > kMaxTokens || x.ne[2] != 1 || x.ne[3] != 1 || y.ne[2] != 1 ||
      y.ne[3] != 1)
    return std::nullopt;
  // HEARTH_CUDA_NF4_GEMV=portable: the portable kernel instead (A/B measurements).
  // Read once: the switch is for whole runs, and this is on every decode matmul.
  static const bool portable_only = [] {
    const char* choice = std::getenv("HEARTH_CUDA_NF4_GEMV");
    return choice != nullptr && std::string_view(choice) == "portable";
  }();
  if (portable_only) return std::nullopt;
  if (n_in % kGroupElems != 0 || n_in > (int64_t{1} << 24) || n_rows > (int64_t{1} << 30))
    return std::nullopt;
  if (w.ne[2] != 1 || w.ne[3] != 1 || w.nb[1] != n_in / 64 * 36 || !aligned(w.data, 16))
    return std::nullopt;
  if (x.nb[0] != 4 || !aligned(x.data, 16) || x.nb[1] % 16 != 0 || y.nb[0] != 4 || y.nb[1] % 4 != 0)
    return std::nullopt;
  int device = 0;
  int major = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return std::nullopt;
  }
  if (major < 9) return std::nullopt;
  // One token: three groups per stage, 12 consumer warps, a ring of 4 stages for rows of up to
  // 4096 columns (two CTAs fit an SM) and of 8 for longer rows (one CTA). 2-8 tokens: rows of up
  // to 4096 columns one group per stage, 4 consumer warps, 8 stages (3 CTAs an SM); longer rows
  // as one token's. Fastest of the labs' sweeps (sessions 12 and 15) at 4096x14336 / 14336x4096 /
  // 4096x4096 / 4096x11008 / 11008x4096. Tokens whose x does not fit in shared memory next to the
  // table go to the portable kernels.
  if (n_tok == 1) {
    return n_in <= 4096 ? launch<3, 12, false>(op, stream, 1, 4)
                        : launch<3, 12, false, true>(op, stream, 1, 8);
  }
  if (n_in <= 4096) return launch<1, 4, true>(op, stream, 3, 8);
  return launch<3, 12, true>(op, stream, 1, 4);
#endif
}

}  // namespace hearth::backend_gpu
