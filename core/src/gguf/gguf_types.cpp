// The metadata value types and the ggml tensor types (ids, block layouts).
#include <hearth/gguf.hpp>
#include <limits>

#include "gguf_internal.hpp"

namespace hearth {
namespace {

struct BuiltinType {
  uint32_t id;
  const char* name;
  uint32_t block_elems;
  uint32_t block_bytes;
};

// From ggml.h (type enum) and ggml-common.h (block structs, whose static_asserts fix the sizes).
constexpr BuiltinType kBuiltinTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
    // Hearth's own types (ids from HEARTH_DTYPE_FIRST_HEARTH; other GGUF readers reject them).
    {1024, "NF4", 64, 36},  // plugins/format-nf4/README.md
};

}  // namespace

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
      return "UINT8";
    case GgufType::INT8:
      return "INT8";
    case GgufType::UINT16:
      return "UINT16";
    case GgufType::INT16:
      return "INT16";
    case GgufType::UINT32:
      return "UINT32";
    case GgufType::INT32:
      return "INT32";
    case GgufType::FLOAT32:
      return "FLOAT32";
    case GgufType::BOOL:
      return "BOOL";
    case GgufType::STRING:
      return "STRING";
    case GgufType::ARRAY:
      return "ARRAY";
    case GgufType::UINT64:
      return "UINT64";
    case GgufType::INT64:
      return "INT64";
    case GgufType::FLOAT64:
      return "FLOAT64";
  }
  return "UNKNOWN";
}

std::optional<GgufTypeLayout> gguf_builtin_type_layout(uint32_t type) {
  for (const BuiltinType& t : kBuiltinTypes) {
    if (t.id == type) return GgufTypeLayout{t.name, t.block_elems, t.block_bytes};
  }
  return std::nullopt;
}

namespace gguf_detail {

bool is_value_type(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::FLOAT64); }

bool is_integer_type(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::UINT16:
    case GgufType::INT16:
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::UINT64:
    case GgufType::INT64:
      return true;
    default:
      return false;
  }
}

bool is_signed_integer_type(GgufType type) {
  return type == GgufType::INT8 || type == GgufType::INT16 || type == GgufType::INT32 ||
         type == GgufType::INT64;
}

uint64_t scalar_size(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::BOOL:
      return 1;
    case GgufType::UINT16:
    case GgufType::INT16:
      return 2;
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::FLOAT32:
      return 4;
    case GgufType::UINT64:
    case GgufType::INT64:
    case GgufType::FLOAT64:
      return 8;
    case GgufType::STRING:
    case GgufType::ARRAY:
      return 0;
  }
  return 0;
}

uint64_t min_encoded_size(GgufType type) {
  if (type == GgufType::STRING) return 8;     // the length
  if (type == GgufType::ARRAY) return 4 + 8;  // element type and count
  return scalar_size(type);
}

bool integer_fits(GgufType type, const GgufValue& value) {
  int64_t lo = 0;
  uint64_t hi = 0;
  switch (type) {
    case GgufType::UINT8:
      hi = std::numeric_limits<uint8_t>::max();
      break;
    case GgufType::INT8:
      lo = std::numeric_limits<int8_t>::min();
      hi = std::numeric_limits<int8_t>::max();
      break;
    case GgufType::UINT16:
      hi = std::numeric_limits<uint16_t>::max();
      break;
    case GgufType::INT16:
      lo = std::numeric_limits<int16_t>::min();
      hi = std::numeric_limits<int16_t>::max();
      break;
    case GgufType::UINT32:
      hi = std::numeric_limits<uint32_t>::max();
      break;
    case GgufType::INT32:
      lo = std::numeric_limits<int32_t>::min();
      hi = std::numeric_limits<int32_t>::max();
      break;
    case GgufType::UINT64:
      hi = std::numeric_limits<uint64_t>::max();
      break;
    case GgufType::INT64:
      lo = std::numeric_limits<int64_t>::min();
      hi = std::numeric_limits<int64_t>::max();
      break;
    default:
      return false;
  }
  if (const auto* u = std::get_if<uint64_t>(&value.data)) return *u <= hi;
  if (const auto* i = std::get_if<int64_t>(&value.data))
    return *i >= lo && (*i < 0 || static_cast<uint64_t>(*i) <= hi);
  return false;
}

std::optional<std::string_view> removed_tensor_type_name(uint32_t id) {
  switch (id) {
    case 4:
      return "Q4_2";
    case 5:
      return "Q4_3";
    case 31:
      return "Q4_0_4_4";
    case 32:
      return "Q4_0_4_8";
    case 33:
      return "Q4_0_8_8";
    case 36:
      return "IQ4_NL_4_4";
    case 37:
      return "IQ4_NL_4_8";
    case 38:
      return "IQ4_NL_8_8";
    default:
      return std::nullopt;
  }
}

std::optional<GgufTypeLayout> resolve_tensor_type(uint32_t id, const GgufOpenOptions& options) {
  if (auto layout = gguf_builtin_type_layout(id)) return layout;
  if (removed_tensor_type_name(id) || !options.extra_types) return std::nullopt;
  return options.extra_types(id);
}

}  // namespace gguf_detail
}  // namespace hearth
