// Unicode normalization for tokenizer.json normalizers (Qwen's "NFC"), through ICU.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer_detail {

enum class NormalForm { Nfc, Nfd, Nfkc, Nfkd };

// Applies the forms in order to valid UTF-8.
std::string normalize(std::string_view text, const std::vector<NormalForm>& forms);

}  // namespace hearth::tokenizer_detail
