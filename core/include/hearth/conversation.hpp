// A multi-turn chat on a model: messages rendered with the model's chat template (or ChatML),
// the KV cache reused for the part of the conversation that did not change, and the oldest
// turns dropped when the conversation outgrows the context.
#pragma once

#include <hearth/chat_template.hpp>
#include <hearth/generate.hpp>
#include <hearth/session.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hearth {

class Conversation {
 public:
  // template_source: nullopt = the model's tokenizer.chat_template, or ChatML without one.
  Conversation(std::shared_ptr<const Model> model, SessionOptions options,
               std::optional<std::string> template_source = std::nullopt);

  void add(std::string role, std::string content);
  // Generates the assistant's reply to the conversation so far, streams it, and adds it.
  GenerateStats respond(Sampler& sampler, GenerateOptions options, const TextCallback& on_text);

  const std::vector<ChatMessage>& messages() const { return messages_; }
  // Turns dropped so far to fit the context.
  size_t dropped_messages() const { return dropped_; }
  bool uses_model_template() const { return uses_model_template_; }
  Session& session() { return session_; }

 private:
  std::vector<int32_t> render_tokens() const;
  std::shared_ptr<const Model> model_;
  Session session_;
  ChatTemplate template_;
  bool uses_model_template_ = false;
  std::vector<ChatMessage> messages_;
  size_t dropped_ = 0;
};

}  // namespace hearth
