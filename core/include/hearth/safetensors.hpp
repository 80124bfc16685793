// Reading safetensors files (Hugging Face's checkpoint format) and converting the NF4 weights of
// a bitsandbytes "bnb-4bit" checkpoint (shared/specs/nf4.md §4) into Hearth's GGUF NF4 type.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
// {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__":
// {...}}, then the data; offsets are relative to the first byte after the header. Every length and
// offset is checked before it is used; errors name the file, the tensor and the byte offsets
// involved.
#pragma once

#include <hearth/error.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

class SafetensorsError : public Error {
 public:
  using Error::Error;
};

enum class SafetensorsDtype {
  BOOL,
  U8,
  I8,
  U16,
  I16,
  U32,
  I32,
  U64,
  I64,
  F16,
  BF16,
  F32,
  F64,
  F8_E4M3,
  F8_E5M2
};

std::string_view safetensors_dtype_name(SafetensorsDtype dtype);
uint64_t safetensors_dtype_size(SafetensorsDtype dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype;
  std::vector<int64_t> shape;       // row-major, outermost first (PyTorch order)
  std::span<const std::byte> data;  // inside the file's bytes; valid while the file lives
  uint64_t file_offset = 0;         // absolute offset of data in the file

  int64_t n_elements() const;
};

class SafetensorsFile {
 public:
  // Maps the file read-only. Throws SafetensorsError.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Parses bytes held in memory; name is used in messages.
  static SafetensorsFile parse(std::vector<std::byte> bytes, std::string name);

  const std::string& name() const { return name_; }
  // In order of their data offsets.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* tensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Storage;
  SafetensorsFile(std::shared_ptr<const Storage> storage, std::string name);

  std::shared_ptr<const Storage> storage_;
  std::string name_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// ------------------------------------------------------------------ bitsandbytes NF4

// One Linear4bit weight converted to HEARTH_DTYPE_NF4 rows (plugins/format-nf4/README.md):
// ne = [n_in, n_out]; dequantizing blocks gives bitsandbytes' float32 product
// NF4[code] * absmax bit for bit (bnb then rounds it to compute_dtype).
struct BnbNf4Weight {
  std::string name;  // "<module>.weight"
  int64_t n_in = 0;
  int64_t n_out = 0;
  std::vector<std::byte> blocks;
  std::string compute_dtype;  // the quant state's "dtype", e.g. "bfloat16"
  bool double_quant = false;
};

// Names of the weights carrying a "<name>.quant_state.bitsandbytes__nf4" entry, sorted.
std::vector<std::string> bnb_nf4_weight_names(const SafetensorsFile& file);

// Reads <weight_name> and its quant state (absmax, quant_map, nested_absmax, nested_quant_map,
// quant_state.bitsandbytes__nf4). Throws SafetensorsError when an entry is missing, has the
// wrong dtype or size, or uses what Hearth's NF4 type cannot hold (blocksize other than 64, a
// row length not a multiple of 64, a code book other than NF4's).
BnbNf4Weight convert_bnb_nf4(const SafetensorsFile& file, const std::string& weight_name);

}  // namespace hearth
