// Python's operators and builtins on template values: str(), repr(), ==, <, +, -, *, /, //, %,
// **, `in`, len(), iter(). They raise the TypeError/UndefinedError Python raises.
#pragma once

#include "jinja/value.hpp"

#include <string>

namespace hearth::jinja {

// Raises the error an undefined value carries (UndefinedError, or SecurityError when unsafe).
[[noreturn]] void fail_undefined(const Value& undefined);

std::string to_str(const Value& v);   // str(v); Undefined prints as ""
std::string to_repr(const Value& v);  // repr(v)

bool equals(const Value& a, const Value& b);
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };
// Python's comparison; ordering across unrelated types is a TypeError, as in Python 3.
bool compare(CompareOp op, const Value& a, const Value& b);

enum class BinaryOp { Add, Sub, Mul, TrueDiv, FloorDiv, Mod, Pow };
Value binary(BinaryOp op, const Value& a, const Value& b);
Value negate(const Value& v);
Value positive(const Value& v);
Value concat(const Value& a, const Value& b);  // jinja's `~`: str(a) + str(b)

bool contains(const Value& container, const Value& item);  // `item in container`
int64_t length(const Value& v);                            // len(v)
// The items a for loop sees (dict → keys, str → characters); consumes an iterator.
List iterate(const Value& v);

}  // namespace hearth::jinja
