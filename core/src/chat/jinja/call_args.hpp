// Binds a call's positional and keyword arguments to a builtin's parameter names the way Python
// does, with Python's TypeErrors for too many, unknown, duplicate or missing arguments.
#pragma once

#include "jinja/render_error.hpp"
#include "jinja/value.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja {

class BoundArgs {
 public:
  BoundArgs(std::string_view function, const CallArgs& args,
            std::initializer_list<std::string_view> names)
      : function_(function), names_(names), values_(names.size()), given_(names.size(), false) {
    if (args.positional.size() > names_.size())
      type_error(function_ + "() takes at most " + std::to_string(names_.size()) +
                 " argument(s) (" + std::to_string(args.positional.size()) + " given)");
    for (size_t i = 0; i < args.positional.size(); ++i) {
      values_[i] = args.positional[i];
      given_[i] = true;
    }
    for (const auto& [key, value] : args.keyword) {
      size_t i = 0;
      while (i < names_.size() && names_[i] != key) ++i;
      if (i == names_.size())
        type_error(function_ + "() got an unexpected keyword argument '" + key + "'");
      if (given_[i]) type_error(function_ + "() got multiple values for argument '" + key + "'");
      values_[i] = value;
      given_[i] = true;
    }
  }

  bool has(size_t i) const { return given_[i]; }
  const Value& required(size_t i) const {
    if (!given_[i])
      type_error(function_ + "() missing required argument '" + std::string(names_[i]) + "'");
    return values_[i];
  }
  Value get(size_t i, Value fallback) const { return given_[i] ? values_[i] : std::move(fallback); }

 private:
  std::string function_;
  std::vector<std::string_view> names_;
  std::vector<Value> values_;
  std::vector<bool> given_;
};

}  // namespace hearth::jinja
