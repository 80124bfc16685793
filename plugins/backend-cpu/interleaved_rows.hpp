// Weight rows interleaved eight at a time for the decode GEMV and the prompt GEMM (llama.cpp's
// CPU "repack" idea): block ib of eight consecutive rows is stored as one group block, its eight
// fp16 scales first (one F16C conversion gives all eight) and then the quants 4 bytes per row in
// turn, so that a 32-byte load holds 4 quant bytes of each of the 8 rows and an activation word
// broadcast to all lanes multiplies all 8 rows at once. Each int32 lane then sums one row: the 8
// results of a step land in one vector, with no horizontal sums.
//
// Q4_0: qs[32 j + 4 r + b] = row r's qs[4 j + b] (j < 4): its low nibble is element 4 j + b and
// its high nibble element 16 + 4 j + b, as in the row's own block. Q8_0: qs[32 j + 4 r + b] =
// row r's qs[4 j + b] (j < 8). Group blocks are exactly 8 row blocks long.
//
// Q5_0: Q4_0's group block with the fifth bits between the scales and the quants, transposed at
// repack time so that the kernels place them as Q5_K's: qh[4 r + b] = row r's bits with bit 2 j
// the fifth bit of element 4 j + b (the low nibble of quants word j, byte b) and bit 2 j + 1
// that of element 16 + 4 j + b (its high nibble), j < 4. The kernels take levels 0..31 and the
// row's -16 off once per block as 16 * sum(activation quants) = 2 * sum8. Group blocks are
// exactly 8 row blocks long.
//
// Q4_1: Q4_0's group block with the 8 rows' mins m after their scales. The kernels take
// d * sum(level * a) + m * s per block, s the Q8_1 activation block's d * sum(quants). Q5_1:
// Q4_1's with Q5_0's transposed fifth bits between the mins and the quants.
//
// Q2_K: the 8 rows' d and dmin, then their sixteen scale bytes (scale in the low nibble, min in
// the high) as [16-element group][row], then the 2-bit quants as Q3_K's: qs[256 h + 32 j + 4 r +
// b] = row r's qs[32 h + 4 j + b], whose bits 2 k, 2 k + 1 are element 128 h + 32 k + 4 j + b.
// The scale bytes stay packed (one mask or shift apart per use): unpacked they would make the
// group block 128 bytes longer, a fifth more for decode to stream. Group blocks are exactly 8
// row blocks long.
//
// Q3_K: the 8 rows' d, then their sixteen scales unpacked at repack time to int8 (-32..31) as
// [16-element group][row], then the high bits hmask[32 j + 4 r + b] = row r's hmask[4 j + b]
// (j < 8), then the 2-bit quants qs[256 h + 32 j + 4 r + b] = row r's qs[32 h + 4 j + b] (h < 2,
// j < 8), whose bits 2 k, 2 k + 1 are element 128 h + 32 k + 4 j + b and whose high bit is bit
// 4 h + k of the hmask byte at the same place. The kernels take levels 0..7 (the quant with the
// high bit as bit 2) and the row's -4 off once per super-block through the Q8_K bsums, as Q6_K
// takes its -32. The hmask (read by both halves) comes first, so the walk through memory is
// forward; the second half reads it from L1. The group block is 32 bytes longer than 8 row
// blocks (unpacked scales).
//
// Q4_K: one group block per 256-element super-block, the 8 rows' d and dmin (F16C converts each
// set at once), then the 6-bit scales and mins unpacked at repack time to bytes the kernel widens
// directly, then the quants: qs[256 p + 32 j + 4 r + b] = row r's qs[32 p + 4 j + b] (p < 4,
// j < 8), whose low nibble is element 64 p + 4 j + b and high nibble element 64 p + 32 + 4 j + b.
// The group block is 32 bytes longer than 8 row blocks (unpacked scales).
//
// Q5_K: Q4_K's group block with the fifth bits between the mins and the quants: qh[32 j + 4 r +
// b] = row r's qh[4 j + b] (j < 8), whose bit s is the fifth bit of the element that quants byte
// 4 j + b of sub-block s holds (low nibbles for even s, high for odd). A kernel walking the
// quants quarter by quarter reads the 256 qh bytes once from memory (they come first, so the
// walk stays forward) and then from L1, and one 16-bit shift and a byte mask put bit s at bit 4.
//
// Q6_K: the 8 rows' d, then their sixteen int8 scales as [16-element group][row], then the quants
// in the order the kernel reads them (out of cache, a strictly forward walk is what keeps the
// hardware prefetcher ahead): for each half h and word j < 8, row r's ql word 16 h + j, its ql
// word 16 h + 8 + j and its qh word 8 h + j, each as the legacy types' quants (4 bytes per row in
// turn); the kernel decodes the 6-bit levels exactly as the row's own block does.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

