// Which activation type and kernels each quantized weight type uses (ggml's type_traits_cpu:
// vec_dot_type and vec_dot), with the SIMD kernel chosen once from CPUID (and HEARTH_CPU_ISA).
#include <cstdlib>

#include "quant_blocks.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {
namespace {

struct KernelPair {
  QuantTypeKernels scalar;
  QuantTypeKernels simd;
};

constexpr QuantTypeKernels q8_0(QuantDotFn dot, QuantTileFn tile = nullptr) {
  return {HEARTH_DTYPE_Q8_0, kQK, sizeof(BlockQ8_0), quantize_row_q8_0, dot, tile};
}
constexpr QuantTypeKernels q8_1(QuantDotFn dot, QuantTileFn tile = nullptr) {
  return {HEARTH_DTYPE_Q8_1, kQK, sizeof(BlockQ8_1), quantize_row_q8_1, dot, tile};
}
constexpr QuantTypeKernels q8_k(QuantDotFn dot, QuantTileFn tile = nullptr) {
  return {HEARTH_DTYPE_Q8_K, kQK_K, sizeof(BlockQ8_K), quantize_row_q8_k, dot, tile};
}

const KernelPair* kernel_pair(hearth_dtype dtype) {
  static constexpr KernelPair kQ4_0{q8_0(dot_q4_0_q8_0),
                                    q8_0(dot_q4_0_q8_0_avx2, tile_q4_0_q8_0_avx2)};
  static constexpr KernelPair kQ4_1{q8_1(dot_q4_1_q8_1), q8_1(dot_q4_1_q8_1_avx2)};
  static constexpr KernelPair kQ5_0{q8_0(dot_q5_0_q8_0), q8_0(dot_q5_0_q8_0_avx2)};
  static constexpr KernelPair kQ5_1{q8_1(dot_q5_1_q8_1), q8_1(dot_q5_1_q8_1_avx2)};
  static constexpr KernelPair kQ8_0{q8_0(dot_q8_0_q8_0),
                                    q8_0(dot_q8_0_q8_0_avx2, tile_q8_0_q8_0_avx2)};
  static constexpr KernelPair kQ2_K{q8_k(dot_q2_k_q8_k), q8_k(dot_q2_k_q8_k_avx2)};
  static constexpr KernelPair kQ3_K{q8_k(dot_q3_k_q8_k), q8_k(dot_q3_k_q8_k_avx2)};
  static constexpr KernelPair kQ4_K{q8_k(dot_q4_k_q8_k),
                                    q8_k(dot_q4_k_q8_k_avx2, tile_q4_k_q8_k_avx2)};
  static constexpr KernelPair kQ5_K{q8_k(dot_q5_k_q8_k), q8_k(dot_q5_k_q8_k_avx2)};
  static constexpr KernelPair kQ6_K{q8_k(dot_q6_k_q8_k),
                                    q8_k(dot_q6_k_q8_k_avx2, tile_q6_k_q8_k_avx2)};
  switch (dtype) {
    case HEARTH_DTYPE_Q4_0:
      return &kQ4_0;
    case HEARTH_DTYPE_Q4_1:
      return &kQ4_1;
    case HEARTH_DTYPE_Q5_0:
      return &kQ5_0;
    case HEARTH_DTYPE_Q5_1:
      return &kQ5_1;
    case HEARTH_DTYPE_Q8_0:
      return &kQ8_0;
    case HEARTH_DTYPE_Q2_K:
      return &kQ2_K;
    case HEARTH_DTYPE_Q3_K:
      return &kQ3_K;
    case HEARTH_DTYPE_Q4_K:
      return &kQ4_K;
    case HEARTH_DTYPE_Q5_K:
      return &kQ5_K;
    case HEARTH_DTYPE_Q6_K:
      return &kQ6_K;
    default:
      return nullptr;
  }
}

}  // namespace

std::optional<CpuIsa> parse_cpu_isa(std::string_view name) {
  if (name == "scalar") return CpuIsa::scalar;
  if (name == "avx2") return CpuIsa::avx2;
  if (name == "avx512") return CpuIsa::avx512_vnni;
  return std::nullopt;
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::scalar:
      return "scalar";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512_vnni:
      return "avx512";
  }
  return "?";
}

CpuIsaChoice choose_cpu_isa(CpuIsa detected, const char* requested) {
  if (requested == nullptr || requested[0] == '\0') return {detected, ""};
  const std::optional<CpuIsa> wanted = parse_cpu_isa(requested);
  if (!wanted)
    return {detected, std::string("cpu: HEARTH_CPU_ISA='") + requested +
                          "' is not one of scalar, avx2, avx512; ignored, using " +
                          cpu_isa_name(detected)};
  if (*wanted > detected)
    return {detected, std::string("cpu: HEARTH_CPU_ISA=") + requested + ", but this CPU has only " +
                          cpu_isa_name(detected) + "; using " + cpu_isa_name(detected)};
  return {*wanted, ""};
}

const CpuIsaChoice& cpu_isa_choice() {
  static const CpuIsaChoice choice = [] {
    CpuIsa detected = CpuIsa::scalar;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")) {
      detected = CpuIsa::avx2;
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        detected = CpuIsa::avx512_vnni;
    }
    return choose_cpu_isa(detected, std::getenv("HEARTH_CPU_ISA"));
  }();
  return choice;
}

bool cpu_has_avx2() { return cpu_isa_choice().isa >= CpuIsa::avx2; }

bool cpu_has_avx512_vnni() { return cpu_isa_choice().isa >= CpuIsa::avx512_vnni; }

const QuantTypeKernels* quant_type_kernels(hearth_dtype dtype, bool simd) {
  const KernelPair* pair = kernel_pair(dtype);
  if (pair == nullptr) return nullptr;
  return simd && cpu_has_avx2() ? &pair->simd : &pair->scalar;
}

const QuantTypeKernels* quant_type_kernels(hearth_dtype dtype) {
  return quant_type_kernels(dtype, true);
}

int64_t activation_row_bytes(hearth_dtype dtype, int64_t n) {
  const QuantTypeKernels* k = quant_type_kernels(dtype, false);
  return k ? n / k->activation_block_elems * k->activation_block_bytes : 0;
}

}  // namespace hearth::backend_cpu
