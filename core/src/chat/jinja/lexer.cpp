#include "jinja/lexer.hpp"

#include "jinja/py_string.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

namespace hearth::jinja {
namespace {

constexpr std::array<std::string_view, 26> kOperators = {
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "[",
    "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(source) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string_view::npos) {
        emit_text(src_.substr(pos_), pos_);
        pos_ = src_.size();
        break;
      }
      lex_tag(tag);
    }
    push(TokenType::End, "", src_.size());
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string_view::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return std::string_view::npos;
  }

  std::pair<int, int> position(size_t offset) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
    const size_t start = *it;
    const std::string_view line = src_.substr(start, offset - start);
    return {static_cast<int>(it - line_starts_.begin()) + 1,
            static_cast<int>(py::length(line)) + 1};
  }

  [[noreturn]] void fail(const std::string& message, size_t offset) const {
    const auto [line, column] = position(offset);
    throw SyntaxError(message, line, column);
  }

  Token& push(TokenType type, std::string text, size_t offset) {
    const auto [line, column] = position(offset);
    tokens_.push_back(Token{type, std::move(text), 0, 0, line, column});
    return tokens_.back();
  }

  void emit_text(std::string_view text, size_t offset) {
    if (!text.empty()) push(TokenType::Text, std::string(text), offset);
  }

  // Whitespace (str.isspace) length at `at`, 0 if none.
  size_t space_at(size_t at) const {
    if (at >= src_.size()) return 0;
    const auto b = static_cast<unsigned char>(src_[at]);
    if (b < 0x80) return py::is_space(b) ? 1 : 0;
    size_t n = 1;
    while (at + n < src_.size() && (static_cast<unsigned char>(src_[at + n]) & 0xC0) == 0x80) ++n;
    const std::u32string cp = py::decode(src_.substr(at, n));
    return cp.size() == 1 && py::is_space(cp[0]) ? n : 0;
  }

  size_t skip_space(size_t at) const {
    while (size_t n = space_at(at)) at += n;
    return at;
  }

  static std::string_view rstrip(std::string_view text) {
    const std::u32string cps = py::decode(text);
    size_t keep = cps.size();
    while (keep > 0 && py::is_space(cps[keep - 1])) --keep;
    size_t bytes = 0;
    for (size_t i = 0; i < keep; ++i) {
      std::string tmp;
      py::append_utf8(tmp, cps[i]);
      bytes += tmp.size();
    }
    return text.substr(0, bytes);
  }

  static bool all_space(std::string_view text) {
    for (char32_t c : py::decode(text))
      if (!py::is_space(c)) return false;
    return !text.empty();
  }

  // The text before a tag, after whitespace control: `sign` is '-', '+' or 0.
  std::string_view control_text(std::string_view text, char sign, bool lstrip) const {
    if (sign == '-') return rstrip(text);
    if (sign == '+' || !lstrip) return text;
    const size_t newline = text.rfind('\n');
    const size_t line_begin = newline == std::string_view::npos ? 0 : newline + 1;
    if ((line_begin > 0 || line_starting_) && all_space(text.substr(line_begin)))
      return text.substr(0, line_begin);
    return text;
  }

  void finish_tag(size_t end) {
    pos_ = end;
    line_starting_ = end > 0 && src_[end - 1] == '\n';
  }

  // {% raw %} (with optional - / + signs) at `tag`: the length of the opening tag, or 0.
  size_t raw_begin_length(size_t tag) const {
    size_t p = tag + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p = skip_space(p);
    if (src_.substr(p, 3) != "raw" || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return 0;
    p = skip_space(p + 3);
    if (src_.substr(p, 3) == "-%}") return skip_space(p + 3) - tag;
    if (src_.substr(p, 2) == "%}") return p + 2 - tag;
    return 0;
  }

  void lex_tag(size_t tag) {
    const char kind = src_[tag + 1];
    const char sign =
        tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
    emit_text(control_text(src_.substr(pos_, tag - pos_), sign, kind != '{'), pos_);
    if (kind == '%') {
      if (const size_t raw = raw_begin_length(tag)) return lex_raw(tag, tag + raw);
    }
    const size_t body = tag + 2 + (sign ? 1 : 0);
    if (kind == '#') return lex_comment(tag, body);
    push(kind == '{' ? TokenType::VariableBegin : TokenType::BlockBegin, "", tag);
    lex_tag_body(kind == '%', tag, body);
  }

  void lex_comment(size_t tag, size_t body) {
    const size_t close = src_.find("#}", body);
    if (close == std::string_view::npos) fail("unclosed comment: missing '#}'", tag);
    const char sign =
        close > body && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
    size_t end = close + 2;
    if (sign == '-') end = skip_space(end);
    if (!sign && end < src_.size() && src_[end] == '\n') ++end;
    finish_tag(end);
  }

  void lex_raw(size_t tag, size_t body) {
    // The text up to {% endraw %} is output as is.
    for (size_t at = src_.find("{%", body); at != std::string_view::npos;
         at = src_.find("{%", at + 2)) {
      size_t p = at + 2;
      const char sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
      if (sign) ++p;
      p = skip_space(p);
      if (src_.substr(p, 6) != "endraw") continue;
      p = skip_space(p + 6);
      size_t end = 0;
      if (src_.substr(p, 3) == "+%}") {
        end = p + 3;
      } else if (src_.substr(p, 3) == "-%}") {
        end = skip_space(p + 3);
      } else if (src_.substr(p, 2) == "%}") {
        end = p + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
      } else {
        continue;
      }
      pos_ = body;
      line_starting_ = body > 0 && src_[body - 1] == '\n';
      emit_text(control_text(src_.substr(body, at - body), sign, true), body);
      finish_tag(end);
      return;
    }
    fail("missing end of raw directive ({% endraw %})", tag);
  }

  // Length of the tag's end marker at `p` (0 if none), and where the text after it starts.
  std::optional<size_t> tag_end(bool block, size_t p) const {
    if (block) {
      if (src_.substr(p, 3) == "+%}") return p + 3;
      if (src_.substr(p, 3) == "-%}") return skip_space(p + 3);
      if (src_.substr(p, 2) == "%}") {
        size_t end = p + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;  // trim_blocks
        return end;
      }
      return std::nullopt;
    }
    if (src_.substr(p, 3) == "-}}") return skip_space(p + 3);
    if (src_.substr(p, 2) == "}}") return p + 2;
    return std::nullopt;
  }

  void lex_tag_body(bool block, size_t tag, size_t p) {
    std::vector<std::pair<char, size_t>> brackets;
    for (;;) {
      if (p >= src_.size())
        fail(std::string("unexpected end of template: the tag opened here is not closed with '") +
                 (block ? "%}" : "}}") + "'",
             tag);
      if (brackets.empty()) {
        if (const auto end = tag_end(block, p)) {
          push(block ? TokenType::BlockEnd : TokenType::VariableEnd, "", p);
          finish_tag(*end);
          return;
        }
      }
      if (const size_t n = space_at(p)) {
        p += n;
        continue;
      }
      const char c = src_[p];
      if (is_digit(c)) {
        p = lex_number(p);
      } else if (is_name_start(c)) {
        size_t e = p;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        push(TokenType::Name, std::string(src_.substr(p, e - p)), p);
        p = e;
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        p = lex_operator(p, brackets);
      }
    }
  }

  size_t lex_number(size_t p) {
    // Digits with single underscores between them, as jinja2 (and Python) allow.
    auto digits_end = [&](size_t q) {
      while (q < src_.size() && is_digit(src_[q])) {
        ++q;
        if (q + 1 < src_.size() && src_[q] == '_' && is_digit(src_[q + 1])) ++q;
      }
      return q;
    };
    size_t e = digits_end(p);
    bool is_float = false;
    // A float unless the number follows a '.', as in foo.0.1 (jinja2's (?<!\.) rule).
    const bool after_dot = p > 0 && src_[p - 1] == '.';
    if (!after_dot && e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
      e = digits_end(e + 1);
      is_float = true;
    }
    if (!after_dot && e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t q = e + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && is_digit(src_[q])) {
        e = digits_end(q);
        is_float = true;
      }
    }
    std::string text;
    for (char ch : src_.substr(p, e - p))
      if (ch != '_') text += ch;
    Token& token = push(is_float ? TokenType::Float : TokenType::Integer, text, p);
    if (is_float) {
      const auto r = std::from_chars(text.data(), text.data() + text.size(), token.real);
      if (r.ec != std::errc()) fail("invalid number '" + text + "'", p);
    } else {
      const auto r = std::from_chars(text.data(), text.data() + text.size(), token.integer);
      if (r.ec != std::errc()) fail("integer literal too large: " + text, p);
    }
    return e;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Python's unicode-escape decoding of a string literal's body.
  std::string unescape(std::string_view raw, size_t offset) const {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\' || i + 1 >= raw.size()) {
        out += raw[i];
        continue;
      }
      const char e = raw[++i];
      switch (e) {
        case '\n':
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t width = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (size_t k = 1; k <= width; ++k) {
            const int h = i + k < raw.size() ? hex_value(raw[i + k]) : -1;
            if (h < 0) fail(std::string("truncated \\") + e + " escape in string literal", offset);
            cp = cp * 16 + static_cast<uint32_t>(h);
          }
          if (cp > 0x10FFFF) fail("illegal Unicode character in string literal", offset);
          py::append_utf8(out, cp);
          i += width;
          break;
        }
        case 'N':
          fail("\\N{...} escapes are not supported in string literals", offset);
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7';
                 ++k)
              cp = cp * 8 + static_cast<uint32_t>(raw[++i] - '0');
            py::append_utf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    return out;
  }

  size_t lex_string(size_t p) {
    const char quote = src_[p];
    size_t q = p + 1;
    while (q < src_.size() && src_[q] != quote) q += src_[q] == '\\' ? 2 : 1;
    if (q >= src_.size())
      fail(std::string("unterminated string literal (missing ") + quote + ")", p);
    push(TokenType::String, unescape(src_.substr(p + 1, q - p - 1), p), p);
    return q + 1;
  }

  size_t lex_operator(size_t p, std::vector<std::pair<char, size_t>>& brackets) {
    for (std::string_view op : kOperators) {
      if (src_.substr(p, op.size()) != op) continue;
      const char c = op[0];
      if (op.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        brackets.emplace_back(c == '(' ? ')' : c == '[' ? ']' : '}', p);
      } else if (op.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (brackets.empty()) fail(std::string("unexpected '") + c + "'", p);
        if (brackets.back().first != c)
          fail(std::string("unexpected '") + c + "', expected '" + brackets.back().first + "'", p);
        brackets.pop_back();
      }
      push(TokenType::Operator, std::string(op), p);
      return p + op.size();
    }
    const std::u32string cp = py::decode(src_.substr(p, 4));
    std::string shown;
    py::append_utf8(shown, cp.empty() ? U'?' : cp[0]);
    fail("unexpected character '" + shown + "' in tag", p);
  }

  std::string_view src_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace hearth::jinja
