#include "jinja/value.hpp"

#include "jinja/render_error.hpp"

namespace hearth::jinja {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(std::string key, Value value) {
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

Value Value::undefined(std::string message, bool unsafe) {
  return Value(Kind::Undefined,
               std::make_shared<const Undefined>(Undefined{std::move(message), unsafe}));
}

Value Value::string(std::string s, bool safe) {
  Value v(Kind::String, std::make_shared<const std::string>(std::move(s)));
  v.safe_ = safe;
  return v;
}

Value Value::list(List items) {
  return Value(Kind::List, std::make_shared<const List>(std::move(items)));
}

Value Value::tuple(List items) {
  return Value(Kind::Tuple, std::make_shared<const List>(std::move(items)));
}

Value Value::dict(Dict d) { return Value(Kind::Dict, std::make_shared<const Dict>(std::move(d))); }

Value Value::callable(std::string name, std::function<Value(CallArgs&)> fn) {
  return Value(Kind::Callable,
               std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)}));
}

Value Value::iterator(List items) {
  return Value(Kind::Iterator, std::make_shared<Iterator>(Iterator{std::move(items), 0}));
}

int64_t Value::as_int() const {
  if (kind_ == Kind::Bool) return std::get<bool>(data_) ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (kind_ == Kind::Float) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return as_bool();
    case Kind::Int:
      return as_int() != 0;
    case Kind::Float:
      return as_double() != 0.0;
    case Kind::String:
      return !as_string().empty();
    case Kind::List:
    case Kind::Tuple:
      return !as_list().empty();
    case Kind::Dict:
      return !as_dict().empty();
    case Kind::Namespace:
    case Kind::Callable:
    case Kind::Iterator:
      return true;
  }
  return false;
}

const void* Value::identity() const {
  switch (kind_) {
    case Kind::Namespace:
      return std::get<std::shared_ptr<Namespace>>(data_).get();
    case Kind::Callable:
      return std::get<std::shared_ptr<const Callable>>(data_).get();
    case Kind::Iterator:
      return std::get<std::shared_ptr<Iterator>>(data_).get();
    case Kind::List:
    case Kind::Tuple:
      return std::get<std::shared_ptr<const List>>(data_).get();
    case Kind::Dict:
      return std::get<std::shared_ptr<const Dict>>(data_).get();
    default:
      return nullptr;
  }
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return safe_ ? "Markup" : "str";
    case Kind::List:
      return "list";
    case Kind::Tuple:
      return "tuple";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Callable:
      return "function";
    case Kind::Iterator:
      return "generator";
  }
  return "object";
}

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::TypeError:
      return "TypeError";
    case ErrorKind::UndefinedError:
      return "UndefinedError";
    case ErrorKind::SecurityError:
      return "SecurityError";
    case ErrorKind::ValueError:
      return "ValueError";
    case ErrorKind::ZeroDivisionError:
      return "ZeroDivisionError";
    case ErrorKind::TemplateError:
      return "TemplateError";
    case ErrorKind::RuntimeError:
      return "RuntimeError";
  }
  return "Error";
}

}  // namespace hearth::jinja
