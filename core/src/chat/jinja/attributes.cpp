// Attribute and item access under jinja2's ImmutableSandboxedEnvironment: obj.name prefers the
// Python attribute (so dict.items is the method, not the key "items"), obj[key] prefers the item;
// a missing one is Undefined; methods that mutate (list.append, dict.update...) are refused.
#include "jinja/builtins.hpp"
#include "jinja/call_args.hpp"
#include "jinja/py_string.hpp"
#include "jinja/render_error.hpp"
#include "jinja/value_ops.hpp"

#include <unicode/uchar.h>

#include <algorithm>
#include <optional>

namespace hearth::jinja {
namespace {

using Method = Value (*)(const Value& self, CallArgs& args);

struct MethodEntry {
  std::string_view name;
  Method fn;
};

std::optional<std::string> optional_string(const Value& v, const char* what) {
  if (v.is_none()) return std::nullopt;
  if (!v.is_string()) type_error(std::string(what) + " arg must be None or str");
  return v.as_string();
}

int64_t integer_arg(const Value& v, const char* what) {
  if (!v.is_integer())
    type_error(std::string(what) + ": '" + v.type_name() +
               "' object cannot be interpreted as an integer");
  return v.as_int();
}

Value string_list(std::vector<std::string> parts) {
  List out;
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return Value::list(std::move(out));
}

Value str_strip(const Value& self, CallArgs& args, const char* name, bool left, bool right) {
  BoundArgs a(name, args, {"chars"});
  return Value::string(
      py::strip(self.as_string(), optional_string(a.get(0, Value::none()), name), left, right),
      self.is_safe());
}

Value m_strip(const Value& s, CallArgs& a) { return str_strip(s, a, "strip", true, true); }
Value m_lstrip(const Value& s, CallArgs& a) { return str_strip(s, a, "lstrip", true, false); }
Value m_rstrip(const Value& s, CallArgs& a) { return str_strip(s, a, "rstrip", false, true); }

Value m_split(const Value& self, CallArgs& args) {
  BoundArgs a("split", args, {"sep", "maxsplit"});
  return string_list(py::split(self.as_string(), optional_string(a.get(0, Value::none()), "sep"),
                               integer_arg(a.get(1, Value::integer(-1)), "maxsplit")));
}

Value m_rsplit(const Value& self, CallArgs& args) {
  BoundArgs a("rsplit", args, {"sep", "maxsplit"});
  return string_list(py::rsplit(self.as_string(), optional_string(a.get(0, Value::none()), "sep"),
                                integer_arg(a.get(1, Value::integer(-1)), "maxsplit")));
}

Value m_splitlines(const Value& self, CallArgs& args) {
  BoundArgs a("splitlines", args, {"keepends"});
  return string_list(py::splitlines(self.as_string(), a.get(0, Value::boolean(false)).truthy()));
}

// startswith/endswith take a string or a tuple of strings.
bool affix_matches(const Value& self, const Value& affix, bool prefix, const char* name) {
  auto match = [&](const Value& a) {
    if (!a.is_string())
      type_error(std::string(name) + " first arg must be str or a tuple of str, not " +
                 a.type_name());
    const std::string& s = self.as_string();
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0
                  : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.kind() == Kind::Tuple) {
    for (const Value& a : affix.as_list())
      if (match(a)) return true;
    return false;
  }
  return match(affix);
}

Value m_startswith(const Value& self, CallArgs& args) {
  BoundArgs a("startswith", args, {"prefix"});
  return Value::boolean(affix_matches(self, a.required(0), true, "startswith"));
}

Value m_endswith(const Value& self, CallArgs& args) {
  BoundArgs a("endswith", args, {"suffix"});
  return Value::boolean(affix_matches(self, a.required(0), false, "endswith"));
}

Value m_upper(const Value& s, CallArgs& args) {
  BoundArgs a("upper", args, {});
  return Value::string(py::upper(s.as_string()), s.is_safe());
}
Value m_lower(const Value& s, CallArgs& args) {
  BoundArgs a("lower", args, {});
  return Value::string(py::lower(s.as_string()), s.is_safe());
}
Value m_title(const Value& s, CallArgs& args) {
  BoundArgs a("title", args, {});
  return Value::string(py::title(s.as_string()), s.is_safe());
}
Value m_capitalize(const Value& s, CallArgs& args) {
  BoundArgs a("capitalize", args, {});
  return Value::string(py::capitalize(s.as_string()), s.is_safe());
}

const std::string& string_arg(const Value& v, const char* name) {
  if (!v.is_string())
    type_error(std::string(name) + "() argument must be str, not " + v.type_name());
  return v.as_string();
}

Value m_replace(const Value& self, CallArgs& args) {
  BoundArgs a("replace", args, {"old", "new", "count"});
  return Value::string(py::replace(self.as_string(), string_arg(a.required(0), "replace"),
                                   string_arg(a.required(1), "replace"),
                                   integer_arg(a.get(2, Value::integer(-1)), "replace")),
                       self.is_safe());
}

Value m_find(const Value& self, CallArgs& args) {
  BoundArgs a("find", args, {"sub"});
  return Value::integer(py::find(self.as_string(), string_arg(a.required(0), "find")));
}

Value m_rfind(const Value& self, CallArgs& args) {
  BoundArgs a("rfind", args, {"sub"});
  return Value::integer(py::rfind(self.as_string(), string_arg(a.required(0), "rfind")));
}

Value m_str_index(const Value& self, CallArgs& args) {
  BoundArgs a("index", args, {"sub"});
  const int64_t at = py::find(self.as_string(), string_arg(a.required(0), "index"));
  if (at < 0) value_error("substring not found");
  return Value::integer(at);
}

Value m_str_count(const Value& self, CallArgs& args) {
  BoundArgs a("count", args, {"sub"});
  return Value::integer(py::count(self.as_string(), string_arg(a.required(0), "count")));
}

Value m_join(const Value& self, CallArgs& args) {
  BoundArgs a("join", args, {"iterable"});
  const List items = iterate(a.required(0));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string())
      type_error("sequence item " + std::to_string(i) + ": expected str instance, " +
                 items[i].type_name() + " found");
    if (i) out += self.as_string();
    out += items[i].as_string();
  }
  return Value::string(std::move(out));
}

