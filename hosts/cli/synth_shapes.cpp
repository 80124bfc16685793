#include "synth_shapes.hpp"

namespace hearth::cli {

// Hyperparameters from each model's Hugging Face config.json, as convert_hf_to_gguf.py writes
// them. The Qwen2 contexts are the instruct models' 32768 (the base configs say 131072, which
// no one runs on a laptop). Vocabularies: ggml-vocab-llama-spm.gguf is the real 32000-token
// Llama/TinyLlama tokenizer; no Llama 3 or Qwen2 vocabulary GGUF is at hand, so those shapes
// take DeepSeek-LLM's byte-level BPE vocabulary (102400 tokens) padded with [PADn] tokens to
// the real vocabulary size, as the converters pad vocabularies smaller than vocab_size.
const std::vector<SynthShape>& synth_shapes() {
  static const std::vector<SynthShape> all = {
      {.name = "stories15M",
       .model_name = "stories15M",
       .architecture = "llama",
       .n_vocab = 32000,
       .n_ctx_train = 256,
       .n_embd = 288,
       .n_layer = 6,
       .n_head = 6,
       .n_head_kv = 6,
       .n_ff = 768,
       .vocab_file = "ggml-vocab-llama-spm.gguf"},
      {.name = "tinyllama-1.1b",
       .model_name = "TinyLlama 1.1B",
       .architecture = "llama",
       .n_vocab = 32000,
       .n_ctx_train = 2048,
       .n_embd = 2048,
       .n_layer = 22,
       .n_head = 32,
       .n_head_kv = 4,
       .n_ff = 5632,
       .vocab_file = "ggml-vocab-llama-spm.gguf"},
      {.name = "llama2-7b",
       .model_name = "Llama 2 7B",
       .architecture = "llama",
       .n_vocab = 32000,
       .n_ctx_train = 4096,
       .n_embd = 4096,
       .n_layer = 32,
       .n_head = 32,
       .n_head_kv = 32,
       .n_ff = 11008,
       .vocab_file = "ggml-vocab-llama-spm.gguf"},
      {.name = "llama3-8b",
       .model_name = "Meta Llama 3 8B",
       .architecture = "llama",
       .n_vocab = 128256,
       .n_ctx_train = 8192,
       .n_embd = 4096,
       .n_layer = 32,
       .n_head = 32,
       .n_head_kv = 8,
       .n_ff = 14336,
       .rope_base = 500000.0f,
       .vocab_file = "ggml-vocab-deepseek-llm.gguf"},
      {.name = "qwen2-0.5b",
       .model_name = "Qwen2 0.5B",
       .architecture = "qwen2",
       .n_vocab = 151936,
       .n_ctx_train = 32768,
       .n_embd = 896,
       .n_layer = 24,
       .n_head = 14,
       .n_head_kv = 2,
       .n_ff = 4864,
       .rope_base = 1000000.0f,
       .rms_eps = 1e-6f,
       .tied_embeddings = true,
       .qkv_bias = true,
       .vocab_file = "ggml-vocab-deepseek-llm.gguf"},
      {.name = "qwen2-1.5b",
       .model_name = "Qwen2 1.5B",
       .architecture = "qwen2",
       .n_vocab = 151936,
       .n_ctx_train = 32768,
       .n_embd = 1536,
       .n_layer = 28,
       .n_head = 12,
       .n_head_kv = 2,
       .n_ff = 8960,
       .rope_base = 1000000.0f,
       .rms_eps = 1e-6f,
       .tied_embeddings = true,
       .qkv_bias = true,
       .vocab_file = "ggml-vocab-deepseek-llm.gguf"},
  };
  return all;
}

std::string synth_shape_names() {
  std::string names;
  for (const auto& s : synth_shapes()) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

const SynthShape* find_synth_shape(const std::string& name) {
  for (const auto& s : synth_shapes())
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<SynthTensor> synth_tensors(const SynthShape& s) {
  const int64_t q_dim = s.n_head * s.head_dim();
  const int64_t kv_dim = s.n_head_kv * s.head_dim();
  std::vector<SynthTensor> out;
  out.push_back({"token_embd.weight", {s.n_embd, s.n_vocab}});
  for (int64_t i = 0; i < s.n_layer; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    out.push_back({blk + "attn_norm.weight", {s.n_embd}, true});
    out.push_back({blk + "attn_q.weight", {s.n_embd, q_dim}});
    if (s.qkv_bias) out.push_back({blk + "attn_q.bias", {q_dim}, false, true});
    out.push_back({blk + "attn_k.weight", {s.n_embd, kv_dim}});
    if (s.qkv_bias) out.push_back({blk + "attn_k.bias", {kv_dim}, false, true});
    out.push_back({blk + "attn_v.weight", {s.n_embd, kv_dim}});
    if (s.qkv_bias) out.push_back({blk + "attn_v.bias", {kv_dim}, false, true});
    out.push_back({blk + "attn_output.weight", {q_dim, s.n_embd}});
    out.push_back({blk + "ffn_norm.weight", {s.n_embd}, true});
    out.push_back({blk + "ffn_gate.weight", {s.n_embd, s.n_ff}});
    out.push_back({blk + "ffn_down.weight", {s.n_ff, s.n_embd}});
    out.push_back({blk + "ffn_up.weight", {s.n_embd, s.n_ff}});
  }
  out.push_back({"output_norm.weight", {s.n_embd}, true});
  if (!s.tied_embeddings) out.push_back({"output.weight", {s.n_embd, s.n_vocab}});
  return out;
}

}  // namespace hearth::cli
