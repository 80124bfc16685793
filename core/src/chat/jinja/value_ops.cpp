#include "jinja/value_ops.hpp"

#include "jinja/py_string.hpp"
#include "jinja/render_error.hpp"

#include <cmath>

namespace hearth::jinja {
namespace {

const char* op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "+";
    case BinaryOp::Sub:
      return "-";
    case BinaryOp::Mul:
      return "*";
    case BinaryOp::TrueDiv:
      return "/";
    case BinaryOp::FloorDiv:
      return "//";
    case BinaryOp::Mod:
      return "%";
    case BinaryOp::Pow:
      return "** or pow()";
  }
  return "?";
}

const char* op_symbol(CompareOp op) {
  switch (op) {
    case CompareOp::Eq:
      return "==";
    case CompareOp::Ne:
      return "!=";
    case CompareOp::Lt:
      return "<";
    case CompareOp::Le:
      return "<=";
    case CompareOp::Gt:
      return ">";
    case CompareOp::Ge:
      return ">=";
  }
  return "?";
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  type_error(std::string("unsupported operand type(s) for ") + op_symbol(op) + ": '" +
             a.type_name() + "' and '" + b.type_name() + "'");
}

[[noreturn]] void overflow() {
  throw RenderError(ErrorKind::RuntimeError,
                    "integer overflow (the template engine's integers are 64-bit)");
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}

int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

template <typename T>
bool apply(CompareOp op, const T& a, const T& b) {
  switch (op) {
    case CompareOp::Eq:
      return a == b;
    case CompareOp::Ne:
      return a != b;
    case CompareOp::Lt:
      return a < b;
    case CompareOp::Le:
      return a <= b;
    case CompareOp::Gt:
      return a > b;
    case CompareOp::Ge:
      return a >= b;
  }
  return false;
}

Value repeat(const Value& seq, int64_t times) {
  constexpr int64_t kMaxRepeatedSize = int64_t{1} << 26;
  const auto unit =
      static_cast<int64_t>(seq.is_string() ? seq.as_string().size() : seq.as_list().size());
  if (times > 0 && unit > 0 && times > kMaxRepeatedSize / unit)
    throw RenderError(ErrorKind::RuntimeError, "repetition result too large");
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value::string(std::move(out), seq.is_safe());
  }
  List out;
  for (int64_t i = 0; i < times; ++i)
    out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return seq.kind() == Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
}

bool repeatable(const Value& v) { return v.is_string() || v.is_sequence_like(); }

