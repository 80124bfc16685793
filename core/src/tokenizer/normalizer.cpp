#include "tokenizer/normalizer.hpp"

#include <hearth/error.hpp>

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

namespace hearth::tokenizer_detail {

namespace {

const icu::Normalizer2& instance(NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::Nfc:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case NormalForm::Nfd:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case NormalForm::Nfkc:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case NormalForm::Nfkd:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || n == nullptr)
    throw Error(std::string("ICU has no Unicode normalizer: ") + u_errorName(status) +
                "; check the ICU data library (libicu) is installed.");
  return *n;
}

}  // namespace

std::string normalize(std::string_view text, const std::vector<NormalForm>& forms) {
  if (forms.empty()) return std::string(text);
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  for (NormalForm form : forms) {
    UErrorCode status = U_ZERO_ERROR;
    s = instance(form).normalize(s, status);
    if (U_FAILURE(status))
      throw Error(std::string("Unicode normalization failed: ") + u_errorName(status));
  }
  std::string out;
  s.toUTF8String(out);
  return out;
}

}  // namespace hearth::tokenizer_detail
