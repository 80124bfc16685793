// The quantized weight types MATMUL reads, as ggml's CPU backend computes them: the activation
// column is first quantized to the weight type's vec_dot_type (Q8_0, Q8_1 or Q8_K), then each
// weight row is dotted with it block by block in integers, scaled by the blocks' float scales.
//
// Every type has a scalar kernel (ggml's generic vec_dot, the reference) and, where the CPU has
// AVX2+FMA+F16C, a SIMD kernel that computes the same integer block sums (float accumulation
// order may differ). quant_type_kernels() picks once per process from CPUID and HEARTH_CPU_ISA.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "quant_tiles.hpp"

namespace hearth::backend_cpu {

// n elements of a weight row (raw blocks) dotted with n activations quantized to the matching
// activation blocks. n is a multiple of the weight type's block size.
using QuantDotFn = float (*)(int64_t n, const void* weight_row, const void* activation_row);
// Quantizes n floats (a multiple of the activation block size) to activation blocks.
using QuantizeRowFn = void (*)(const float* x, void* blocks, int64_t n);

struct QuantTypeKernels {
  hearth_dtype activation_dtype;  // HEARTH_DTYPE_Q8_0, Q8_1 or Q8_K
  int64_t activation_block_elems;
  int64_t activation_block_bytes;
  QuantizeRowFn quantize_activations;
  QuantDotFn dot;
  // Several rows times several tokens per call (quant_tiles.hpp); null where the type has none,
  // and MATMUL then calls dot per (row, token).
  QuantTileFn tile;
};

// Kernels for weight dtype (any of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K), or null.
// simd = false forces the scalar reference; the default uses AVX2 when the CPU has it.
const QuantTypeKernels* quant_type_kernels(hearth_dtype dtype);
const QuantTypeKernels* quant_type_kernels(hearth_dtype dtype, bool simd);

// The instruction sets the kernels are chosen for, each including the ones before it.
// avx512_vnni: AVX-512 F/BW/VL/VNNI (the interleaved-rows kernels, interleaved_avx512.hpp).
enum class CpuIsa { scalar, avx2, avx512_vnni };

// "scalar", "avx2", "avx512": the names HEARTH_CPU_ISA takes; nullopt for any other string.
std::optional<CpuIsa> parse_cpu_isa(std::string_view name);
const char* cpu_isa_name(CpuIsa isa);

// What the process runs: the best the CPU has, lowered to the HEARTH_CPU_ISA environment variable
// where set (so one machine can A/B the paths). note is what to tell the user: an unknown value
// (ignored) or one above what the CPU has; empty otherwise.
struct CpuIsaChoice {
  CpuIsa isa;
  std::string note;
};
CpuIsaChoice choose_cpu_isa(CpuIsa detected, const char* requested);

// This process's choice: CPUID and HEARTH_CPU_ISA, read once.
const CpuIsaChoice& cpu_isa_choice();

// True when this process runs the AVX2+FMA+F16C kernels (cpu_isa_choice()).
bool cpu_has_avx2();
// True when it also runs the AVX-512 VNNI kernels (AVX-512 F, BW, VL and VNNI on this CPU).
bool cpu_has_avx512_vnni();

// Bytes of n activations quantized for weight dtype (0 when dtype is not quantized).
int64_t activation_row_bytes(hearth_dtype dtype, int64_t n);

// ggml's quantize_row_q8_0_ref / q8_1_ref / q8_K_ref.
void quantize_row_q8_0(const float* x, void* blocks, int64_t n);
void quantize_row_q8_1(const float* x, void* blocks, int64_t n);
void quantize_row_q8_k(const float* x, void* blocks, int64_t n);

// Scalar references (ggml's *_generic vec_dot).
float dot_q4_0_q8_0(int64_t n, const void* w, const void* a);
float dot_q4_1_q8_1(int64_t n, const void* w, const void* a);
float dot_q5_0_q8_0(int64_t n, const void* w, const void* a);
float dot_q5_1_q8_1(int64_t n, const void* w, const void* a);
float dot_q8_0_q8_0(int64_t n, const void* w, const void* a);
float dot_q2_k_q8_k(int64_t n, const void* w, const void* a);
float dot_q3_k_q8_k(int64_t n, const void* w, const void* a);
float dot_q4_k_q8_k(int64_t n, const void* w, const void* a);
float dot_q5_k_q8_k(int64_t n, const void* w, const void* a);
float dot_q6_k_q8_k(int64_t n, const void* w, const void* a);

// AVX2+FMA+F16C versions; call only when cpu_has_avx2().
float dot_q4_0_q8_0_avx2(int64_t n, const void* w, const void* a);
float dot_q4_1_q8_1_avx2(int64_t n, const void* w, const void* a);
float dot_q5_0_q8_0_avx2(int64_t n, const void* w, const void* a);
float dot_q5_1_q8_1_avx2(int64_t n, const void* w, const void* a);
float dot_q8_0_q8_0_avx2(int64_t n, const void* w, const void* a);
float dot_q2_k_q8_k_avx2(int64_t n, const void* w, const void* a);
float dot_q3_k_q8_k_avx2(int64_t n, const void* w, const void* a);
float dot_q4_k_q8_k_avx2(int64_t n, const void* w, const void* a);
float dot_q5_k_q8_k_avx2(int64_t n, const void* w, const void* a);
float dot_q6_k_q8_k_avx2(int64_t n, const void* w, const void* a);

}  // namespace hearth::backend_cpu