#include "quant_blocks.hpp"

namespace hearth::backend_cpu {

inline constexpr int kInterleavedRows = 8;

struct BlockQ4_0x8 {
  Half d[kInterleavedRows];
  uint8_t qs[kInterleavedRows * kQK / 2];
};
struct BlockQ4_1x8 {
  Half d[kInterleavedRows];
  Half m[kInterleavedRows];
  uint8_t qs[kInterleavedRows * kQK / 2];
};
struct BlockQ5_1x8 {
  Half d[kInterleavedRows];
  Half m[kInterleavedRows];
  uint8_t qh[4 * kInterleavedRows];  // as BlockQ5_0x8's
  uint8_t qs[kInterleavedRows * kQK / 2];
};
struct BlockQ5_0x8 {
  Half d[kInterleavedRows];
  uint8_t qh[4 * kInterleavedRows];  // [row, byte], transposed (above)
  uint8_t qs[kInterleavedRows * kQK / 2];
};
struct BlockQ8_0x8 {
  Half d[kInterleavedRows];
  int8_t qs[kInterleavedRows * kQK];
};
struct BlockQ2_Kx8 {
  Half d[kInterleavedRows];
  Half dmin[kInterleavedRows];
  uint8_t scales[kQK_K / 16][kInterleavedRows];  // [16-element group][row]: min << 4 | scale
  uint8_t qs[2][8][4 * kInterleavedRows];        // [half][word][row, byte]
};
struct BlockQ3_Kx8 {
  Half d[kInterleavedRows];
  int8_t scales[kQK_K / 16][kInterleavedRows];
  uint8_t hmask[8][4 * kInterleavedRows];  // [word][row, byte]
  uint8_t qs[2][8][4 * kInterleavedRows];  // [half][word][row, byte]
};
struct BlockQ4_Kx8 {
  Half d[kInterleavedRows];
  Half dmin[kInterleavedRows];
  uint8_t scales[8][kInterleavedRows];   // [sub-block of 32][row]
  uint8_t mins[4][kInterleavedRows][2];  // [sub-block pair][row][sub-block in the pair]
  uint8_t qs[kInterleavedRows * kQK_K / 2];
};
struct BlockQ5_Kx8 {
  Half d[kInterleavedRows];
  Half dmin[kInterleavedRows];
  uint8_t scales[8][kInterleavedRows];   // as BlockQ4_Kx8's
  uint8_t mins[4][kInterleavedRows][2];  // as BlockQ4_Kx8's
  uint8_t qh[8][4 * kInterleavedRows];   // [word][row, byte]
  uint8_t qs[kInterleavedRows * kQK_K / 2];
};
struct BlockQ6_Kx8 {
  Half d[kInterleavedRows];
  int8_t scales[kQK_K / 16][kInterleavedRows];
  uint8_t q[2][8][3][4 * kInterleavedRows];  // [half][word][ql low, ql high, qh][row, byte]
};
static_assert(sizeof(BlockQ4_0x8) == 8 * sizeof(BlockQ4_0));
static_assert(sizeof(BlockQ4_1x8) == 8 * sizeof(BlockQ4_1));
static_assert(sizeof(BlockQ5_1x8) == 8 * sizeof(BlockQ5_1));
static_assert(sizeof(BlockQ5_0x8) == 8 * sizeof(BlockQ5_0));
static_assert(sizeof(BlockQ6_Kx8) == 8 * sizeof(BlockQ6_K));
static_assert(sizeof(BlockQ2_Kx8) == 8 * sizeof(BlockQ2_K));
static_assert(sizeof(BlockQ3_Kx8) == 8 * sizeof(BlockQ3_K) + 32);
static_assert(sizeof(BlockQ4_Kx8) == 8 * sizeof(BlockQ4_K) + 32);
static_assert(sizeof(BlockQ5_Kx8) == 8 * sizeof(BlockQ5_K) + 32);
static_assert(sizeof(BlockQ8_0x8) == 8 * sizeof(BlockQ8_0));

// Per activation block of a Q8_0 (Q8_1) activation row, what the interleaved kernels take instead
// of recomputing it for every group of rows: the scale as a float and 8 * sum(qs) (Q4_0's offset of
// 8 is subtracted as 8 * sum(qs) once per block rather than per element; the AVX-512 Q8_0 kernels
// take their weights' bias of 128 off as 16 * sum8, Q5_0's its offset of 16 as 2 * sum8). Of a Q8_1
// row, the scale and s (the block's d * sum(qs), its min's partner) as floats; sum8 is 0 there.
struct ActivationBlockInfo {
  float d;
  int32_t sum8;
  float s = 0.0f;
};
void describe_q8_0_row(const void* blocks, ActivationBlockInfo* info, int64_t n_blocks);
void describe_q8_1_row(const void* blocks, ActivationBlockInfo* info, int64_t n_blocks);

// Fills info (n_in / 32 entries) for the kernel of weight type dtype where it takes any: the
// K-quant kernels read their Q8_K activation blocks' own d and bsums and need none.
void describe_activations(hearth_dtype dtype, const void* activations, ActivationBlockInfo* info,
                          int64_t n_in);

// Bytes of one group of 8 rows of n_in elements, or 0 when dtype has no interleaved layout.
int64_t interleaved_group_bytes(hearth_dtype dtype, int64_t n_in);

// Writes the group block for 8 rows (row r at rows + r * row_stride) of n_in elements.
void interleave_rows(hearth_dtype dtype, const char* rows, int64_t row_stride, int64_t n_in,
                     void* group);

// out[r] = row r of the group dotted with the quantized activation row (Q8_0 blocks + their
// info). AVX2+FMA+F16C; call only when cpu_has_avx2().
using InterleavedGemvFn = void (*)(int64_t n_in, const void* group, const void* activations,
                                   const ActivationBlockInfo* info, float* out);
void gemv_q4_0x8_q8_0_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q4_1x8_q8_1_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q5_1x8_q8_1_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q5_0x8_q8_0_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q8_0x8_q8_0_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q2_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q3_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q4_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q5_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
void gemv_q6_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                           const ActivationBlockInfo* info, float* out);
// The same with AVX-512 VNNI (interleaved_gemv_avx512.cpp), bit-identical to the AVX2 ones; call
// only when cpu_has_avx512_vnni().
void gemv_q4_0x8_q8_0_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q4_1x8_q8_1_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q5_1x8_q8_1_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q5_0x8_q8_0_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q8_0x8_q8_0_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q2_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q3_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q4_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q5_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);
void gemv_q6_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                             const ActivationBlockInfo* info, float* out);

