// A decoder-only model loaded from GGUF onto a backend device: hyperparameters from metadata,
// weights uploaded (or used in place from the mapping on host-memory devices), the tokenizer and
// the chat template. Sessions (session.hpp) run it.
#pragma once

#include <hearth/backend.hpp>
#include <hearth/gguf.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/tokenizer.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hearth {

struct ModelHyperparams {
  std::string architecture;  // "llama", "qwen2"
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_ff = 0;
  int64_t n_rot = 0;
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_scale = 1.0f;  // freq_scale = 1 / linear scaling factor
  int rope_mode = HEARTH_ROPE_NORM;
};

// Reads and checks the hyperparameters; throws hearth::Error naming the key and the file.
ModelHyperparams read_hyperparams(const GgufFile& file);

// Called during loading with (what, done, total) for a progress line.
using ProgressCallback = std::function<void(const std::string& what, size_t done, size_t total)>;

// Layers first_layer..last_layer (inclusive) on one device: partial offload, like llama.cpp's
// -ngl but per device. The output norm and head go with the last layer; the token embeddings are
// looked up on the host.
struct LayerRange {
  std::string backend = "cpu";
  uint32_t device_index = 0;
  std::map<std::string, std::string> backend_options;
  int64_t first_layer = 0;
  int64_t last_layer = 0;
  // "native": the weights as stored; "nf4": the matrices converted at load as `hearth quantize
  // ... NF4` would write them (NF4 layers, a Q8_0 output head), for a device short of memory.
  std::string weights = "native";
};

struct ModelOptions {
  std::string backend = "cpu";
  uint32_t device_index = 0;
  std::map<std::string, std::string> backend_options;  // e.g. {"threads", "4"}
  std::string weights = "native";                      // as LayerRange::weights
  // Several ranges split the layers across devices, in layer order, covering every layer once;
  // empty: every layer on backend/device_index.
  std::vector<LayerRange> layer_ranges;
  ProgressCallback progress;
  // Receives one line per notable decision (e.g. weights converted for a backend).
  std::function<void(const std::string&)> notice;
};

namespace detail {
struct ModelWeights;
}

class Model {
 public:
  // Throws GgufError for a malformed file and hearth::Error for an unsupported model.
  static std::shared_ptr<Model> load(const std::filesystem::path& path,
                                     const PluginRegistry& registry, ModelOptions options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelHyperparams& hparams() const { return hparams_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& gguf() const { return *file_; }
  // The GGUF's tokenizer.chat_template, if it has one.
  std::optional<std::string> chat_template() const;
  // The device of layer 0 (the only one unless the layers are split).
  BackendDevice& device() const { return *devices_.front(); }
  // Every device the model runs on, in layer order, and which one runs layer il.
  size_t device_count() const { return devices_.size(); }
  BackendDevice& device_at(size_t index) const { return *devices_[index]; }
  size_t device_index_of_layer(int64_t il) const { return layer_device_[static_cast<size_t>(il)]; }
  // Runs the output norm and head: the last layer's device.
  size_t output_device_index() const { return layer_device_.back(); }
  const detail::ModelWeights& weights() const { return *weights_; }
  const PluginRegistry& registry() const { return *registry_; }

 private:
  Model() = default;
  const PluginRegistry* registry_ = nullptr;
  std::unique_ptr<GgufFile> file_;
  ModelHyperparams hparams_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<std::shared_ptr<BackendDevice>> devices_;
  std::vector<size_t> layer_device_;  // per layer: index into devices_
  std::unique_ptr<detail::ModelWeights> weights_;
};

}  // namespace hearth
