// The model's weights on its device: uploaded as stored when the backend can use them, converted
// to F32 at load (and said so once per type) when it cannot.
#pragma once

#include <hearth/backend.hpp>
#include <hearth/gguf.hpp>
#include <hearth/model.hpp>
#include <hearth/plugin_registry.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hearth::detail {

struct DeviceTensor {
  hearth_tensor t{};                   // points into device memory or into the file mapping
  DeviceBuffer buffer;                 // owns the memory when uploaded
  std::vector<float> host;             // owns converted data on host-memory devices
  std::vector<std::byte> host_blocks;  // owns data quantized at load on host-memory devices
  explicit operator bool() const { return t.data != nullptr; }
};

struct LayerWeights {
  DeviceTensor attn_norm, wq, wk, wv, bq, bk, bv, wo;
  DeviceTensor ffn_norm, gate, up, down;
};

struct ModelWeights {
  const GgufTensorInfo* token_embd = nullptr;  // looked up on the host, row by row
  std::optional<FormatPlugin> token_embd_format;
  DeviceTensor output_norm, output;
  std::vector<DeviceTensor> rope_freqs;  // per model device (absent: empty tensors)
  std::vector<LayerWeights> layers;
};

class WeightLoader {
 public:
  // weights: LayerRange::weights ("native" or "nf4"; anything else is refused here).
  WeightLoader(const GgufFile& file, const PluginRegistry& registry, BackendDevice& device,
               const ModelOptions& options, const std::string& weights, int64_t n_layer);
  // A weight used as MATMUL src[0]: [n_in, n_out].
  DeviceTensor matmul_weight(const std::string& name, int64_t n_in, int64_t n_out);
  // A 1-D F32 vector (norm weight, bias, rope factors) of n elements; optional ones may be absent.
  DeviceTensor vector(const std::string& name, int64_t n, bool required = true);
  const GgufTensorInfo& require(const std::string& name) const;
  FormatPlugin format_of(const GgufTensorInfo& info) const;

 private:
  DeviceTensor place(const void* data, uint64_t bytes, hearth_tensor shape);
  DeviceTensor place_converted(std::vector<float> values, hearth_tensor shape);
  DeviceTensor place_quantized(std::vector<std::byte> bytes, hearth_tensor shape);
  // The weight's type under weights = "nf4" (nullopt: keep it as stored).
  std::optional<hearth_dtype> converted_type(const GgufTensorInfo& info) const;
  std::vector<float> to_f32(const GgufTensorInfo& info) const;

  const GgufFile& file_;
  const PluginRegistry& registry_;
  BackendDevice& device_;
  const ModelOptions& options_;
  bool host_memory_;
  bool to_nf4_;
  int64_t n_layer_;
  std::set<uint32_t> noted_types_;
};

}  // namespace hearth::detail