// The kernel for dtype's interleaved groups, or null (no layout, or no AVX2 on this CPU): the
// AVX-512 one where cpu_has_avx512_vnni(), else the AVX2 one.
InterleavedGemvFn interleaved_gemv(hearth_dtype dtype);

// Tokens per call of the prompt GEMM: kGemmTokens, or kGemmTokensNarrow for the last few tokens
// of a chunk. With eight tokens a weight word is unpacked once per eight multiplies; the AVX2
// kernels keep one word live at a time, so the eight tokens' integer sums hold the registers.
inline constexpr int kGemmTokens = 8;
inline constexpr int kGemmTokensNarrow = 4;

// res[t][r] = row r of the group dotted with token t's activation row (activations + t *
// act_stride bytes, its info at info + t * info_stride), t < n_tokens (kGemmTokens or
// kGemmTokensNarrow): the GEMV's arithmetic per token, so each value has the GEMV's bits
// (interleaved_gemm_avx2.cpp). AVX2+FMA+F16C.
using InterleavedGemmFn = void (*)(int64_t n_in, const void* group, const char* activations,
                                   int64_t act_stride, const ActivationBlockInfo* info,
                                   int64_t info_stride, int n_tokens,
                                   float (*res)[kInterleavedRows]);
// A prompt GEMM kernel written for one token count: InterleavedGemmFn without n_tokens.
using FixedWidthGemmFn = void (*)(int64_t n_in, const void* group, const char* activations,
                                  int64_t act_stride, const ActivationBlockInfo* info,
                                  int64_t info_stride, float (*res)[kInterleavedRows]);

