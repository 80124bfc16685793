// Parses and validates the header, the metadata and the tensor infos of a GGUF file, and points
// each tensor at its bytes.
#include <algorithm>
#include <bit>
#include <cstdio>
#include <hearth/gguf.hpp>
#include <limits>
#include <map>

#include "byte_cursor.hpp"
#include "gguf_contents.hpp"
#include "gguf_internal.hpp"

namespace hearth::gguf_detail {
namespace {

constexpr auto kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// key length + value type + the smallest value (one byte)
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;
// name length + n_dims + one dimension + type + offset
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

constexpr std::string_view kCorrupt = "the file is corrupt; re-download or re-convert it";

std::string shape_text(const std::vector<int64_t>& ne) {
  std::string out = "[";
  for (std::size_t i = 0; i < ne.size(); ++i) out += (i ? ", " : "") + std::to_string(ne[i]);
  return out + "]";
}

std::string hex_bytes(std::span<const std::byte> bytes) {
  std::string out;
  for (std::byte b : bytes) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", std::to_integer<unsigned>(b));
    out += (out.empty() ? "" : " ") + std::string(buf);
  }
  return out;
}

class Parser {
 public:
  Parser(Contents& file, const GgufOpenOptions& options)
      : file_(file), options_(options), in_(file.bytes, file.name) {}

  void run() {
    read_header();
    read_metadata();
    resolve_alignment();
    read_tensor_infos();
    place_tensor_data();
    check_overlaps();
  }

 private:
  void read_header() {
    const uint32_t magic = in_.u32("the magic");
    if (magic != kGgufMagic) {
      in_.fail(0,
               "not a GGUF file: expected the magic 'GGUF' (47 47 55 46), found " +
                   hex_bytes(file_.bytes.first(4)),
               "check that this is a .gguf model file (safetensors or PyTorch checkpoints must "
               "be converted first)");
    }
    const uint64_t version_offset = in_.position();
    file_.version = in_.u32("the version");
    if (file_.version == 1) {
      in_.fail(version_offset, "GGUF version 1 is no longer supported (it used 32-bit counts)",
               "re-convert the model with a current llama.cpp (convert_hf_to_gguf.py)");
    }
    if (file_.version != 2 && file_.version != 3) {
      const uint32_t v = file_.version;
      const uint32_t swapped = (v >> 24) | ((v >> 8) & 0xFF00) | ((v << 8) & 0xFF0000) | (v << 24);
      if (swapped == 2 || swapped == 3) {
        in_.fail(version_offset,
                 "the version reads as " + std::to_string(file_.version) +
                     "; this is a big-endian GGUF file, which Hearth does not read",
                 "convert it to little-endian (gguf-py's gguf_convert_endian.py)");
      }
      in_.fail(version_offset,
               "unknown GGUF version " + std::to_string(file_.version) +
                   " (this reader supports versions 2 and 3)",
               "re-convert the model with a current llama.cpp, or update Hearth if the file is "
               "newer");
    }
    tensor_count_ = in_.u64("the tensor count");
    if (tensor_count_ > kMaxInt64)
      in_.fail(8, "tensor count " + std::to_string(tensor_count_) + " is negative as int64",
               kCorrupt);
    kv_count_ = in_.u64("the metadata key count");
  }

  // Reads count items with read_one(i). A count that cannot fit in the rest of the file is not
  // refused up front, so that a truncated file reports the item it was cut in; the loop ends
  // at the file's end anyway, since every item takes at least min_bytes. The error then notes
  // the implausible count, which is the likelier culprit.
  template <class Item, class ReadOne>
  void read_items(uint64_t count, uint64_t min_bytes, uint64_t count_offset, std::string_view what,
                  std::vector<Item>& out, ReadOne read_one) {
    const uint64_t available = in_.remaining();
    const bool fits = count <= available / min_bytes;
    out.reserve(static_cast<std::size_t>(std::min(count, in_.remaining() / min_bytes)));
    try {
      for (uint64_t i = 0; i < count; ++i) read_one(i);
    } catch (const GgufError& e) {
      if (fits) throw;
      throw GgufError(std::string(e.what()) + " (note: the header at byte " +
                      std::to_string(count_offset) + " promises " + std::to_string(count) + " " +
                      std::string(what) + "s, more than the " + std::to_string(available) +
                      " bytes after it can hold)");
    }
  }

  void read_metadata() {
    read_items(kv_count_, kMinKeyValueBytes, 16, "metadata key", file_.metadata,
               [&](uint64_t i) { read_key_value(i); });
  }

