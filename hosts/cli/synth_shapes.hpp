// The model shapes `hearth synth` can write: hyperparameters of real models and the tensors
// llama.cpp's converters produce for them (names and ggml-order shapes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::cli {

struct SynthShape {
  std::string name;          // "tinyllama-1.1b"
  std::string model_name;    // general.name of the real model
  std::string architecture;  // "llama" or "qwen2"
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;  // no output.weight; the head reuses token_embd
  bool qkv_bias = false;         // qwen2: attn_{q,k,v}.bias
  std::string vocab_file;        // the vocabulary GGUF whose tokenizer.* keys are copied

  int64_t head_dim() const { return n_embd / n_head; }
};

struct SynthTensor {
  std::string name;
  std::vector<int64_t> ne;  // ggml order, ne[0] innermost
  bool is_norm = false;     // filled with ones
  bool is_bias = false;     // filled with small values
};

const std::vector<SynthShape>& synth_shapes();
// The known shape names, comma-separated, for messages.
std::string synth_shape_names();
// nullptr if there is no shape of that name.
const SynthShape* find_synth_shape(const std::string& name);
// Every tensor of the shape, in the order the file stores them.
std::vector<SynthTensor> synth_tensors(const SynthShape& shape);

}  // namespace hearth::cli