// The InterleavedGemmFn over a kernel's kGemmTokens and kGemmTokensNarrow versions.
template <FixedWidthGemmFn Wide, FixedWidthGemmFn Narrow>
void gemm_by_width(int64_t n_in, const void* group, const char* activations, int64_t act_stride,
                   const ActivationBlockInfo* info, int64_t info_stride, int n_tokens,
                   float (*res)[kInterleavedRows]) {
  (n_tokens == kGemmTokens ? Wide : Narrow)(n_in, group, activations, act_stride, info, info_stride,
                                            res);
}

// The kernels (interleaved_gemm_avx2.cpp; AVX2+FMA+F16C) and their AVX-512 VNNI versions
// (interleaved_gemm_avx512.cpp; call only when cpu_has_avx512_vnni()).
extern const InterleavedGemmFn gemm_q4_0x8_q8_0_avx2;
extern const InterleavedGemmFn gemm_q4_1x8_q8_1_avx2;
extern const InterleavedGemmFn gemm_q5_1x8_q8_1_avx2;
extern const InterleavedGemmFn gemm_q5_0x8_q8_0_avx2;
extern const InterleavedGemmFn gemm_q8_0x8_q8_0_avx2;
extern const InterleavedGemmFn gemm_q2_kx8_q8_k_avx2;
extern const InterleavedGemmFn gemm_q3_kx8_q8_k_avx2;
extern const InterleavedGemmFn gemm_q4_kx8_q8_k_avx2;
extern const InterleavedGemmFn gemm_q5_kx8_q8_k_avx2;
extern const InterleavedGemmFn gemm_q6_kx8_q8_k_avx2;
extern const InterleavedGemmFn gemm_q4_0x8_q8_0_avx512;
extern const InterleavedGemmFn gemm_q4_1x8_q8_1_avx512;
extern const InterleavedGemmFn gemm_q5_1x8_q8_1_avx512;
extern const InterleavedGemmFn gemm_q5_0x8_q8_0_avx512;
extern const InterleavedGemmFn gemm_q8_0x8_q8_0_avx512;
extern const InterleavedGemmFn gemm_q2_kx8_q8_k_avx512;
extern const InterleavedGemmFn gemm_q3_kx8_q8_k_avx512;
extern const InterleavedGemmFn gemm_q4_kx8_q8_k_avx512;
extern const InterleavedGemmFn gemm_q5_kx8_q8_k_avx512;
extern const InterleavedGemmFn gemm_q6_kx8_q8_k_avx512;

// The prompt GEMM for dtype's interleaved groups, or null (as interleaved_gemv).
InterleavedGemmFn interleaved_gemm(hearth_dtype dtype);

}  // namespace hearth::backend_cpu
