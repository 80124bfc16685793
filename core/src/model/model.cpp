#include <hearth/error.hpp>
#include <hearth/model.hpp>

#include <memory>
#include <vector>

#include "model/weights.hpp"

namespace hearth {

Model::~Model() = default;

std::optional<std::string> Model::chat_template() const {
  return file_->get_string("tokenizer.chat_template");
}

namespace {

void check_layer_ranges(const std::vector<LayerRange>& ranges, int64_t n_layer,
                        const std::string& file) {
  int64_t next = 0;
  for (const LayerRange& r : ranges) {
    if (r.first_layer != next || r.last_layer < r.first_layer)
      throw Error("layer ranges must cover layers 0.." + std::to_string(n_layer - 1) + " of " +
                  file + " in order, each once: a range " + std::to_string(r.first_layer) + "-" +
                  std::to_string(r.last_layer) + " on " + r.backend + ":" +
                  std::to_string(r.device_index) + " comes where layer " + std::to_string(next) +
                  " was expected");
    next = r.last_layer + 1;
  }
  if (next != n_layer)
    throw Error("layer ranges end at layer " + std::to_string(next - 1) + " but " + file + " has " +
                std::to_string(n_layer) + " layers (0.." + std::to_string(n_layer - 1) +
                "); give the remaining layers a device");
}

}  // namespace

std::shared_ptr<Model> Model::load(const std::filesystem::path& path,
                                   const PluginRegistry& registry, ModelOptions options) {
  std::shared_ptr<Model> model(new Model());
  model->registry_ = &registry;
  model->file_ = std::make_unique<GgufFile>(GgufFile::open(path));
  const GgufFile& f = *model->file_;
  model->hparams_ = read_hyperparams(f);
  const ModelHyperparams& hp = model->hparams_;
  model->tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_gguf(f));
  if (model->tokenizer_->n_vocab() != hp.n_vocab)
    throw Error(f.name() + ": the tokenizer has " + std::to_string(model->tokenizer_->n_vocab()) +
                " tokens but token_embd.weight has " + std::to_string(hp.n_vocab) + " rows");

  std::vector<LayerRange> ranges = options.layer_ranges;
  if (ranges.empty())
    ranges.push_back({options.backend, options.device_index, options.backend_options, 0,
                      hp.n_layer - 1, options.weights});
  check_layer_ranges(ranges, hp.n_layer, f.name());
  std::vector<std::unique_ptr<detail::WeightLoader>> loaders;
  for (const LayerRange& r : ranges) {
    model->devices_.push_back(registry.backend(r.backend).open(r.device_index, r.backend_options));
    loaders.push_back(std::make_unique<detail::WeightLoader>(f, registry, *model->devices_.back(),
                                                             options, r.weights, hp.n_layer));
    for (int64_t il = r.first_layer; il <= r.last_layer; ++il)
      model->layer_device_.push_back(model->devices_.size() - 1);
  }

  auto weights = std::make_unique<detail::ModelWeights>();
  weights->token_embd = &loaders.front()->require("token_embd.weight");
  if (weights->token_embd->type != HEARTH_DTYPE_F32)
    weights->token_embd_format = loaders.front()->format_of(*weights->token_embd);

  const int64_t q_dim = hp.n_head * hp.head_dim;
  const int64_t kv_dim = hp.n_head_kv * hp.head_dim;
  const bool biases_required = hp.architecture == "qwen2";
  const size_t total = static_cast<size_t>(hp.n_layer) + 1;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (options.progress) options.progress("loading weights", static_cast<size_t>(il), total);
    const std::string p = "blk." + std::to_string(il) + ".";
    detail::WeightLoader& loader = *loaders[model->layer_device_[static_cast<size_t>(il)]];
    detail::LayerWeights l;
    l.attn_norm = loader.vector(p + "attn_norm.weight", hp.n_embd);
    l.wq = loader.matmul_weight(p + "attn_q.weight", hp.n_embd, q_dim);
    l.wk = loader.matmul_weight(p + "attn_k.weight", hp.n_embd, kv_dim);
    l.wv = loader.matmul_weight(p + "attn_v.weight", hp.n_embd, kv_dim);
    l.bq = loader.vector(p + "attn_q.bias", q_dim, biases_required);
    l.bk = loader.vector(p + "attn_k.bias", kv_dim, biases_required);
    l.bv = loader.vector(p + "attn_v.bias", kv_dim, biases_required);
    l.wo = loader.matmul_weight(p + "attn_output.weight", q_dim, hp.n_embd);
    l.ffn_norm = loader.vector(p + "ffn_norm.weight", hp.n_embd);
    l.gate = loader.matmul_weight(p + "ffn_gate.weight", hp.n_embd, hp.n_ff);
    l.up = loader.matmul_weight(p + "ffn_up.weight", hp.n_embd, hp.n_ff);
    l.down = loader.matmul_weight(p + "ffn_down.weight", hp.n_ff, hp.n_embd);
    weights->layers.push_back(std::move(l));
  }
  detail::WeightLoader& loader = *loaders[model->output_device_index()];
  weights->output_norm = loader.vector("output_norm.weight", hp.n_embd);
  // Without output.weight the model ties its output head to the token embeddings.
  weights->output = loader.matmul_weight(
      f.tensor("output.weight") ? "output.weight" : "token_embd.weight", hp.n_embd, hp.n_vocab);
  // Every device's layers rotate with the frequency factors.
  for (size_t d = 0; d < loaders.size(); ++d)
    weights->rope_freqs.push_back(loaders[d]->vector("rope_freqs.weight", hp.n_rot / 2, false));
  if (options.progress) options.progress("loading weights", total, total);
  model->weights_ = std::move(weights);
  return model;
}

}  // namespace hearth
