// jinja2's builtin filters and tests (the ones chat templates use), and the attributes and
// methods of values (str.split, dict.items...) under the immutable sandbox's rules.
#pragma once

#include "jinja/value.hpp"

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::jinja {

using FilterFn = Value (*)(const Value& input, CallArgs& args);
using TestFn = bool (*)(const Value& input, CallArgs& args);

// nullptr when jinja2 has no such filter/test (or this engine does not implement it).
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Applies a filter/test by name; a missing one raises like jinja2 at render time.
Value apply_filter(std::string_view name, const Value& input, CallArgs& args);
bool apply_test(std::string_view name, const Value& input, CallArgs& args);

// obj.name: the attribute (a method, a namespace attribute) first, then the item.
Value get_attribute(const Value& object, const std::string& name);
// obj[key]: the item first, then the attribute when key is a string.
Value get_item(const Value& object, const Value& key);
// obj[start:stop:step] with Python's slice rules; a missing bound is None.
Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step);

// The functions jinja2 and transformers provide to every template: namespace, range, dict,
// raise_exception, strftime_now (formatting `now`). `on_namespace` sees each namespace() made.
std::vector<std::pair<std::string, Value>> make_globals(
    const std::tm& now, const std::function<void(const std::shared_ptr<Namespace>&)>& on_namespace);

}  // namespace hearth::jinja
