// NF4 weight rows (plugins/format-nf4/README.md): blocks of 64 weights, a float32 absmax then 32
// bytes of 4-bit codes, element 2k in the high nibble (bitsandbytes' order), value =
// NF4[code] * absmax. Activations stay F32: NF4's code values are not integers, so a ggml-style
// integer dot against Q8 activations would have to round the table; the F32 dot is exact per
// product and reads the same weight bytes.
//
// Every kernel has a scalar version (the reference the tests hold the SIMD ones to), an AVX2+FMA
// version (16-entry table lookups with two vpermps and a blend per 8 codes) and an AVX-512 one
// (one vpermps per 16 codes); nf4_* below picks once from CPUID.
#pragma once

#include <cstdint>

namespace hearth::backend_cpu {

inline constexpr int64_t kNf4BlockElems = 64;
inline constexpr int64_t kNf4BlockBytes = 36;

// Row of n NF4 weights (n a multiple of 64) to n floats, bit-exact with format-nf4's reference.
void dequantize_row_nf4(const void* row, float* out, int64_t n);
void dequantize_row_nf4_avx2(const void* row, float* out, int64_t n);
void dequantize_row_nf4_avx512(const void* row, float* out, int64_t n);

// Fused GEMV step: dot product of an NF4 row of n weights with n F32 activations, without
// expanding the row: each block's 64 products are summed, then scaled by the block's absmax.
float dot_nf4_f32(int64_t n, const void* row, const float* x);
float dot_nf4_f32_avx2(int64_t n, const void* row, const float* x);
float dot_nf4_f32_avx512(int64_t n, const void* row, const float* x);

// The one-token GEMV of AVX-512 CPUs. A pair of blocks' 32 + 32 code bytes, as 16 dwords, holds
// in nibble j (bits 4j..4j+3) of dword i the code of element 8i + 2(j / 2) + (j even) of the
// pair; vpermps reads only the low 4 bits of each index, so 8 shifts and 8 vpermps decode 128
// codes, with no widening and no unpacking (the per-block kernel spends 24 shuffles on them, and
// shuffles were its limit). The activations are put in the same order once per product:
// xp[pair][j][i] = x[64 (2 pair + i / 8) + 8 (i % 8) + 2 (j / 2) + (j even)] for the first
// n / 128 pairs; an odd last block keeps the per-block kernel on x itself.
void nf4_pair_activations(const float* x, int64_t n, float* xp);
float dot_nf4_pairs_avx512(int64_t n, const void* row, const float* xp, const float* x);

// The kernels above: the widest the process runs (cpu_isa_choice()) when simd, else scalar.
void nf4_dequantize_row(const void* row, float* out, int64_t n, bool simd = true);
float nf4_dot(int64_t n, const void* row, const float* x, bool simd = true);

}  // namespace hearth::backend_cpu
