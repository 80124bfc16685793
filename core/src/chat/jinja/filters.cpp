// jinja2 3.1's builtin filters (with autoescape off) and transformers' tojson. Where jinja2
// returns a generator (map, select, reject, items, unique, reverse), the result is an Iterator,
// so the same misuse fails the same way (tojson of a generator, a second loop over it).
#include "jinja/builtins.hpp"
#include "jinja/call_args.hpp"
#include "jinja/json_dump.hpp"
#include "jinja/py_string.hpp"
#include "jinja/render_error.hpp"
#include "jinja/value_ops.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

namespace hearth::jinja {
namespace {

// str(value), keeping Markup (jinja2's soft_str).
Value soft_str(const Value& v) { return v.is_string() ? v : Value::string(to_str(v)); }

Value f_trim(const Value& v, CallArgs& args) {
  BoundArgs a("trim", args, {"chars"});
  const Value chars = a.get(0, Value::none());
  if (!chars.is_none() && !chars.is_string()) type_error("strip arg must be None or str");
  const Value s = soft_str(v);
  return Value::string(
      py::strip(s.as_string(),
                chars.is_none() ? std::nullopt : std::optional<std::string>(chars.as_string()),
                true, true),
      s.is_safe());
}

Value f_length(const Value& v, CallArgs& args) {
  BoundArgs a("length", args, {});
  return Value::integer(length(v));
}

Value f_string(const Value& v, CallArgs& args) {
  BoundArgs a("string", args, {});
  return soft_str(v);
}

Value f_lower(const Value& v, CallArgs& args) {
  BoundArgs a("lower", args, {});
  const Value s = soft_str(v);
  return Value::string(py::lower(s.as_string()), s.is_safe());
}

Value f_upper(const Value& v, CallArgs& args) {
  BoundArgs a("upper", args, {});
  const Value s = soft_str(v);
  return Value::string(py::upper(s.as_string()), s.is_safe());
}

Value f_capitalize(const Value& v, CallArgs& args) {
  BoundArgs a("capitalize", args, {});
  const Value s = soft_str(v);
  return Value::string(py::capitalize(s.as_string()), s.is_safe());
}

// jinja2's title: split before runs of "-", whitespace, "(", "{", "[", "<", then uppercase the
// first character of each piece and lowercase the rest.
Value f_title(const Value& v, CallArgs& args) {
  BoundArgs a("title", args, {});
  const Value s = soft_str(v);
  const std::u32string cps = py::decode(s.as_string());
  auto is_sep = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py::is_space(c);
  };
  std::string out;
  for (size_t i = 0; i < cps.size();) {
    size_t j = i;
    const bool sep = is_sep(cps[i]);
    while (j < cps.size() && is_sep(cps[j]) == sep) ++j;
    const std::string piece = py::encode(std::u32string_view(cps).substr(i, j - i));
    if (sep) {
      out += piece;
    } else {
      std::string first;
      py::append_utf8(first, cps[i]);
      out += py::upper(first) +
             py::lower(py::encode(std::u32string_view(cps).substr(i + 1, j - i - 1)));
    }
    i = j;
  }
  return Value::string(std::move(out), s.is_safe());
}

Value f_default(const Value& v, CallArgs& args) {
  BoundArgs a("default", args, {"default_value", "boolean"});
  const bool boolean = a.get(1, Value::boolean(false)).truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return a.get(0, Value::string(""));
  return v;
}

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0, preferring items.
Value attribute_path(const Value& item, const Value& attribute) {
  if (attribute.is_integer()) return get_item(item, attribute);
  if (!attribute.is_string()) return get_item(item, attribute);
  Value current = item;
  for (const std::string& part : py::split(attribute.as_string(), std::string("."), -1)) {
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    int64_t index = 0;
    if (digits && std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc())
      current = get_item(current, Value::integer(index));
    else
      current = get_item(current, Value::string(part));
  }
  return current;
}

Value f_join(const Value& v, CallArgs& args) {
  BoundArgs a("join", args, {"d", "attribute"});
  const std::string separator = to_str(a.get(0, Value::string("")));
  const Value attribute = a.get(1, Value::none());
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    if (!first) out += separator;
    first = false;
    out += to_str(attribute.is_none() ? item : attribute_path(item, attribute));
  }
  return Value::string(std::move(out));
}