Value m_removeprefix(const Value& self, CallArgs& args) {
  BoundArgs a("removeprefix", args, {"prefix"});
  const std::string& p = string_arg(a.required(0), "removeprefix");
  const std::string& s = self.as_string();
  return Value::string(s.compare(0, p.size(), p) == 0 && p.size() <= s.size() ? s.substr(p.size())
                                                                              : s);
}

Value m_removesuffix(const Value& self, CallArgs& args) {
  BoundArgs a("removesuffix", args, {"suffix"});
  const std::string& p = string_arg(a.required(0), "removesuffix");
  const std::string& s = self.as_string();
  const bool ends =
      !p.empty() && p.size() <= s.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
  return Value::string(ends ? s.substr(0, s.size() - p.size()) : s);
}

template <bool (*Pred)(UChar32)>
Value char_class(const Value& self, CallArgs& args) {
  BoundArgs a("is", args, {});
  const std::u32string cps = py::decode(self.as_string());
  if (cps.empty()) return Value::boolean(false);
  return Value::boolean(std::all_of(cps.begin(), cps.end(),
                                    [](char32_t c) { return Pred(static_cast<UChar32>(c)); }));
}

bool is_space_cp(UChar32 c) { return py::is_space(static_cast<char32_t>(c)); }
bool is_digit_cp(UChar32 c) { return u_isdigit(c) != 0; }
bool is_alpha_cp(UChar32 c) { return u_isalpha(c) != 0; }
bool is_alnum_cp(UChar32 c) { return u_isalnum(c) != 0; }

Value m_islower(const Value& self, CallArgs& args) {
  BoundArgs a("islower", args, {});
  const std::string& s = self.as_string();
  return Value::boolean(py::lower(s) == s && py::upper(s) != s);
}

Value m_isupper(const Value& self, CallArgs& args) {
  BoundArgs a("isupper", args, {});
  const std::string& s = self.as_string();
  return Value::boolean(py::upper(s) == s && py::lower(s) != s);
}

Value m_dict_get(const Value& self, CallArgs& args) {
  BoundArgs a("get", args, {"key", "default"});
  const Value& key = a.required(0);
  if (key.is_string())
    if (const Value* v = self.as_dict().find(key.as_string())) return *v;
  if (key.kind() == Kind::List || key.kind() == Kind::Dict)
    type_error("unhashable type: '" + key.type_name() + "'");
  return a.get(1, Value::none());
}

Value m_dict_items(const Value& self, CallArgs& args) {
  BoundArgs a("items", args, {});
  List out;
  for (const auto& [k, v] : self.as_dict()) out.push_back(Value::tuple({Value::string(k), v}));
  return Value::list(std::move(out));
}

