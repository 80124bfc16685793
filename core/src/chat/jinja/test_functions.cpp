// jinja2's builtin tests (`x is defined`, `x is divisibleby 3`...), with Python's type rules:
// bool is a number, Undefined is iterable and a sequence, a dict is a sequence.
#include "jinja/builtins.hpp"
#include "jinja/call_args.hpp"
#include "jinja/py_string.hpp"
#include "jinja/render_error.hpp"
#include "jinja/value_ops.hpp"

namespace hearth::jinja {
namespace {

// A test that takes no argument besides the value.
template <bool (*Check)(const Value&)>
bool unary(const Value& v, CallArgs& args) {
  BoundArgs a("test", args, {});
  return Check(v);
}

bool is_defined(const Value& v) { return !v.is_undefined(); }
bool is_undefined(const Value& v) { return v.is_undefined(); }
bool is_none(const Value& v) { return v.is_none(); }
bool is_boolean(const Value& v) { return v.kind() == Kind::Bool; }
bool is_true(const Value& v) { return v.kind() == Kind::Bool && v.as_bool(); }
bool is_false(const Value& v) { return v.kind() == Kind::Bool && !v.as_bool(); }
bool is_integer(const Value& v) { return v.kind() == Kind::Int; }
bool is_float(const Value& v) { return v.kind() == Kind::Float; }
bool is_number(const Value& v) { return v.is_number(); }
bool is_string(const Value& v) { return v.is_string(); }
bool is_mapping(const Value& v) { return v.kind() == Kind::Dict; }
bool is_escaped(const Value& v) { return v.is_safe(); }
// callable(Undefined) is true in Python: Undefined defines __call__ (to raise).
bool is_callable(const Value& v) { return v.kind() == Kind::Callable || v.is_undefined(); }

bool is_iterable(const Value& v) {
  switch (v.kind()) {
    case Kind::String:
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict:
    case Kind::Iterator:
    case Kind::Undefined:
      return true;
    default:
      return false;
  }
}

// jinja2: len() and __getitem__ work, which includes dicts and Undefined but not iterators.
bool is_sequence(const Value& v) {
  switch (v.kind()) {
    case Kind::String:
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict:
    case Kind::Undefined:
      return true;
    default:
      return false;
  }
}

bool is_lower(const Value& v) {
  const std::string s = to_str(v);
  return py::lower(s) == s && py::upper(s) != s;
}

bool is_upper(const Value& v) {
  const std::string s = to_str(v);
  return py::upper(s) == s && py::lower(s) != s;
}

bool is_odd(const Value& v) {
  return equals(binary(BinaryOp::Mod, v, Value::integer(2)), Value::integer(1));
}

bool is_even(const Value& v) {
  return equals(binary(BinaryOp::Mod, v, Value::integer(2)), Value::integer(0));
}

bool is_filter_name(const Value& v) { return v.is_string() && find_filter(v.as_string()); }
bool is_test_name(const Value& v) { return v.is_string() && find_test(v.as_string()); }

bool t_divisibleby(const Value& v, CallArgs& args) {
  BoundArgs a("divisibleby", args, {"num"});
  return equals(binary(BinaryOp::Mod, v, a.required(0)), Value::integer(0));
}

bool t_in(const Value& v, CallArgs& args) {
  BoundArgs a("in", args, {"seq"});
  return contains(a.required(0), v);
}

template <CompareOp Op>
bool t_compare(const Value& v, CallArgs& args) {
  BoundArgs a("compare", args, {"other"});
  return compare(Op, v, a.required(0));
}

// `is sameas`: Python identity. Shared objects compare by identity; None, booleans and small
// integers are singletons in CPython; strings are approximated by equality.
bool t_sameas(const Value& v, CallArgs& args) {
  BoundArgs a("sameas", args, {"other"});
  const Value& other = a.required(0);
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Kind::None:
    case Kind::Undefined:
      return v.kind() == Kind::None;
    case Kind::Bool:
      return v.as_bool() == other.as_bool();
    case Kind::Int:
      return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    case Kind::Float:
      return false;
    case Kind::String:
      return v.as_string() == other.as_string();
    default:
      return v.identity() == other.identity();
  }
}

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

constexpr TestEntry kTests[] = {
    {"boolean", unary<is_boolean>},
    {"callable", unary<is_callable>},
    {"defined", unary<is_defined>},
    {"divisibleby", t_divisibleby},
    {"eq", t_compare<CompareOp::Eq>},
    {"equalto", t_compare<CompareOp::Eq>},
    {"==", t_compare<CompareOp::Eq>},
    {"escaped", unary<is_escaped>},
    {"even", unary<is_even>},
    {"false", unary<is_false>},
    {"filter", unary<is_filter_name>},
    {"float", unary<is_float>},
    {"ge", t_compare<CompareOp::Ge>},
    {">=", t_compare<CompareOp::Ge>},
    {"gt", t_compare<CompareOp::Gt>},
    {"greaterthan", t_compare<CompareOp::Gt>},
    {">", t_compare<CompareOp::Gt>},
    {"in", t_in},
    {"integer", unary<is_integer>},
    {"iterable", unary<is_iterable>},
    {"le", t_compare<CompareOp::Le>},
    {"<=", t_compare<CompareOp::Le>},
    {"lower", unary<is_lower>},
    {"lt", t_compare<CompareOp::Lt>},
    {"lessthan", t_compare<CompareOp::Lt>},
    {"<", t_compare<CompareOp::Lt>},
    {"mapping", unary<is_mapping>},
    {"ne", t_compare<CompareOp::Ne>},
    {"!=", t_compare<CompareOp::Ne>},
    {"none", unary<is_none>},
    {"number", unary<is_number>},
    {"odd", unary<is_odd>},
    {"sameas", t_sameas},
    {"sequence", unary<is_sequence>},
    {"string", unary<is_string>},
    {"test", unary<is_test_name>},
    {"true", unary<is_true>},
    {"undefined", unary<is_undefined>},
    {"upper", unary<is_upper>},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const auto& t : kTests)
    if (t.name == name) return t.fn;
  return nullptr;
}

bool apply_test(std::string_view name, const Value& input, CallArgs& args) {
  TestFn fn = find_test(name);
  if (!fn)
    throw RenderError(ErrorKind::RuntimeError, "No test named '" + std::string(name) + "' found.");
  return fn(input, args);
}

}  // namespace hearth::jinja