Value f_first(const Value& v, CallArgs& args) {
  BoundArgs a("first", args, {});
  if (v.kind() == Kind::Iterator) {
    Iterator& it = v.as_iterator();
    if (it.next < it.items.size()) return it.items[it.next++];
    return Value::undefined("No first item, sequence was empty.");
  }
  const List items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(const Value& v, CallArgs& args) {
  BoundArgs a("last", args, {});
  if (v.kind() == Kind::Iterator) type_error("'generator' object is not reversible");
  const List items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_list(const Value& v, CallArgs& args) {
  BoundArgs a("list", args, {});
  return Value::list(iterate(v));
}

Value f_items(const Value& v, CallArgs& args) {
  BoundArgs a("items", args, {});
  if (v.is_undefined()) return Value::iterator({});
  if (v.kind() != Kind::Dict) type_error("Can only get item pairs from a mapping.");
  List out;
  for (const auto& [k, val] : v.as_dict()) out.push_back(Value::tuple({Value::string(k), val}));
  return Value::iterator(std::move(out));
}

Value f_reverse(const Value& v, CallArgs& args) {
  BoundArgs a("reverse", args, {});
  if (v.is_string()) {
    std::u32string cps = py::decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(py::encode(cps), v.is_safe());
  }
  if (v.kind() == Kind::Iterator) {
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (v.is_sequence_like() || v.kind() == Kind::Dict || v.is_undefined()) {
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::iterator(std::move(items));
  }
  type_error("argument must be iterable");
}

Value f_tojson(const Value& v, CallArgs& args) {
  // transformers: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  BoundArgs a("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonFormat format;
  format.ensure_ascii = a.get(0, Value::boolean(false)).truthy();
  const Value indent = a.get(1, Value::none());
  if (indent.is_string())
    format.indent = indent.as_string();
  else if (indent.is_integer())
    format.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())), ' ');
  else if (!indent.is_none())
    type_error("tojson indent must be an integer or a string");
  if (format.indent) format.item_separator = ",";
  const Value separators = a.get(2, Value::none());
  if (!separators.is_none()) {
    if (!separators.is_sequence_like() || separators.as_list().size() != 2 ||
        !separators.as_list()[0].is_string() || !separators.as_list()[1].is_string())
      type_error("tojson separators must be a pair of strings");
    format.item_separator = separators.as_list()[0].as_string();
    format.key_separator = separators.as_list()[1].as_string();
  }
  format.sort_keys = a.get(3, Value::boolean(false)).truthy();
  return Value::string(dump_json(v, format));
}

Value f_indent(const Value& v, CallArgs& args) {
  BoundArgs a("indent", args, {"width", "first", "blank"});
  const Value width = a.get(0, Value::integer(4));
  std::string indention;
  if (width.is_string())
    indention = width.as_string();
  else if (width.is_integer())
    indention = std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  else
    type_error("can't multiply sequence by non-int of type '" + width.type_name() + "'");
  const bool first = a.get(1, Value::boolean(false)).truthy();
  const bool blank = a.get(2, Value::boolean(false)).truthy();
  // s += "\n" first (jinja2's quirk for splitlines), so s must be a string.
  const Value s = binary(BinaryOp::Add, v, Value::string("\n"));
  const std::vector<std::string> lines = py::splitlines(s.as_string(), false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) {
      out += lines[0];
      continue;
    }
    out += "\n";
    if (blank || !lines[i].empty()) out += indention;
    out += lines[i];
  }
  if (first) out = indention + out;
  return Value::string(std::move(out), v.is_safe());
}

Value f_replace(const Value& v, CallArgs& args) {
  BoundArgs a("replace", args, {"old", "new", "count"});
  const Value count = a.get(2, Value::none());
  if (!count.is_none() && !count.is_integer())
    type_error("'" + count.type_name() + "' object cannot be interpreted as an integer");
  return Value::string(py::replace(to_str(v), to_str(a.required(0)), to_str(a.required(1)),
                                   count.is_none() ? -1 : count.as_int()));
}

