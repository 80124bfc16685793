#include "server/served_model.hpp"

#include <map>
#include <system_error>

#include "server/api_error.hpp"

namespace hearth::server {
namespace {

// The quantization most of the model's matrices use, as Ollama's details report it.
std::string main_tensor_type(const GgufFile& file) {
  std::map<std::string, uint64_t> bytes_by_type;
  for (const auto& t : file.tensors())
    if (t.ne.size() >= 2)
      if (auto layout = gguf_builtin_type_layout(t.type)) bytes_by_type[layout->name] += t.nbytes;
  std::string best = "unknown";
  uint64_t most = 0;
  for (const auto& [name, bytes] : bytes_by_type)
    if (bytes > most) most = bytes, best = name;
  return best;
}

}  // namespace

ServedModel::ServedModel(std::shared_ptr<const Model> model, const std::filesystem::path& file,
                         std::string name)
    : model_(std::move(model)),
      name_(name.empty() ? file.stem().string() : std::move(name)),
      template_(model_->chat_template() ? ChatTemplate(*model_->chat_template())
                                        : ChatTemplate::chatml()),
      has_own_template_(model_->chat_template().has_value()) {
  std::error_code ec;
  const auto written = std::filesystem::last_write_time(file, ec);
  if (!ec)
    created_ = std::chrono::system_clock::to_time_t(
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(
            std::chrono::file_clock::to_sys(written)));
  file_size_ = model_->gguf().file_size();
  file_type_ = main_tensor_type(model_->gguf());
  for (const auto& t : model_->gguf().tensors())
    parameter_count_ += static_cast<uint64_t>(t.n_elements());
}

bool ServedModel::answers_to(const std::string& requested) const {
  return requested == name_ || requested == name_ + ":latest";
}

std::vector<int32_t> ServedModel::chat_prompt(std::span<const ChatMessage> messages) const {
  const Tokenizer& tok = model_->tokenizer();
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  std::string prompt;
  try {
    prompt = template_.apply(messages, true, bos, eos);
  } catch (const ChatTemplateError& e) {
    throw ApiError(400, std::string("the model's chat template refused the messages: ") + e.what(),
                   "messages");
  }
  const bool add_bos = tok.add_bos_default() && (bos.empty() || prompt.rfind(bos, 0) != 0);
  return tok.encode(prompt, add_bos, true);
}

std::vector<int32_t> ServedModel::text_prompt(const std::string& text) const {
  const Tokenizer& tok = model_->tokenizer();
  return tok.encode(text, tok.add_bos_default(), true);
}

}  // namespace hearth::server
