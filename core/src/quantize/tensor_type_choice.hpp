// Which type each tensor gets under a recipe (llama.cpp's llama_tensor_get_type, for the
// recipes Hearth offers).
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hearth::detail {

struct RecipeRule {
  std::string name;
  std::string description;
  hearth_dtype base;
  // K-quant mixes: attn_v / ffn_down of some layers and the output head get more bits.
  std::optional<hearth_dtype> more_bits;
  std::optional<hearth_dtype> output;
  uint32_t file_type;  // llama.cpp's general.file_type (llama_ftype)
};

const std::vector<RecipeRule>& recipe_rules();

// The type for tensor `name` (ne = its shape) in a model with n_layer layers; nullopt = keep
// it as F32 (1-D tensors and norms).
std::optional<hearth_dtype> choose_type(const RecipeRule& recipe, const std::string& name,
                                        const std::vector<int64_t>& ne, int64_t n_layer);

// A type whose blocks divide a row of n elements: K-quants (256) fall back as llama.cpp does.
hearth_dtype fit_row(hearth_dtype type, int64_t n);

}  // namespace hearth::detail