Value f_safe(const Value& v, CallArgs& args) {
  BoundArgs a("safe", args, {});
  return Value::string(to_str(v), true);
}

Value f_escape(const Value& v, CallArgs& args) {
  BoundArgs a("escape", args, {});
  if (v.is_safe()) return v;
  return Value::string(py::escape_html(to_str(v)), true);
}

Value f_abs(const Value& v, CallArgs& args) {
  BoundArgs a("abs", args, {});
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integer()) {
    if (v.as_int() == INT64_MIN) throw RenderError(ErrorKind::RuntimeError, "integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.kind() == Kind::Float) return Value::number(std::fabs(v.as_double()));
  type_error("bad operand type for abs(): '" + v.type_name() + "'");
}

// Python float(str): surrounding whitespace, underscores between digits, inf/nan words.
std::optional<double> parse_float(const std::string& text) {
  std::string s = py::strip(text, std::nullopt, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() &&
        std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 1])))
      continue;
    clean += s[i];
  }
  std::string body = clean;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.erase(0, 1);
  }
  const std::string lowered = py::lower(body);
  if (lowered == "inf" || lowered == "infinity") return negative ? -HUGE_VAL : HUGE_VAL;
  if (lowered == "nan") return std::nan("");
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.'))
    return std::nullopt;
  double d = 0;
  const auto r = std::from_chars(body.data(), body.data() + body.size(), d);
  if (r.ec != std::errc() || r.ptr != body.data() + body.size()) return std::nullopt;
  return negative ? -d : d;
}

std::optional<int64_t> parse_int(const std::string& text, int base) {
  std::string s = py::strip(text, std::nullopt, true, true);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.erase(0, 1);
  }
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i)
    if (!(s[i] == '_' && i > 0 && i + 1 < s.size())) clean += s[i];
  if (clean.empty()) return std::nullopt;
  int64_t v = 0;
  const auto r = std::from_chars(clean.data(), clean.data() + clean.size(), v, base);
  if (r.ec != std::errc() || r.ptr != clean.data() + clean.size()) return std::nullopt;
  return negative ? -v : v;
}

Value f_int(const Value& v, CallArgs& args) {
  BoundArgs a("int", args, {"default", "base"});
  const Value fallback = a.get(0, Value::integer(0));
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integer()) return Value::integer(v.as_int());
  if (v.kind() == Kind::Float) {
    const double d = std::trunc(v.as_double());
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    const Value base = a.get(1, Value::integer(10));
    if (auto i = parse_int(v.as_string(), static_cast<int>(base.is_integer() ? base.as_int() : 10)))
      return Value::integer(*i);
    if (auto d = parse_float(v.as_string()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18)
      return Value::integer(static_cast<int64_t>(std::trunc(*d)));
  }
  return fallback;
}

Value f_float(const Value& v, CallArgs& args) {
  BoundArgs a("float", args, {"default"});
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string())
    if (auto d = parse_float(v.as_string())) return Value::number(*d);
  return a.get(0, Value::number(0.0));
}

