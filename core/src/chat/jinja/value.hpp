// The values a template computes with, modelled on the Python objects jinja2 works with: None,
// bool, int, float, str (optionally Markup, the "safe" string), list, tuple, dict (insertion
// ordered, string keys), jinja2's Undefined, namespace() objects, callables (macros, builtins,
// bound methods) and one-shot iterators (what map/select/reverse return in Python).
//
// Lists, tuples and dicts are immutable once built (the sandbox forbids mutating them), so
// values share them; namespaces and iterators are shared mutable objects, as in Python.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hearth::jinja {

// Declared before the types it names (GCC's -Wshadow flags the reverse order).
enum class Kind {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  List,
  Tuple,
  Dict,
  Namespace,
  Callable,
  Iterator
};

class Value;
using List = std::vector<Value>;
class Dict;
struct Namespace;
struct CallArgs;
struct Callable;
struct Iterator;

// jinja2's Undefined: prints as "", is falsy and iterates as empty; any other use raises an
// UndefinedError with `message` ("'x' is undefined", "'dict object' has no attribute 'y'").
// `unsafe` marks an attribute the sandbox refuses (list.append...): using it raises SecurityError.
struct Undefined {
  std::string message;
  bool unsafe = false;
};

class Value {
 public:
  Value() : data_(std::make_shared<const Undefined>()) {}

  static Value undefined(std::string message, bool unsafe = false);
  static Value none() { return Value(Kind::None, std::monostate{}); }
  static Value boolean(bool b) { return Value(Kind::Bool, b); }
  static Value integer(int64_t i) { return Value(Kind::Int, i); }
  static Value number(double d) { return Value(Kind::Float, d); }
  static Value string(std::string s, bool safe = false);
  static Value list(List items);
  static Value tuple(List items);
  static Value dict(Dict d);
  static Value ns(std::shared_ptr<Namespace> n) { return Value(Kind::Namespace, std::move(n)); }
  static Value callable(std::string name, std::function<Value(CallArgs&)> fn);
  static Value iterator(List items);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  // bool counts as an integer, as in Python.
  bool is_integer() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  bool is_number() const { return is_integer() || kind_ == Kind::Float; }
  bool is_sequence_like() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
  bool is_safe() const { return kind_ == Kind::String && safe_; }

  bool as_bool() const { return std::get<bool>(data_); }
  // Int or Bool.
  int64_t as_int() const;
  // Int, Bool or Float.
  double as_double() const;
  const std::string& as_string() const {
    return *std::get<std::shared_ptr<const std::string>>(data_);
  }
  // List or Tuple.
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(data_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  Iterator& as_iterator() const { return *std::get<std::shared_ptr<Iterator>>(data_); }
  const Undefined& as_undefined() const {
    return *std::get<std::shared_ptr<const Undefined>>(data_);
  }

  // Python's bool(value).
  bool truthy() const;
  // Identity of shared objects (namespaces, callables, iterators), for `is sameas` and ==.
  const void* identity() const;
  // Python's type name: 'str', 'int', 'NoneType', 'Undefined'...
  std::string type_name() const;

 private:
  using Data =
      std::variant<std::monostate, bool, int64_t, double, std::shared_ptr<const std::string>,
                   std::shared_ptr<const List>, std::shared_ptr<const Dict>,
                   std::shared_ptr<Namespace>, std::shared_ptr<const Callable>,
                   std::shared_ptr<Iterator>, std::shared_ptr<const Undefined>>;
  Value(Kind kind, Data data) : kind_(kind), data_(std::move(data)) {}
  Kind kind_ = Kind::Undefined;
  bool safe_ = false;
  Data data_;
};

class Dict {
 public:
  using Entry = std::pair<std::string, Value>;
  const Value* find(std::string_view key) const;
  // Replaces the value of an existing key in place (keeping its position) or appends it.
  void set(std::string key, Value value);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

struct Namespace {
  Dict attributes;
};

// Arguments of a call: positional, then keyword in the order written.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  std::string name;
  std::function<Value(CallArgs&)> call;
};

// A Python iterator: iterating consumes it, so a second loop over it sees nothing.
struct Iterator {
  List items;
  size_t next = 0;
};

}  // namespace hearth::jinja
