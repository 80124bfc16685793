#include <hearth/conversation.hpp>
#include <hearth/error.hpp>

#include <algorithm>

namespace hearth {
namespace {

ChatTemplate choose_template(const Model& model, const std::optional<std::string>& source,
                             bool& uses_model) {
  if (source) return ChatTemplate(*source);
  if (auto from_model = model.chat_template()) {
    uses_model = true;
    return ChatTemplate(*from_model);
  }
  return ChatTemplate::chatml();
}

}  // namespace

Conversation::Conversation(std::shared_ptr<const Model> model, SessionOptions options,
                           std::optional<std::string> template_source)
    : model_(model),
      session_(model, options),
      template_(choose_template(*model, template_source, uses_model_template_)) {}

void Conversation::add(std::string role, std::string content) {
  messages_.push_back(ChatMessage{std::move(role), std::move(content)});
}

std::vector<int32_t> Conversation::render_tokens() const {
  const Tokenizer& tok = model_->tokenizer();
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
  const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
  const std::string prompt = template_.apply(messages_, true, bos, eos);
  // Templates that write the BOS text themselves get no second BOS.
  const bool add_bos = tok.add_bos_default() && (bos.empty() || prompt.rfind(bos, 0) != 0);
  return tok.encode(prompt, add_bos, true);
}

GenerateStats Conversation::respond(Sampler& sampler, GenerateOptions options,
                                    const TextCallback& on_text) {
  if (messages_.empty()) throw Error("the conversation has no messages to respond to");
  // Leave room for a reply: a quarter of the context, at least 16 tokens.
  const int64_t reserve = std::max<int64_t>(16, session_.n_ctx() / 4);
  std::vector<int32_t> tokens = render_tokens();
  while (static_cast<int64_t>(tokens.size()) + reserve > session_.n_ctx()) {
    // Drop the oldest turn after any system message; never the newest message.
    auto first = std::find_if(messages_.begin(), messages_.end(),
                              [](const ChatMessage& m) { return m.role != "system"; });
    if (first == messages_.end() || first + 1 >= messages_.end())
      throw Error("the last message is " + std::to_string(tokens.size()) +
                  " tokens with the template, which leaves no room to reply in a context of " +
                  std::to_string(session_.n_ctx()) + "; use a larger context (-c)");
    messages_.erase(first);
    ++dropped_;
    tokens = render_tokens();
  }
  // Reuse the cached tokens the new prompt starts with; at least one token must be decoded.
  const auto& history = session_.history();
  size_t common = 0;
  while (common < history.size() && common < tokens.size() && history[common] == tokens[common])
    ++common;
  if (common == tokens.size()) --common;
  session_.truncate(static_cast<int64_t>(common));
  const std::span<const int32_t> fresh(tokens.data() + common, tokens.size() - common);

  std::string reply;
  GenerateStats stats = generate(session_, sampler, fresh, options, [&](std::string_view text) {
    reply += text;
    return on_text(text);
  });
  add("assistant", reply);
  return stats;
}

}  // namespace hearth
