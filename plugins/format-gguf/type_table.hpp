// The GGUF tensor types this plugin handles: id, name, block layout and the scalar reference
// (de)quantizers. One table, so type_info, dequantize and quantize cannot disagree.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace hearth::format_gguf {

struct GgufTypeEntry {
  hearth_dtype dtype;
  std::string_view name;
  uint32_t block_elems;
  uint32_t block_bytes;
  bool is_float;  // F32/F16/BF16: any value converts; block types need finite input
  void (*dequantize)(const std::byte* src, float* dst, int64_t n);
  void (*quantize)(const float* src, std::byte* dst, int64_t n, const float* importance);
};

std::span<const GgufTypeEntry> gguf_types();

// nullptr if this plugin does not handle dtype.
const GgufTypeEntry* find_gguf_type(hearth_dtype dtype);

// GGUF's name for ids this plugin knows of but does not handle ("IQ2_XXS", "I32", ...), or ""
// for ids GGUF does not define; used to make "unsupported" errors say what the id is.
std::string_view unsupported_gguf_type_name(hearth_dtype dtype);

}  // namespace hearth::format_gguf
