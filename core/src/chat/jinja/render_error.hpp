// The errors rendering can raise, named like the Python exceptions jinja2 would raise in the
// same place. Value operations throw them without a line; the interpreter adds the line of the
// expression or statement being evaluated on the way out.
#pragma once

#include <stdexcept>
#include <string>

namespace hearth::jinja {

enum class ErrorKind {
  TypeError,       // wrong operand types, wrong arguments
  UndefinedError,  // an undefined value used for more than printing/testing
  SecurityError,   // a method the sandbox forbids (list.append...)
  ValueError,      // bad argument value
  ZeroDivisionError,
  TemplateError,  // the template's own raise_exception(...)
  RuntimeError,   // limits (recursion depth), unsupported features
};

class RenderError : public std::runtime_error {
 public:
  RenderError(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int line() const { return line_; }
  void set_line(int line) { line_ = line; }

 private:
  ErrorKind kind_;
  int line_ = 0;
};

const char* error_kind_name(ErrorKind kind);

[[noreturn]] inline void type_error(const std::string& message) {
  throw RenderError(ErrorKind::TypeError, message);
}
[[noreturn]] inline void value_error(const std::string& message) {
  throw RenderError(ErrorKind::ValueError, message);
}

}  // namespace hearth::jinja
