#include <hearth/chat_template.hpp>

#include "jinja/interpreter.hpp"
#include "jinja/lexer.hpp"
#include "jinja/parser.hpp"
#include "jinja/py_string.hpp"
#include "jinja/render_error.hpp"

#include <limits>

namespace hearth {
namespace {

// The template transformers and llama.cpp use for models without one.
constexpr const char* kChatMl =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

std::string located(const std::string& message, int line, int column) {
  std::string where = "chat template line " + std::to_string(line);
  if (column > 0) where += ", column " + std::to_string(column);
  return where + ": " + message;
}

void check_utf8(const std::string& text, const std::string& path) {
  if (auto bad = jinja::py::invalid_utf8_offset(text))
    throw ChatTemplateError("the chat template context value " + path +
                                " is not valid UTF-8 (byte " + std::to_string(*bad) +
                                "); pass text as UTF-8",
                            0, 0);
}

jinja::Value to_value(const nlohmann::ordered_json& j, const std::string& path) {
  using jinja::Value;
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
    case nlohmann::ordered_json::value_t::discarded:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw ChatTemplateError("the chat template context value " + path + " (" +
                                    std::to_string(u) + ") is too large for a 64-bit integer",
                                0, 0);
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      check_utf8(s, path);
      return Value::string(s);
    }
    case nlohmann::ordered_json::value_t::array: {
      jinja::List items;
      for (size_t i = 0; i < j.size(); ++i)
        items.push_back(to_value(j[i], path + "[" + std::to_string(i) + "]"));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      jinja::Dict d;
      for (const auto& [key, value] : j.items()) {
        check_utf8(key, path + " key");
        d.set(key, to_value(value, path + "." + key));
      }
      return Value::dict(std::move(d));
    }
    case nlohmann::ordered_json::value_t::binary:
      break;
  }
  throw ChatTemplateError(
      "the chat template context value " + path + " is binary data, which a template cannot use", 0,
      0);
}

std::tm local_now() {
  const std::time_t t = std::time(nullptr);
  std::tm now{};
  localtime_r(&t, &now);
  return now;
}

}  // namespace

ChatTemplateError::ChatTemplateError(const std::string& message, int line, int column)
    : Error(line > 0 ? located(message, line, column) : message), line_(line), column_(column) {}

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)) {
  if (auto bad = jinja::py::invalid_utf8_offset(source_))
    throw ChatTemplateError(
        "the chat template is not valid UTF-8 (byte " + std::to_string(*bad) + ")", 0, 0);
  try {
    program_ =
        std::make_shared<const jinja::Program>(jinja::parse(jinja::normalize_newlines(source_)));
  } catch (const jinja::SyntaxError& e) {
    throw ChatTemplateError(std::string("syntax error: ") + e.what(), e.line(), e.column());
  }
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return render(context, local_now());
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context, const std::tm& now) const {
  if (!context.is_object())
    throw ChatTemplateError(
        "the chat template context must be a JSON object, not " + std::string(context.type_name()),
        0, 0);
  const jinja::Value values = to_value(context, "context");
  jinja::Interpreter interpreter(now);
  try {
    return interpreter.render(*program_, values.as_dict());
  } catch (const jinja::RenderError& e) {
    if (e.kind() == jinja::ErrorKind::TemplateError)
      throw ChatTemplateError(std::string("the template raised an error: ") + e.what(), e.line(),
                              0);
    throw ChatTemplateError(std::string(jinja::error_kind_name(e.kind())) + ": " + e.what(),
                            e.line(), 0);
  }
}

std::string ChatTemplate::apply(std::span<const ChatMessage> messages, bool add_generation_prompt,
                                const std::string& bos_token, const std::string& eos_token) const {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = to_json(messages);
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = bos_token;
  context["eos_token"] = eos_token;
  return render(context);
}

ChatTemplate ChatTemplate::chatml() { return ChatTemplate(kChatMl); }

nlohmann::ordered_json to_json(std::span<const ChatMessage> messages) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) {
    nlohmann::ordered_json message = nlohmann::ordered_json::object();
    message["role"] = m.role;
    message["content"] = m.content;
    if (!m.extra.is_null() && !m.extra.is_object())
      throw ChatTemplateError(
          "ChatMessage::extra must be a JSON object (message with role '" + m.role + "')", 0, 0);
    if (m.extra.is_object())
      for (const auto& [key, value] : m.extra.items()) message[key] = value;
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace hearth
