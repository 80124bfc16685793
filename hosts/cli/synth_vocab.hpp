// The tokenizer of a `hearth synth` model: a real vocabulary GGUF's tokenizer.* keys, padded
// with unused tokens to the model's vocabulary size, so `hearth run` can take text.
#pragma once

#include <hearth/gguf.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "synth_shapes.hpp"

namespace hearth::cli {

// The vocabulary file: `explicit_file` if given, else the shape's file in $HEARTH_VOCAB_DIR,
// else in $HEARTH_SHARED_DIR/models/vocab. Throws hearth::Error saying where it looked.
std::filesystem::path find_vocab_file(const std::optional<std::string>& explicit_file,
                                      const SynthShape& shape);

// Copies every tokenizer.* key of vocab_file into writer. If the vocabulary is smaller than
// n_vocab it is padded with "[PADn]" tokens of type UNUSED (score -1000), as llama.cpp's
// converters pad; a larger vocabulary is an error.
void add_vocab(GgufWriter& writer, const std::filesystem::path& vocab_file, int64_t n_vocab);

}  // namespace hearth::cli