  void read_key_value(uint64_t i) {
    GgufKeyValue kv;
    kv.offset = in_.position();
    in_.set_context("metadata key #" + std::to_string(i));
    kv.key = in_.string("the key");
    if (kv.key.size() > kGgufMaxKeyBytes) {
      in_.fail(kv.offset,
               "key of " + std::to_string(kv.key.size()) + " bytes (at most " +
                   std::to_string(kGgufMaxKeyBytes) + ")",
               kCorrupt);
    }
    in_.set_context("key '" + kv.key + "'");
    if (auto it = file_.key_index.find(kv.key); it != file_.key_index.end()) {
      in_.fail(kv.offset,
               "duplicate key '" + kv.key + "' (first at byte " +
                   std::to_string(file_.metadata[it->second].offset) + ")",
               "the file is corrupt; re-convert it");
    }
    const uint64_t type_offset = in_.position();
    const uint32_t type = in_.u32("the value type");
    kv.value = read_value(checked_value_type(type, type_offset), 0);
    file_.key_index.emplace(kv.key, file_.metadata.size());
    file_.metadata.push_back(std::move(kv));
  }

  GgufType checked_value_type(uint32_t id, uint64_t offset) {
    if (!is_value_type(id)) {
      in_.fail(offset, "unknown metadata value type " + std::to_string(id) + " (known: 0 to 12)",
               "the file is corrupt or from a newer GGUF version; re-convert it");
    }
    return static_cast<GgufType>(id);
  }

  GgufValue read_value(GgufType type, uint32_t depth) {
    switch (type) {
      case GgufType::UINT8:
        return {type, uint64_t{in_.u8("the value")}};
      case GgufType::INT8:
        return {type, int64_t{static_cast<int8_t>(in_.u8("the value"))}};
      case GgufType::UINT16:
        return {type, uint64_t{in_.u16("the value")}};
      case GgufType::INT16:
        return {type, int64_t{static_cast<int16_t>(in_.u16("the value"))}};
      case GgufType::UINT32:
        return {type, uint64_t{in_.u32("the value")}};
      case GgufType::INT32:
        return {type, int64_t{static_cast<int32_t>(in_.u32("the value"))}};
      case GgufType::UINT64:
        return {type, in_.u64("the value")};
      case GgufType::INT64:
        return {type, static_cast<int64_t>(in_.u64("the value"))};
      case GgufType::FLOAT32:
        return {type, static_cast<double>(std::bit_cast<float>(in_.u32("the value")))};
      case GgufType::FLOAT64:
        return {type, std::bit_cast<double>(in_.u64("the value"))};
      case GgufType::BOOL: {
        const uint64_t offset = in_.position();
        const uint8_t b = in_.u8("the value");
        if (b > 1)
          in_.fail(offset, "bool value " + std::to_string(b) + " (must be 0 or 1)", kCorrupt);
        return {type, b == 1};
      }
      case GgufType::STRING:
        return {type, in_.string("the string value")};
      case GgufType::ARRAY:
        return read_array(depth + 1);
    }
    return {};  // unreachable: the type was checked
  }

  GgufValue read_array(uint32_t depth) {
    const uint64_t type_offset = in_.position();
    const GgufType element_type =
        checked_value_type(in_.u32("the array element type"), type_offset);
    if (element_type == GgufType::ARRAY && depth >= kGgufMaxArrayDepth) {
      in_.fail(type_offset,
               "arrays nested more than " + std::to_string(kGgufMaxArrayDepth) + " deep",
               "the file is corrupt or hostile; re-convert it");
    }
    const uint64_t count_offset = in_.position();
    const uint64_t count = in_.u64("the array length");
    if (count > in_.remaining() / min_encoded_size(element_type)) {
      in_.fail(count_offset,
               "array length " + std::to_string(count) + " (" +
                   std::string(gguf_type_name(element_type)) + ") cannot fit in the " +
                   std::to_string(in_.remaining()) +
                   " bytes that follow: the file is truncated at byte " +
                   std::to_string(in_.size()) + " or the length is corrupt",
               "re-download or re-convert it");
    }
    auto array = std::make_shared<GgufArray>();
    array->element_type = element_type;
    array->values.reserve(static_cast<std::size_t>(count));
    for (uint64_t i = 0; i < count; ++i) array->values.push_back(read_value(element_type, depth));
    return {GgufType::ARRAY, std::move(array)};
  }

