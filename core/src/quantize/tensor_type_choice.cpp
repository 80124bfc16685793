#include "quantize/tensor_type_choice.hpp"

#include <hearth/gguf.hpp>

namespace hearth::detail {
namespace {

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between.
bool use_more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

std::optional<int64_t> layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return std::nullopt;
  return std::stoll(name.substr(4, name.find('.', 4) - 4));
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

const std::vector<RecipeRule>& recipe_rules() {
  static const std::vector<RecipeRule> rules = {
      {"F32", "32-bit floats", HEARTH_DTYPE_F32, {}, {}, 0},
      {"F16", "16-bit floats", HEARTH_DTYPE_F16, {}, {}, 1},
      {"BF16", "bfloat16", HEARTH_DTYPE_BF16, {}, {}, 32},
      {"Q8_0", "8.5 bits per weight", HEARTH_DTYPE_Q8_0, {}, {}, 7},
      {"Q5_1", "6 bits per weight", HEARTH_DTYPE_Q5_1, {}, {}, 9},
      {"Q5_0", "5.5 bits per weight", HEARTH_DTYPE_Q5_0, {}, {}, 8},
      {"Q4_1", "5 bits per weight", HEARTH_DTYPE_Q4_1, {}, {}, 3},
      {"Q4_0", "4.5 bits per weight", HEARTH_DTYPE_Q4_0, {}, {}, 2},
      {"Q6_K", "6.56 bits per weight", HEARTH_DTYPE_Q6_K, {}, {}, 18},
      {"Q5_K_M", "Q5_K, with Q6_K for attn_v/ffn_down of some layers and the output head",
       HEARTH_DTYPE_Q5_K, HEARTH_DTYPE_Q6_K, HEARTH_DTYPE_Q6_K, 17},
      {"Q4_K_M", "Q4_K, with Q6_K for attn_v/ffn_down of some layers and the output head",
       HEARTH_DTYPE_Q4_K, HEARTH_DTYPE_Q6_K, HEARTH_DTYPE_Q6_K, 15},
      {"Q4_K_S",
       "Q4_K everywhere but the output head (Q6_K)",
       HEARTH_DTYPE_Q4_K,
       {},
       HEARTH_DTYPE_Q6_K,
       14},
      // Hearth's own type (plugins/format-nf4): no llama_ftype exists; file_type is the dtype id.
      {"NF4",
       "4.5 bits per weight: bitsandbytes NF4, blocksize 64 (Hearth type); token_embd "
       "and the output head Q8_0, rows not a multiple of 64 F16",
       HEARTH_DTYPE_NF4,
       {},
       HEARTH_DTYPE_Q8_0,
       HEARTH_DTYPE_NF4},
  };
  return rules;
}

hearth_dtype fit_row(hearth_dtype type, int64_t n) {
  auto layout = gguf_builtin_type_layout(type);
  if (!layout || n % layout->block_elems == 0) return type;
  switch (type) {
    case HEARTH_DTYPE_Q2_K:
    case HEARTH_DTYPE_Q3_K:
    case HEARTH_DTYPE_Q4_K:
      return fit_row(HEARTH_DTYPE_Q5_0, n);
    case HEARTH_DTYPE_Q5_K:
      return fit_row(HEARTH_DTYPE_Q5_1, n);
    case HEARTH_DTYPE_Q6_K:
      return fit_row(HEARTH_DTYPE_Q8_0, n);
    default:
      return HEARTH_DTYPE_F16;
  }
}

std::optional<hearth_dtype> choose_type(const RecipeRule& recipe, const std::string& name,
                                        const std::vector<int64_t>& ne, int64_t n_layer) {
  if (ne.size() < 2 || contains(name, "_norm") || contains(name, "rope_freqs")) return std::nullopt;
  hearth_dtype type = recipe.base;
  if (name == "output.weight" && recipe.output) type = *recipe.output;
  // bitsandbytes leaves embeddings unquantized; an 8-bit table keeps them close at half the size.
  if (recipe.base == HEARTH_DTYPE_NF4 && name == "token_embd.weight") type = HEARTH_DTYPE_Q8_0;
  if (recipe.more_bits && (contains(name, "attn_v.weight") || contains(name, "ffn_down.weight"))) {
    if (auto layer = layer_of(name); layer && use_more_bits(*layer, n_layer))
      type = *recipe.more_bits;
  }
  return fit_row(type, ne[0]);
}

}  // namespace hearth::detail
