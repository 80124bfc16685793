// The globals a chat template can call: jinja2's namespace(), range() and dict(), and the
// raise_exception() and strftime_now() transformers adds.
#include "jinja/builtins.hpp"
#include "jinja/call_args.hpp"
#include "jinja/render_error.hpp"
#include "jinja/value_ops.hpp"

#include <iomanip>
#include <locale>
#include <sstream>

namespace hearth::jinja {
namespace {

// jinja2's sandbox refuses larger ranges.
constexpr int64_t kMaxRange = 100000;

int64_t int_arg(const Value& v) {
  if (!v.is_integer())
    type_error("'" + v.type_name() + "' object cannot be interpreted as an integer");
  return v.as_int();
}

Value range(CallArgs& args) {
  if (!args.keyword.empty()) type_error("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3)
    type_error("range expected 1 to 3 arguments, got " + std::to_string(p.size()));
  const int64_t start = p.size() == 1 ? 0 : int_arg(p[0]);
  const int64_t stop = int_arg(p.size() == 1 ? p[0] : p[1]);
  const int64_t step = p.size() == 3 ? int_arg(p[2]) : 1;
  if (step == 0) value_error("range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange)
      throw RenderError(ErrorKind::SecurityError,
                        "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    out.push_back(Value::integer(i));
  }
  return Value::list(std::move(out));
}

// dict(mapping or pairs, **kwargs), as namespace() and dict() accept.
Dict dict_from(const CallArgs& args, const char* name) {
  if (args.positional.size() > 1)
    type_error(std::string(name) + " expected at most 1 argument, got " +
               std::to_string(args.positional.size()));
  Dict d;
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.kind() == Kind::Dict) {
      for (const auto& [k, v] : source.as_dict()) d.set(k, v);
    } else {
      for (const Value& pair : iterate(source)) {
        const List kv = iterate(pair);
        if (kv.size() != 2)
          value_error("dictionary update sequence element has length " + std::to_string(kv.size()) +
                      "; 2 is required");
        if (!kv[0].is_string())
          throw RenderError(ErrorKind::RuntimeError,
                            "only string keys are supported in dictionaries");
        d.set(kv[0].as_string(), kv[1]);
      }
    }
  }
  for (const auto& [k, v] : args.keyword) d.set(k, v);
  return d;
}

std::string strftime(const std::tm& now, const std::string& format) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::put_time(&now, format.c_str());
  return out.str();
}

}  // namespace

std::vector<std::pair<std::string, Value>> make_globals(
    const std::tm& now,
    const std::function<void(const std::shared_ptr<Namespace>&)>& on_namespace) {
  std::vector<std::pair<std::string, Value>> globals;
  globals.emplace_back("range", Value::callable("range", range));
  globals.emplace_back("dict", Value::callable("dict", [](CallArgs& args) {
                         return Value::dict(dict_from(args, "dict"));
                       }));
  globals.emplace_back("namespace", Value::callable("namespace", [on_namespace](CallArgs& args) {
                         auto ns =
                             std::make_shared<Namespace>(Namespace{dict_from(args, "namespace")});
                         on_namespace(ns);
                         return Value::ns(ns);
                       }));
  globals.emplace_back("raise_exception",
                       Value::callable("raise_exception", [](CallArgs& args) -> Value {
                         BoundArgs a("raise_exception", args, {"message"});
                         throw RenderError(ErrorKind::TemplateError, to_str(a.required(0)));
                       }));
  globals.emplace_back(
      "strftime_now", Value::callable("strftime_now", [now](CallArgs& args) {
        BoundArgs a("strftime_now", args, {"format"});
        const Value& format = a.required(0);
        if (!format.is_string())
          type_error("strftime() argument 1 must be str, not " + format.type_name());
        return Value::string(strftime(now, format.as_string()));
      }));
  return globals;
}

}  // namespace hearth::jinja