Value f_round(const Value& v, CallArgs& args) {
  BoundArgs a("round", args, {"precision", "method"});
  const Value precision = a.get(0, Value::integer(0));
  const std::string method = to_str(a.get(1, Value::string("common")));
  if (method != "common" && method != "ceil" && method != "floor")
    value_error("method must be common, ceil or floor");
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_number()) type_error("type " + v.type_name() + " doesn't define __round__ method");
  if (!precision.is_integer())
    type_error("'" + precision.type_name() + "' object cannot be interpreted as an integer");
  const double scale = std::pow(10.0, static_cast<double>(precision.as_int()));
  if (method == "common") {
    if (v.is_integer() && precision.as_int() >= 0) return Value::integer(v.as_int());
    // Python rounds half to even; nearbyint does in the default rounding mode.
    return Value::number(std::nearbyint(v.as_double() * scale) / scale);
  }
  const double scaled = v.as_double() * scale;
  return Value::number((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

// The filter/test a map/select call names, with the arguments after the name.
CallArgs rest_args(const CallArgs& args, size_t skip) {
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(skip),
                         args.positional.end());
  rest.keyword = args.keyword;
  return rest;
}

Value f_map(const Value& v, CallArgs& args) {
  std::function<Value(const Value&)> fn;
  const bool by_attribute = args.positional.empty() &&
                            std::any_of(args.keyword.begin(), args.keyword.end(),
                                        [](const auto& kv) { return kv.first == "attribute"; });
  if (by_attribute) {
    Value attribute;
    Value fallback = Value::none();
    for (const auto& [k, val] : args.keyword) {
      if (k == "attribute")
        attribute = val;
      else if (k == "default")
        fallback = val;
      else
        type_error("Unexpected keyword argument '" + k + "'");
    }
    fn = [attribute, fallback](const Value& item) {
      Value r = attribute_path(item, attribute);
      return r.is_undefined() && !fallback.is_none() ? fallback : r;
    };
  } else {
    if (args.positional.empty()) type_error("map requires a filter argument");
    const std::string name = to_str(args.positional[0]);
    CallArgs rest = rest_args(args, 1);
    fn = [name, rest](const Value& item) {
      CallArgs call = rest;
      return apply_filter(name, item, call);
    };
  }
  List out;
  for (const Value& item : iterate(v)) out.push_back(fn(item));
  return Value::iterator(std::move(out));
}

Value select_or_reject(const Value& v, CallArgs& args, bool select, bool by_attribute) {
  if (!v.truthy()) return Value::iterator({});
  size_t offset = 0;
  Value attribute;
  if (by_attribute) {
    if (args.positional.empty()) type_error("Missing parameter for attribute name");
    attribute = args.positional[0];
    offset = 1;
  }
  const bool has_test = args.positional.size() > offset;
  const std::string test = has_test ? to_str(args.positional[offset]) : "";
  List out;
  for (const Value& item : iterate(v)) {
    const Value subject = by_attribute ? attribute_path(item, attribute) : item;
    bool ok = false;
    if (has_test) {
      CallArgs call = rest_args(args, offset + 1);
      ok = apply_test(test, subject, call);
    } else {
      ok = subject.truthy();
    }
    if (ok == select) out.push_back(item);
  }
  return Value::iterator(std::move(out));
}

Value f_select(const Value& v, CallArgs& a) { return select_or_reject(v, a, true, false); }
Value f_reject(const Value& v, CallArgs& a) { return select_or_reject(v, a, false, false); }
Value f_selectattr(const Value& v, CallArgs& a) { return select_or_reject(v, a, true, true); }
Value f_rejectattr(const Value& v, CallArgs& a) { return select_or_reject(v, a, false, true); }

// The key sort/unique/min/max compare by: the attribute, lowercased unless case_sensitive.
Value sort_key(const Value& item, const Value& attribute, bool case_sensitive) {
  Value key = attribute.is_none() ? item : attribute_path(item, attribute);
  if (!case_sensitive && key.is_string()) return Value::string(py::lower(key.as_string()));
  return key;
}

Value f_unique(const Value& v, CallArgs& args) {
  BoundArgs a("unique", args, {"case_sensitive", "attribute"});
  const bool case_sensitive = a.get(0, Value::boolean(false)).truthy();
  const Value attribute = a.get(1, Value::none());
  List seen;
  List out;
  for (const Value& item : iterate(v)) {
    const Value key = sort_key(item, attribute, case_sensitive);
    if (key.kind() == Kind::List || key.kind() == Kind::Dict)
      type_error("unhashable type: '" + key.type_name() + "'");
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); }))
      continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::iterator(std::move(out));
}

Value f_sort(const Value& v, CallArgs& args) {
  BoundArgs a("sort", args, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = a.get(0, Value::boolean(false)).truthy();
  const bool case_sensitive = a.get(1, Value::boolean(false)).truthy();
  const Value attribute = a.get(2, Value::none());
  List items = iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : items) keyed.emplace_back(sort_key(item, attribute, case_sensitive), item);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(CompareOp::Lt, y.first, x.first)
                   : compare(CompareOp::Lt, x.first, y.first);
  });
  List out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return Value::list(std::move(out));
}