Value m_dict_keys(const Value& self, CallArgs& args) {
  BoundArgs a("keys", args, {});
  List out;
  for (const auto& entry : self.as_dict()) out.push_back(Value::string(entry.first));
  return Value::list(std::move(out));
}

Value m_dict_values(const Value& self, CallArgs& args) {
  BoundArgs a("values", args, {});
  List out;
  for (const auto& entry : self.as_dict()) out.push_back(entry.second);
  return Value::list(std::move(out));
}

Value m_copy(const Value& self, CallArgs& args) {
  BoundArgs a("copy", args, {});
  return self;
}

Value m_list_count(const Value& self, CallArgs& args) {
  BoundArgs a("count", args, {"value"});
  const Value& x = a.required(0);
  return Value::integer(std::count_if(self.as_list().begin(), self.as_list().end(),
                                      [&](const Value& v) { return equals(v, x); }));
}

Value m_list_index(const Value& self, CallArgs& args) {
  BoundArgs a("index", args, {"value"});
  const Value& x = a.required(0);
  const List& items = self.as_list();
  for (size_t i = 0; i < items.size(); ++i)
    if (equals(items[i], x)) return Value::integer(static_cast<int64_t>(i));
  value_error(to_repr(x) + " is not in list");
}

constexpr MethodEntry kStringMethods[] = {
    {"strip", m_strip},
    {"lstrip", m_lstrip},
    {"rstrip", m_rstrip},
    {"split", m_split},
    {"rsplit", m_rsplit},
    {"splitlines", m_splitlines},
    {"startswith", m_startswith},
    {"endswith", m_endswith},
    {"upper", m_upper},
    {"lower", m_lower},
    {"title", m_title},
    {"capitalize", m_capitalize},
    {"replace", m_replace},
    {"find", m_find},
    {"rfind", m_rfind},
    {"index", m_str_index},
    {"count", m_str_count},
    {"join", m_join},
    {"removeprefix", m_removeprefix},
    {"removesuffix", m_removesuffix},
    {"isspace", char_class<is_space_cp>},
    {"isdigit", char_class<is_digit_cp>},
    {"isalpha", char_class<is_alpha_cp>},
    {"isalnum", char_class<is_alnum_cp>},
    {"islower", m_islower},
    {"isupper", m_isupper},
};
// Real str methods this engine does not implement: calling one says so.
constexpr std::string_view kUnsupportedStringMethods[] = {
    "casefold",  "center",       "encode",    "expandtabs",  "format",   "format_map", "isascii",
    "isdecimal", "isidentifier", "isnumeric", "isprintable", "istitle",  "ljust",      "maketrans",
    "partition", "rindex",       "rjust",     "rpartition",  "swapcase", "translate",  "zfill"};

constexpr MethodEntry kDictMethods[] = {{"get", m_dict_get},
                                        {"items", m_dict_items},
                                        {"keys", m_dict_keys},
                                        {"values", m_dict_values},
                                        {"copy", m_copy}};
constexpr std::string_view kDictMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};

constexpr MethodEntry kListMethods[] = {{"count", m_list_count}, {"index", m_list_index}};
constexpr std::string_view kListMutators[] = {"append", "clear",  "extend",  "insert",
                                              "pop",    "remove", "reverse", "sort"};

