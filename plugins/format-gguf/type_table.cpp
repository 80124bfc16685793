#include "type_table.hpp"

#include <array>

#include "blocks.hpp"
#include "dequantize.hpp"
#include "quantize.hpp"

namespace hearth::format_gguf {

namespace {

constexpr std::array kTypes = {
    GgufTypeEntry{HEARTH_DTYPE_F32, "F32", 1, 4, true, dequantize_f32, quantize_f32},
    GgufTypeEntry{HEARTH_DTYPE_F16, "F16", 1, 2, true, dequantize_f16, quantize_f16},
    GgufTypeEntry{HEARTH_DTYPE_BF16, "BF16", 1, 2, true, dequantize_bf16, quantize_bf16},
    GgufTypeEntry{HEARTH_DTYPE_Q4_0, "Q4_0", kQK4_0, sizeof(BlockQ4_0), false, dequantize_q4_0,
                  quantize_q4_0},
    GgufTypeEntry{HEARTH_DTYPE_Q4_1, "Q4_1", kQK4_1, sizeof(BlockQ4_1), false, dequantize_q4_1,
                  quantize_q4_1},
    GgufTypeEntry{HEARTH_DTYPE_Q5_0, "Q5_0", kQK5_0, sizeof(BlockQ5_0), false, dequantize_q5_0,
                  quantize_q5_0},
    GgufTypeEntry{HEARTH_DTYPE_Q5_1, "Q5_1", kQK5_1, sizeof(BlockQ5_1), false, dequantize_q5_1,
                  quantize_q5_1},
    GgufTypeEntry{HEARTH_DTYPE_Q8_0, "Q8_0", kQK8_0, sizeof(BlockQ8_0), false, dequantize_q8_0,
                  quantize_q8_0},
    GgufTypeEntry{HEARTH_DTYPE_Q8_1, "Q8_1", kQK8_1, sizeof(BlockQ8_1), false, dequantize_q8_1,
                  quantize_q8_1},
    GgufTypeEntry{HEARTH_DTYPE_Q2_K, "Q2_K", kQK_K, sizeof(BlockQ2_K), false, dequantize_q2_k,
                  quantize_q2_k},
    GgufTypeEntry{HEARTH_DTYPE_Q3_K, "Q3_K", kQK_K, sizeof(BlockQ3_K), false, dequantize_q3_k,
                  quantize_q3_k},
    GgufTypeEntry{HEARTH_DTYPE_Q4_K, "Q4_K", kQK_K, sizeof(BlockQ4_K), false, dequantize_q4_k,
                  quantize_q4_k},
    GgufTypeEntry{HEARTH_DTYPE_Q5_K, "Q5_K", kQK_K, sizeof(BlockQ5_K), false, dequantize_q5_k,
                  quantize_q5_k},
    GgufTypeEntry{HEARTH_DTYPE_Q6_K, "Q6_K", kQK_K, sizeof(BlockQ6_K), false, dequantize_q6_k,
                  quantize_q6_k},
    GgufTypeEntry{HEARTH_DTYPE_Q8_K, "Q8_K", kQK_K, sizeof(BlockQ8_K), false, dequantize_q8_k,
                  quantize_q8_k},
};

struct NamedId {
  hearth_dtype id;
  std::string_view name;
};

// GGUF ids (ggml.h) outside this plugin's table, for error messages only.
constexpr std::array kOtherGgufTypes = {
    NamedId{4, "Q4_2 (removed)"},
    NamedId{5, "Q4_3 (removed)"},
    NamedId{16, "IQ2_XXS"},
    NamedId{17, "IQ2_XS"},
    NamedId{18, "IQ3_XXS"},
    NamedId{19, "IQ1_S"},
    NamedId{20, "IQ4_NL"},
    NamedId{21, "IQ3_S"},
    NamedId{22, "IQ2_S"},
    NamedId{23, "IQ4_XS"},
    NamedId{24, "I8"},
    NamedId{25, "I16"},
    NamedId{26, "I32"},
    NamedId{27, "I64"},
    NamedId{28, "F64"},
    NamedId{29, "IQ1_M"},
    NamedId{34, "TQ1_0"},
    NamedId{35, "TQ2_0"},
    NamedId{39, "MXFP4"},
};

}  // namespace

std::span<const GgufTypeEntry> gguf_types() { return kTypes; }

const GgufTypeEntry* find_gguf_type(hearth_dtype dtype) {
  for (const auto& t : kTypes)
    if (t.dtype == dtype) return &t;
  return nullptr;
}

std::string_view unsupported_gguf_type_name(hearth_dtype dtype) {
  for (const auto& t : kOtherGgufTypes)
    if (t.id == dtype) return t.name;
  return {};
}

}  // namespace hearth::format_gguf
