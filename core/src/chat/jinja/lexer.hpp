// Splits template source into text and tag tokens the way jinja2's lexer does with
// trim_blocks and lstrip_blocks on: {%- -%} {{- -}} {#- -#} strip whitespace, {%+ keeps it,
// a block or comment tag alone on its line takes the line's indentation and newline with it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja {

// A template that does not parse, with the 1-based line and column of the problem.
class SyntaxError : public std::runtime_error {
 public:
  SyntaxError(const std::string& message, int line, int column)
      : std::runtime_error(message), line_(line), column_(column) {}
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  int line_;
  int column_;
};

enum class TokenType {
  Text,
  VariableBegin,  // {{
  VariableEnd,    // }}
  BlockBegin,     // {%
  BlockEnd,       // %}
  Name,
  String,
  Integer,
  Float,
  Operator,
  End,
};

struct Token {
  TokenType type;
  std::string text;  // text, name, operator, or a string literal's value
  int64_t integer = 0;
  double real = 0;
  int line = 0;
  int column = 0;
};

// jinja2 reads templates with \r\n and \r turned into \n and one trailing newline dropped.
std::string normalize_newlines(std::string_view source);

// Tokens of normalized source, ending with an End token. Throws SyntaxError.
std::vector<Token> tokenize(std::string_view source);

}  // namespace hearth::jinja