Value f_dictsort(const Value& v, CallArgs& args) {
  BoundArgs a("dictsort", args, {"case_sensitive", "by", "reverse"});
  const bool case_sensitive = a.get(0, Value::boolean(false)).truthy();
  const std::string by = to_str(a.get(1, Value::string("key")));
  const bool reverse = a.get(2, Value::boolean(false)).truthy();
  if (by != "key" && by != "value") type_error("You can only sort by either \"key\" or \"value\"");
  if (v.kind() != Kind::Dict) type_error("dictsort expects a mapping");
  List pairs;
  for (const auto& [k, val] : v.as_dict()) pairs.push_back(Value::tuple({Value::string(k), val}));
  const size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    const Value kx = sort_key(x.as_list()[pos], Value::none(), case_sensitive);
    const Value ky = sort_key(y.as_list()[pos], Value::none(), case_sensitive);
    return reverse ? compare(CompareOp::Lt, ky, kx) : compare(CompareOp::Lt, kx, ky);
  });
  return Value::list(std::move(pairs));
}

Value min_or_max(const Value& v, CallArgs& args, bool max, const char* name) {
  BoundArgs a(name, args, {"case_sensitive", "attribute"});
  const bool case_sensitive = a.get(0, Value::boolean(false)).truthy();
  const Value attribute = a.get(1, Value::none());
  const List items = iterate(v);
  if (items.empty())
    return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const Value ki = sort_key(items[i], attribute, case_sensitive);
    const Value kb = sort_key(items[best], attribute, case_sensitive);
    if (max ? compare(CompareOp::Gt, ki, kb) : compare(CompareOp::Lt, ki, kb)) best = i;
  }
  return items[best];
}

Value f_max(const Value& v, CallArgs& a) { return min_or_max(v, a, true, "max"); }
Value f_min(const Value& v, CallArgs& a) { return min_or_max(v, a, false, "min"); }

Value f_sum(const Value& v, CallArgs& args) {
  BoundArgs a("sum", args, {"attribute", "start"});
  const Value attribute = a.get(0, Value::none());
  Value total = a.get(1, Value::integer(0));
  for (const Value& item : iterate(v))
    total =
        binary(BinaryOp::Add, total, attribute.is_none() ? item : attribute_path(item, attribute));
  return total;
}

Value f_attr(const Value& v, CallArgs& args) {
  BoundArgs a("attr", args, {"name"});
  return get_attribute(v, to_str(a.required(0)));
}

Value f_wordcount(const Value& v, CallArgs& args) {
  BoundArgs a("wordcount", args, {});
  return Value::integer(static_cast<int64_t>(py::split(to_str(v), std::nullopt, -1).size()));
}

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

constexpr FilterEntry kFilters[] = {
    {"abs", f_abs},           {"attr", f_attr},       {"capitalize", f_capitalize},
    {"count", f_length},      {"d", f_default},       {"default", f_default},
    {"dictsort", f_dictsort}, {"e", f_escape},        {"escape", f_escape},
    {"first", f_first},       {"float", f_float},     {"indent", f_indent},
    {"int", f_int},           {"items", f_items},     {"join", f_join},
    {"last", f_last},         {"length", f_length},   {"list", f_list},
    {"lower", f_lower},       {"map", f_map},         {"max", f_max},
    {"min", f_min},           {"reject", f_reject},   {"rejectattr", f_rejectattr},
    {"replace", f_replace},   {"reverse", f_reverse}, {"round", f_round},
    {"safe", f_safe},         {"select", f_select},   {"selectattr", f_selectattr},
    {"sort", f_sort},         {"string", f_string},   {"sum", f_sum},
    {"title", f_title},       {"tojson", f_tojson},   {"trim", f_trim},
    {"unique", f_unique},     {"upper", f_upper},     {"wordcount", f_wordcount},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const auto& f : kFilters)
    if (f.name == name) return f.fn;
  return nullptr;
}

Value apply_filter(std::string_view name, const Value& input, CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (!fn)
    throw RenderError(ErrorKind::RuntimeError,
                      "No filter named '" + std::string(name) + "' found.");
  return fn(input, args);
}

}  // namespace hearth::jinja
