// The model as the API presents it: its name, facts for /v1/models and /api/tags, and how
// prompts become tokens (the chat template, or ChatML for a model without one).
#pragma once

#include <hearth/chat_template.hpp>
#include <hearth/model.hpp>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hearth::server {

class ServedModel {
 public:
  ServedModel(std::shared_ptr<const Model> model, const std::filesystem::path& file,
              std::string name);
  const std::shared_ptr<const Model>& model() const { return model_; }
  const std::string& name() const { return name_; }
  // Whether a request's "model" names this one ("name", or Ollama's "name:latest").
  bool answers_to(const std::string& requested) const;
  std::time_t created() const { return created_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& file_type() const { return file_type_; }  // "F32", "Q4_K", ...
  uint64_t parameter_count() const { return parameter_count_; }

  // The messages through the chat template with the assistant's turn opened, as tokens
  // (a template that writes the BOS itself gets no second one). Throws ApiError 400 when the
  // template refuses the messages.
  std::vector<int32_t> chat_prompt(std::span<const ChatMessage> messages) const;
  // Plain text, tokenized as `hearth run` does (BOS as the model asks, special tokens parsed).
  std::vector<int32_t> text_prompt(const std::string& text) const;
  bool has_own_template() const { return has_own_template_; }

 private:
  std::shared_ptr<const Model> model_;
  std::string name_;
  ChatTemplate template_;
  bool has_own_template_;
  std::time_t created_ = 0;
  uint64_t file_size_ = 0;
  std::string file_type_;
  uint64_t parameter_count_ = 0;
};

}  // namespace hearth::server