  void resolve_alignment() {
    auto it = file_.key_index.find(kAlignmentKey);
    if (it == file_.key_index.end()) return;
    const GgufKeyValue& kv = file_.metadata[it->second];
    in_.set_context("key '" + kv.key + "'");
    constexpr std::string_view advice =
        "fix the key or re-convert the model (GGUF's default alignment is 32)";
    if (!is_integer_type(kv.value.type)) {
      in_.fail(kv.offset,
               "general.alignment has type " + std::string(gguf_type_name(kv.value.type)) +
                   ", expected UINT32",
               advice);
    }
    const auto value = kv.value.as_uint();
    if (!value || *value > std::numeric_limits<uint32_t>::max() || !is_power_of_two(*value)) {
      const auto shown = kv.value.as_int();
      in_.fail(kv.offset,
               "general.alignment is " + (shown ? std::to_string(*shown) : std::to_string(*value)) +
                   "; it must be a nonzero power of two that fits in 32 bits",
               advice);
    }
    file_.alignment = static_cast<uint32_t>(*value);
  }

  void read_tensor_infos() {
    read_items(tensor_count_, kMinTensorInfoBytes, 8, "tensor info", file_.tensors,
               [&](uint64_t i) { read_tensor_info(i); });
  }

  void read_tensor_info(uint64_t index) {
    GgufTensorInfo info;
    info.info_offset = in_.position();
    in_.set_context("tensor #" + std::to_string(index) + " info");
    info.name = in_.string("the tensor name");
    in_.set_context("tensor '" + info.name + "' info");
    if (auto it = file_.tensor_index.find(info.name); it != file_.tensor_index.end()) {
      in_.fail(info.info_offset,
               "duplicate tensor name '" + info.name + "' (first at byte " +
                   std::to_string(file_.tensors[it->second].info_offset) + ")",
               "the file is corrupt; re-convert it");
    }
    const uint64_t dims_offset = in_.position();
    const uint32_t n_dims = in_.u32("n_dims");
    if (n_dims == 0 || n_dims > kGgufMaxDims) {
      in_.fail(dims_offset, "n_dims is " + std::to_string(n_dims) + " (must be 1 to 4)",
               "the file is corrupt or uses more dimensions than ggml supports; re-convert it");
    }
    uint64_t n_elements = 1;
    bool overflow = false;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne_offset = in_.position();
      const uint64_t ne = in_.u64("a dimension (ne)");
      if (ne > kMaxInt64) {
        in_.fail(ne_offset,
                 "dimension ne[" + std::to_string(d) + "] = " + std::to_string(ne) +
                     " is negative as int64",
                 kCorrupt);
      }
      info.ne.push_back(static_cast<int64_t>(ne));
      overflow = overflow || __builtin_mul_overflow(n_elements, ne, &n_elements);
    }
    if (overflow || n_elements > kMaxInt64) {
      in_.fail(dims_offset,
               "the element count of shape " + shape_text(info.ne) + " overflows 64 bits",
               kCorrupt);
    }
    const uint64_t type_offset = in_.position();
    info.type = in_.u32("the type id");
    if (is_variable_size_type(info.type)) {
      // Sized from its data's header in place_tensor_data().
      offset_fields_.push_back(in_.position());
      info.offset = in_.u64("the data offset");
      file_.tensor_index.emplace(info.name, file_.tensors.size());
      file_.tensors.push_back(std::move(info));
      return;
    }
    const GgufTypeLayout layout = checked_layout(info.type, type_offset);
    const auto ne0 = static_cast<uint64_t>(info.ne[0]);
    if (ne0 % layout.block_elems != 0) {
      in_.fail(dims_offset,
               "ne[0] = " + std::to_string(ne0) + " is not a multiple of the block size " +
                   std::to_string(layout.block_elems) + " of type " + layout.name,
               "rows must be whole blocks; the file is corrupt, re-convert it");
    }
    const uint64_t rows = ne0 == 0 ? 0 : n_elements / ne0;
    uint64_t row_bytes = 0;
    if (__builtin_mul_overflow(ne0 / layout.block_elems, uint64_t{layout.block_bytes},
                               &row_bytes) ||
        __builtin_mul_overflow(row_bytes, rows, &info.nbytes)) {
      in_.fail(dims_offset,
               "the byte size of shape " + shape_text(info.ne) + " as " + layout.name +
                   " overflows 64 bits",
               kCorrupt);
    }
    offset_fields_.push_back(in_.position());
    info.offset = in_.u64("the data offset");
    file_.tensor_index.emplace(info.name, file_.tensors.size());
    file_.tensors.push_back(std::move(info));
  }

