// Chat templates: the Jinja templates models ship (GGUF tokenizer.chat_template, Hugging Face
// tokenizer_config.json) rendered the way Hugging Face transformers renders them: Python's jinja2
// with trim_blocks, lstrip_blocks, the loopcontrols extension, an immutable sandbox, and the
// globals raise_exception(msg) and strftime_now(fmt) and the tojson filter transformers installs.
//
// The interpreter implements the subset of Jinja those templates use (see core/src/chat/README.md
// for the list); a template using anything else fails in the constructor with its line and column.
#pragma once

#include <hearth/error.hpp>

#include <nlohmann/json.hpp>

#include <ctime>
#include <memory>
#include <span>
#include <string>

namespace hearth {

namespace jinja {
struct Program;
}

// A template that does not parse (line and column of the problem), or a render that failed
// (line of the template where it failed, column 0): a type error, an undefined value used as
// a string, or the template's own raise_exception("...").
class ChatTemplateError : public Error {
 public:
  ChatTemplateError(const std::string& message, int line, int column);
  int line() const noexcept { return line_; }
  int column() const noexcept { return column_; }

 private:
  int line_;
  int column_;
};

struct ChatMessage {
  std::string role;
  std::string content;
  // Further fields the template may read (tool_calls, tool_call_id, name, reasoning_content...),
  // as a JSON object; a "content" key here replaces `content` (e.g. null for a tool-call turn).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

class ChatTemplate {
 public:
  // Parses the template; throws ChatTemplateError (with line:column) when it does not parse or
  // uses a filter, test or statement the interpreter does not implement.
  explicit ChatTemplate(std::string source);

  // The general form: `context` is what transformers passes to render(): messages,
  // add_generation_prompt, bos_token, eos_token, tools, documents and any extra keys. Objects
  // keep their key order (ordered_json), which tojson output follows. strftime_now() reads the
  // local time, or `now` in the second form (for reproducible output).
  std::string render(const nlohmann::ordered_json& context) const;
  std::string render(const nlohmann::ordered_json& context, const std::tm& now) const;

  // messages, add_generation_prompt, bos_token and eos_token only; `tools` stays undefined.
  std::string apply(std::span<const ChatMessage> messages, bool add_generation_prompt,
                    const std::string& bos_token, const std::string& eos_token) const;

  // The fallback for models without a template: <|im_start|>role\ncontent<|im_end|>\n turns.
  static ChatTemplate chatml();

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const jinja::Program> program_;
};

// The messages as the JSON array render() takes.
nlohmann::ordered_json to_json(std::span<const ChatMessage> messages);

}  // namespace hearth