int64_t floor_div(int64_t a, int64_t b) {
  if (a == INT64_MIN && b == -1) overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double float_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

Value add(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer())
      return Value::integer(checked_add(a.as_int(), b.as_int()));
    return Value::number(a.as_double() + b.as_double());
  }
  if (a.is_string() && b.is_string()) {
    // Markup + str escapes the plain side (markupsafe's __add__/__radd__).
    if (a.is_safe() || b.is_safe()) {
      const std::string left = a.is_safe() ? a.as_string() : py::escape_html(a.as_string());
      const std::string right = b.is_safe() ? b.as_string() : py::escape_html(b.as_string());
      return Value::string(left + right, true);
    }
    return Value::string(a.as_string() + b.as_string());
  }
  if (a.is_string()) type_error("can only concatenate str (not \"" + b.type_name() + "\") to str");
  if (a.kind() == Kind::List || a.kind() == Kind::Tuple) {
    if (b.kind() != a.kind())
      type_error("can only concatenate " + a.type_name() + " (not \"" + b.type_name() + "\") to " +
                 a.type_name());
    List out = a.as_list();
    out.insert(out.end(), b.as_list().begin(), b.as_list().end());
    return a.kind() == Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
  }
  unsupported(BinaryOp::Add, a, b);
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) unsupported(op, a, b);
  const bool ints = a.is_integer() && b.is_integer();
  switch (op) {
    case BinaryOp::Sub: {
      if (!ints) return Value::number(a.as_double() - b.as_double());
      return Value::integer(checked_sub(a.as_int(), b.as_int()));
    }
    case BinaryOp::Mul: {
      if (!ints) return Value::number(a.as_double() * b.as_double());
      return Value::integer(checked_mul(a.as_int(), b.as_int()));
    }
    case BinaryOp::TrueDiv:
      if (b.as_double() == 0.0) throw RenderError(ErrorKind::ZeroDivisionError, "division by zero");
      return Value::number(a.as_double() / b.as_double());
    case BinaryOp::FloorDiv:
      if (ints) {
        if (b.as_int() == 0)
          throw RenderError(ErrorKind::ZeroDivisionError, "integer division or modulo by zero");
        return Value::integer(floor_div(a.as_int(), b.as_int()));
      }
      if (b.as_double() == 0.0)
        throw RenderError(ErrorKind::ZeroDivisionError, "float floor division by zero");
      return Value::number(std::floor(a.as_double() / b.as_double()));
    case BinaryOp::Mod:
      if (ints) {
        if (b.as_int() == 0)
          throw RenderError(ErrorKind::ZeroDivisionError, "integer modulo by zero");
        return Value::integer(floor_mod(a.as_int(), b.as_int()));
      }
      if (b.as_double() == 0.0) throw RenderError(ErrorKind::ZeroDivisionError, "float modulo");
      return Value::number(float_mod(a.as_double(), b.as_double()));
    case BinaryOp::Pow: {
      if (ints && b.as_int() >= 0) {
        int64_t result = 1;
        int64_t base = a.as_int();
        for (int64_t e = b.as_int(); e > 0;) {
          if (e & 1) result = checked_mul(result, base);
          e >>= 1;
          if (e > 0) base = checked_mul(base, base);
        }
        return Value::integer(result);
      }
      if (a.as_double() == 0.0 && b.as_double() < 0)
        throw RenderError(ErrorKind::ZeroDivisionError, "0.0 cannot be raised to a negative power");
      return Value::number(std::pow(a.as_double(), b.as_double()));
    }
    case BinaryOp::Add:
      break;
  }
  unsupported(op, a, b);
}

bool sequence_compare(CompareOp op, const List& a, const List& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (equals(a[i], b[i])) continue;
    if (op == CompareOp::Eq) return false;
    if (op == CompareOp::Ne) return true;
    return compare(op, a[i], b[i]);
  }
  return apply(op, a.size(), b.size());
}

void append_joined(std::string& out, const List& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += to_repr(items[i]);
  }
}

std::string dict_repr(const Dict& d) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : d) {
    if (!first) out += ", ";
    first = false;
    out += py::repr(k) + ": " + to_repr(v);
  }
  return out + "}";
}

}  // namespace

void fail_undefined(const Value& undefined) {
  const Undefined& u = undefined.as_undefined();
  throw RenderError(u.unsafe ? ErrorKind::SecurityError : ErrorKind::UndefinedError,
                    u.message.empty() ? "value is undefined" : u.message);
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return v.as_bool() ? "True" : "False";
    case Kind::Int:
      return std::to_string(v.as_int());
    case Kind::Float:
      return py::format_float(v.as_double());
    case Kind::String:
      return v.as_string();
    case Kind::List: {
      std::string out = "[";
      append_joined(out, v.as_list());
      return out + "]";
    }
    case Kind::Tuple: {
      std::string out = "(";
      append_joined(out, v.as_list());
      if (v.as_list().size() == 1) out += ",";
      return out + ")";
    }
    case Kind::Dict:
      return dict_repr(v.as_dict());
    case Kind::Namespace:
      return "<Namespace " + dict_repr(v.as_namespace().attributes) + ">";
    case Kind::Callable:
      return "<function " + v.as_callable().name + ">";
    case Kind::Iterator:
      return "<generator object>";
  }
  return "";
}