  GgufTypeLayout checked_layout(uint32_t type, uint64_t type_offset) {
    if (auto removed = removed_tensor_type_name(type)) {
      in_.fail(type_offset,
               "tensor type id " + std::to_string(type) + " (" + std::string(*removed) +
                   ") was removed from ggml",
               "re-quantize the model from its original weights with a current llama.cpp");
    }
    auto layout = resolve_tensor_type(type, options_);
    if (!layout) {
      in_.fail(type_offset, "unknown tensor type id " + std::to_string(type),
               "ids from 1024 up are Hearth plugin formats: load the format plugin that defines "
               "it; otherwise the file is corrupt or from a newer ggml, re-quantize it to a "
               "standard type");
    }
    if (layout->block_elems == 0 || layout->block_bytes == 0) {
      in_.fail(type_offset,
               "tensor type id " + std::to_string(type) + " (" + layout->name +
                   ") has an empty block layout",
               "the format plugin that defines it is broken; fix or remove it");
    }
    return *layout;
  }

  void place_tensor_data() {
    const uint64_t end_of_infos = in_.position();
    const uint64_t a = file_.alignment;
    file_.data_offset = end_of_infos + (a - end_of_infos % a) % a;
    for (std::size_t i = 0; i < file_.tensors.size(); ++i) {
      GgufTensorInfo& t = file_.tensors[i];
      in_.set_context("tensor '" + t.name + "' info");
      if (t.offset % a != 0) {
        in_.fail(offset_fields_[i],
                 "tensor data offset " + std::to_string(t.offset) +
                     " is not a multiple of the alignment " + std::to_string(a),
                 "the file is corrupt or was written with another general.alignment; "
                 "re-convert it");
      }
      uint64_t start = 0, end = 0;
      if (is_variable_size_type(t.type) &&
          !__builtin_add_overflow(file_.data_offset, t.offset, &start)) {
        const VariableSize size = variable_tensor_size(
            t.type, t.ne, start <= in_.size() ? file_.bytes.subspan(start) : file_.bytes.last(0));
        if (!size.error.empty())
          in_.fail(offset_fields_[i],
                   "tensor '" + t.name + "' (" + variable_size_name(t.type) + ", data offset " +
                       std::to_string(t.offset) + "): " + size.error,
                   kCorrupt);
        t.nbytes = size.bytes;
      }
      if (__builtin_add_overflow(file_.data_offset, t.offset, &start) ||
          __builtin_add_overflow(start, t.nbytes, &end)) {
        in_.fail(offset_fields_[i],
                 "data offset " + std::to_string(t.offset) + " plus the tensor's " +
                     std::to_string(t.nbytes) + " bytes overflows 64 bits",
                 kCorrupt);
      }
      if (end > in_.size()) {
        in_.fail(offset_fields_[i],
                 "the data of tensor '" + t.name + "' (data offset " + std::to_string(t.offset) +
                     ", " + std::to_string(t.nbytes) + " bytes: file bytes " +
                     std::to_string(start) + " to " + std::to_string(end) +
                     ") runs past the end of the file; the file is truncated at byte " +
                     std::to_string(in_.size()) + " or the offset is corrupt",
                 "re-download or re-convert it");
      }
      t.data = file_.bytes.data() + start;
    }
  }

  void check_overlaps() {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < file_.tensors.size(); ++i)
      if (file_.tensors[i].nbytes > 0) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
      return file_.tensors[x].offset < file_.tensors[y].offset;
    });
    const GgufTensorInfo* furthest = nullptr;  // the tensor whose data ends last so far
    for (std::size_t i : order) {
      const GgufTensorInfo& t = file_.tensors[i];
      if (furthest && t.offset < furthest->offset + furthest->nbytes) {
        const GgufTensorInfo& later = t.info_offset > furthest->info_offset ? t : *furthest;
        in_.set_context("tensor '" + later.name + "' info");
        in_.fail(later.info_offset,
                 "the data of tensors '" + furthest->name + "' (offset " +
                     std::to_string(furthest->offset) + ", " + std::to_string(furthest->nbytes) +
                     " bytes) and '" + t.name + "' (offset " + std::to_string(t.offset) + ", " +
                     std::to_string(t.nbytes) + " bytes) overlap",
                 kCorrupt);
      }
      if (!furthest || t.offset + t.nbytes > furthest->offset + furthest->nbytes) furthest = &t;
    }
  }

  Contents& file_;
  const GgufOpenOptions& options_;
  ByteCursor in_;
  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;
  std::vector<uint64_t> offset_fields_;  // where each tensor's data offset is stored
};

}  // namespace

void parse_contents(Contents& contents, const GgufOpenOptions& options) {
  Parser(contents, options).run();
}

}  // namespace hearth::gguf_detail
