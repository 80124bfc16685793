#include <hearth/error.hpp>
#include <hearth/model.hpp>

#include <cmath>

namespace hearth {
namespace {

int64_t required_int(const GgufFile& f, const std::string& key) {
  auto v = f.get_int(key);
  if (!v)
    throw Error(f.name() + ": metadata key '" + key +
                "' is missing; the file was not written by a complete converter");
  if (*v <= 0) throw Error(f.name() + ": metadata key '" + key + "' must be positive, got " +
                           std::to_string(*v));
  return *v;
}

}  // namespace

ModelHyperparams read_hyperparams(const GgufFile& f) {
  ModelHyperparams hp;
  auto arch = f.get_string("general.architecture");
  if (!arch) throw Error(f.name() + ": metadata key 'general.architecture' is missing");
  hp.architecture = *arch;
  if (hp.architecture == "llama") {
    hp.rope_mode = HEARTH_ROPE_NORM;
  } else if (hp.architecture == "qwen2") {
    hp.rope_mode = HEARTH_ROPE_NEOX;
  } else {
    throw Error(f.name() + ": architecture '" + hp.architecture +
                    "' is not supported (supported: llama, qwen2)",
                HEARTH_ERR_UNSUPPORTED);
  }
  const std::string a = hp.architecture + ".";
  hp.n_ctx_train = required_int(f, a + "context_length");
  hp.n_embd = required_int(f, a + "embedding_length");
  hp.n_layer = required_int(f, a + "block_count");
  hp.n_ff = required_int(f, a + "feed_forward_length");
  hp.n_head = required_int(f, a + "attention.head_count");
  hp.n_head_kv = f.get_int(a + "attention.head_count_kv").value_or(hp.n_head);
  if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
    throw Error(f.name() + ": attention.head_count " + std::to_string(hp.n_head) +
                " is not a multiple of attention.head_count_kv " + std::to_string(hp.n_head_kv));
  hp.head_dim = f.get_int(a + "attention.key_length").value_or(hp.n_embd / hp.n_head);
  if (hp.head_dim <= 0 || (hp.head_dim % 2) != 0)
    throw Error(f.name() + ": head dimension " + std::to_string(hp.head_dim) + " must be even");
  hp.n_rot = f.get_int(a + "rope.dimension_count").value_or(hp.head_dim);
  if (hp.n_rot <= 0 || hp.n_rot > hp.head_dim || hp.n_rot % 2)
    throw Error(f.name() + ": rope.dimension_count " + std::to_string(hp.n_rot) +
                " must be even and at most the head dimension " + std::to_string(hp.head_dim));
  hp.rms_eps = static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  hp.rope_base = static_cast<float>(f.get_float(a + "rope.freq_base").value_or(10000.0));
  auto scaling = f.get_string(a + "rope.scaling.type").value_or("none");
  if (scaling == "linear") {
    double factor = f.get_float(a + "rope.scaling.factor").value_or(1.0);
    if (!(factor > 0)) throw Error(f.name() + ": rope.scaling.factor must be positive");
    hp.rope_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none") {
    throw Error(f.name() + ": rope.scaling.type '" + scaling +
                    "' is not supported yet (supported: none, linear)",
                HEARTH_ERR_UNSUPPORTED);
  }
  const GgufTensorInfo* embd = f.tensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2)
    throw Error(f.name() + ": tensor 'token_embd.weight' is missing or not 2-D");
  hp.n_vocab = embd->ne[1];
  if (embd->ne[0] != hp.n_embd)
    throw Error(f.name() + ": token_embd.weight has rows of " + std::to_string(embd->ne[0]) +
                " but embedding_length is " + std::to_string(hp.n_embd));
  return hp;
}

}  // namespace hearth