std::string to_repr(const Value& v) {
  if (v.is_string()) return py::repr(v.as_string());
  if (v.is_undefined()) return "Undefined";
  return to_str(v);
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.as_string() == b.as_string();
    case Kind::List:
    case Kind::Tuple: {
      const List& x = a.as_list();
      const List& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case Kind::Dict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = y.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

bool compare(CompareOp op, const Value& a, const Value& b) {
  if (op == CompareOp::Eq) return equals(a, b);
  if (op == CompareOp::Ne) return !equals(a, b);
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer()) return apply(op, a.as_int(), b.as_int());
    return apply(op, a.as_double(), b.as_double());
  }
  if (a.is_string() && b.is_string()) return apply(op, a.as_string(), b.as_string());
  if (a.is_sequence_like() && a.kind() == b.kind())
    return sequence_compare(op, a.as_list(), b.as_list());
  type_error(std::string("'") + op_symbol(op) + "' not supported between instances of '" +
             a.type_name() + "' and '" + b.type_name() + "'");
}

Value binary(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (op == BinaryOp::Add) return add(a, b);
  if (op == BinaryOp::Mul) {
    if (repeatable(a) && b.is_integer()) return repeat(a, b.as_int());
    if (a.is_integer() && repeatable(b)) return repeat(b, a.as_int());
  }
  if (op == BinaryOp::Mod && a.is_string())
    throw RenderError(ErrorKind::RuntimeError,
                      "printf-style string formatting (str % value) is not supported");
  return arithmetic(op, a, b);
}

Value negate(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integer()) {
    if (v.as_int() == INT64_MIN) overflow();
    return Value::integer(-v.as_int());
  }
  if (v.kind() == Kind::Float) return Value::number(-v.as_double());
  type_error("bad operand type for unary -: '" + v.type_name() + "'");
}

Value positive(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integer()) return Value::integer(v.as_int());
  if (v.kind() == Kind::Float) return v;
  type_error("bad operand type for unary +: '" + v.type_name() + "'");
}

Value concat(const Value& a, const Value& b) { return Value::string(to_str(a) + to_str(b)); }

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::String:
      if (!item.is_string())
        type_error("'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::List:
    case Kind::Tuple:
      for (const Value& v : container.as_list())
        if (equals(v, item)) return true;
      return false;
    case Kind::Dict:
      if (item.kind() == Kind::List || item.kind() == Kind::Dict)
        type_error("unhashable type: '" + item.type_name() + "'");
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case Kind::Undefined:
      return false;
    case Kind::Iterator: {
      Iterator& it = container.as_iterator();
      while (it.next < it.items.size())
        if (equals(it.items[it.next++], item)) return true;
      return false;
    }
    default:
      type_error("argument of type '" + container.type_name() + "' is not iterable");
  }
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Kind::String:
      return static_cast<int64_t>(py::length(v.as_string()));
    case Kind::List:
    case Kind::Tuple:
      return static_cast<int64_t>(v.as_list().size());
    case Kind::Dict:
      return static_cast<int64_t>(v.as_dict().size());
    case Kind::Undefined:
      return 0;
    default:
      type_error("object of type '" + v.type_name() + "' has no len()");
  }
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::List:
    case Kind::Tuple:
      return v.as_list();
    case Kind::Dict: {
      List keys;
      for (const auto& entry : v.as_dict()) keys.push_back(Value::string(entry.first));
      return keys;
    }
    case Kind::String: {
      List chars;
      for (char32_t c : py::decode(v.as_string())) {
        std::string s;
        py::append_utf8(s, c);
        chars.push_back(Value::string(std::move(s)));
      }
      return chars;
    }
    case Kind::Undefined:
      return {};
    case Kind::Iterator: {
      Iterator& it = v.as_iterator();
      List rest(it.items.begin() + static_cast<std::ptrdiff_t>(it.next), it.items.end());
      it.next = it.items.size();
      return rest;
    }
    default:
      type_error("'" + v.type_name() + "' object is not iterable");
  }
}

}  // namespace hearth::jinja
