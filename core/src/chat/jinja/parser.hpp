// Parses template source into a Program with jinja2's grammar and operator precedence.
// Unknown filters and tests, unsupported tags and misplaced break/continue are rejected here,
// as jinja2 rejects them when compiling. Throws SyntaxError with line and column.
#pragma once

#include "jinja/ast.hpp"

#include <string_view>

namespace hearth::jinja {

Program parse(std::string_view source);

}  // namespace hearth::jinja
