// The parsed form of a GGUF file and the parser that fills it in (spec: shared/specs/gguf.md,
// "Reader checklist"). GgufFile (gguf_file.cpp) wraps it.
#pragma once

#include <hearth/gguf.hpp>
#include <map>
#include <optional>

#include "gguf_internal.hpp"
#include "mapped_file.hpp"

namespace hearth::gguf_detail {

// Everything a parsed file holds; GgufFile::Impl is this.
struct Contents {
  std::string name;
  std::optional<MappedFile> mapping;  // empty for parse(): the caller owns the bytes
  std::span<const std::byte> bytes;
  uint32_t version = 0;
  uint32_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;
  std::vector<GgufKeyValue> metadata;
  std::map<std::string, std::size_t, std::less<>> key_index;
  std::vector<GgufTensorInfo> tensors;
  std::map<std::string, std::size_t, std::less<>> tensor_index;
};

// Validates bytes (set with name beforehand) and fills in the rest of contents. Throws GgufError.
void parse_contents(Contents& contents, const GgufOpenOptions& options);

}  // namespace hearth::gguf_detail
