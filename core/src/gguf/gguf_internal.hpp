// Facts about GGUF's value and tensor types shared by the reader and the writer.
#pragma once

#include <cstdint>
#include <hearth/gguf.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::gguf_detail {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as little-endian uint32
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";

bool is_value_type(uint32_t id);
bool is_integer_type(GgufType type);
bool is_signed_integer_type(GgufType type);
// Encoded size of a scalar value; 0 for STRING and ARRAY.
uint64_t scalar_size(GgufType type);
// The fewest bytes one element of this type can take (a string is at least its length field).
uint64_t min_encoded_size(GgufType type);
// Whether an integer value (either variant alternative) lies in the range of type.
bool integer_fits(GgufType type, const GgufValue& value);

// "Q4_2" for the ids ggml removed (4, 5, 31-33, 36-38); nullopt otherwise.
std::optional<std::string_view> removed_tensor_type_name(uint32_t id);
// Built-in layout, else the caller's extra_types; nullopt when neither knows the id.
std::optional<GgufTypeLayout> resolve_tensor_type(uint32_t id, const GgufOpenOptions& options);

// Types whose byte size is recorded in their data (CS256): the reader sizes them from it.
bool is_variable_size_type(uint32_t id);
std::string variable_size_name(uint32_t id);
struct VariableSize {
  uint64_t bytes = 0;
  std::string error;  // empty when bytes is right
};
// Reads the size from the start of the tensor's data (available: from there to the file's end)
// after checking the header against the shape ne.
VariableSize variable_tensor_size(uint32_t id, const std::vector<int64_t>& ne,
                                  std::span<const std::byte> available);

inline bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

}  // namespace hearth::gguf_detail