template <size_t N>
bool contains_name(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

template <size_t N>
Method find_method(const MethodEntry (&table)[N], std::string_view name) {
  for (const auto& e : table)
    if (e.name == name) return e.fn;
  return nullptr;
}

Value bind(const Value& self, const std::string& name, Method fn) {
  return Value::callable(name, [self, fn](CallArgs& args) { return fn(self, args); });
}

Value unsafe(const Value& self, const std::string& name) {
  return Value::undefined(
      "access to attribute '" + name + "' of '" + self.type_name() + "' object is unsafe.", true);
}

Value unsupported_method(const Value& self, const std::string& name) {
  const std::string what = self.type_name() + "." + name + "()";
  return Value::callable(name, [what](CallArgs&) -> Value {
    throw RenderError(ErrorKind::RuntimeError,
                      what + " is not supported by hearth's template engine");
  });
}

// The Python attribute `name` of `self`, if it has one.
std::optional<Value> python_attribute(const Value& self, const std::string& name) {
  switch (self.kind()) {
    case Kind::String:
      if (Method m = find_method(kStringMethods, name)) return bind(self, name, m);
      if (contains_name(kUnsupportedStringMethods, name)) return unsupported_method(self, name);
      return std::nullopt;
    case Kind::Dict:
      if (Method m = find_method(kDictMethods, name)) return bind(self, name, m);
      if (contains_name(kDictMutators, name)) return unsafe(self, name);
      if (name == "fromkeys") return unsupported_method(self, name);
      return std::nullopt;
    case Kind::List:
    case Kind::Tuple:
      if (Method m = find_method(kListMethods, name)) return bind(self, name, m);
      if (self.kind() == Kind::List) {
        if (name == "copy") return bind(self, name, m_copy);
        if (contains_name(kListMutators, name)) return unsafe(self, name);
      }
      return std::nullopt;
    case Kind::Namespace:
      if (const Value* v = self.as_namespace().attributes.find(name)) return *v;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

Value missing_attribute(const Value& self, const std::string& name) {
  return Value::undefined("'" + self.type_name() + " object' has no attribute '" + name + "'");
}

// Python's slice.indices(): the positions a slice selects from a sequence of `length`.
std::vector<size_t> slice_positions(int64_t length, const Value& start, const Value& stop,
                                    const Value& step) {
  const int64_t st = step.is_none() ? 1 : step.as_int();
  if (st == 0) value_error("slice step cannot be zero");
  const int64_t lower = st > 0 ? 0 : -1;
  const int64_t upper = st > 0 ? length : length - 1;
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) i += length;
    return std::clamp(i, lower, upper);
  };
  const int64_t begin = clamp(start, st > 0 ? lower : upper);
  const int64_t end = clamp(stop, st > 0 ? upper : lower);
  std::vector<size_t> out;
  for (int64_t i = begin; st > 0 ? i < end : i > end; i += st)
    out.push_back(static_cast<size_t>(i));
  return out;
}

}  // namespace

Value get_attribute(const Value& object, const std::string& name) {
  if (object.is_undefined()) fail_undefined(object);
  if (auto attr = python_attribute(object, name)) return *attr;
  if (object.kind() == Kind::Dict)
    if (const Value* v = object.as_dict().find(name)) return *v;
  return missing_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail_undefined(object);
  switch (object.kind()) {
    case Kind::Dict:
      if (key.is_string())
        if (const Value* v = object.as_dict().find(key.as_string())) return *v;
      break;
    case Kind::List:
    case Kind::Tuple:
      if (key.is_integer()) {
        const List& items = object.as_list();
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(items.size());
        if (i >= 0 && i < static_cast<int64_t>(items.size())) return items[static_cast<size_t>(i)];
        return Value::undefined(object.type_name() + " object has no element " + to_str(key));
      }
      break;
    case Kind::String:
      if (key.is_integer()) {
        const std::u32string cps = py::decode(object.as_string());
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(cps.size());
        if (i >= 0 && i < static_cast<int64_t>(cps.size())) {
          std::string c;
          py::append_utf8(c, cps[static_cast<size_t>(i)]);
          return Value::string(std::move(c));
        }
        return Value::undefined("str object has no element " + to_str(key));
      }
      break;
    default:
      break;
  }
  if (key.is_string()) {
    if (auto attr = python_attribute(object, key.as_string())) return *attr;
    return missing_attribute(object, key.as_string());
  }
  return Value::undefined(object.type_name() + " object has no element " + to_repr(key));
}

Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  if (object.is_undefined()) fail_undefined(object);
  for (const Value* bound : {&start, &stop, &step}) {
    // A non-integer bound is a TypeError that jinja2's getitem turns into Undefined.
    if (!bound->is_none() && !bound->is_integer())
      return Value::undefined("slice indices must be integers or None");
  }
  if (object.is_string()) {
    const std::u32string cps = py::decode(object.as_string());
    std::u32string out;
    for (size_t i : slice_positions(static_cast<int64_t>(cps.size()), start, stop, step))
      out.push_back(cps[i]);
    return Value::string(py::encode(out), object.is_safe());
  }
  if (object.is_sequence_like()) {
    const List& items = object.as_list();
    List out;
    for (size_t i : slice_positions(static_cast<int64_t>(items.size()), start, stop, step))
      out.push_back(items[i]);
    return object.kind() == Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
  }
  return Value::undefined("'" + object.type_name() + "' object is not subscriptable");
}

}  // namespace hearth::jinja
