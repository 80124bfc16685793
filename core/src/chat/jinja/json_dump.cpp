#include "jinja/json_dump.hpp"

#include "jinja/py_string.hpp"
#include "jinja/render_error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hearth::jinja {
namespace {

constexpr int kMaxNesting = 500;

void append_u_escape(std::string& out, uint32_t unit) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(unit & 0xffffu));
  out += buf;
}

void append_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (char32_t c : py::decode(s)) {
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
      if (c > 0xFFFF) {
        const uint32_t v = static_cast<uint32_t>(c) - 0x10000;
        append_u_escape(out, 0xD800 | (v >> 10));
        append_u_escape(out, 0xDC00 | (v & 0x3FF));
      } else {
        append_u_escape(out, static_cast<uint32_t>(c));
      }
    } else {
      py::append_utf8(out, c);
    }
  }
  out += '"';
}

class Dumper {
 public:
  explicit Dumper(const JsonFormat& format) : f_(format) {}

  void dump(const Value& v, int level, std::string& out) {
    if (level > kMaxNesting)
      throw RenderError(ErrorKind::ValueError, "value nests too deeply for tojson");
    switch (v.kind()) {
      case Kind::None:
        out += "null";
        return;
      case Kind::Bool:
        out += v.as_bool() ? "true" : "false";
        return;
      case Kind::Int:
        out += std::to_string(v.as_int());
        return;
      case Kind::Float: {
        const double d = v.as_double();
        if (std::isnan(d))
          out += "NaN";
        else if (std::isinf(d))
          out += d < 0 ? "-Infinity" : "Infinity";
        else
          out += py::format_float(d);
        return;
      }
      case Kind::String:
        append_string(out, v.as_string(), f_.ensure_ascii);
        return;
      case Kind::List:
      case Kind::Tuple: {
        const List& items = v.as_list();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          out += i ? separator(level + 1) : open(level + 1);
          dump(items[i], level + 1, out);
        }
        out += close(level);
        out += ']';
        return;
      }
      case Kind::Dict: {
        const Dict& d = v.as_dict();
        if (d.empty()) {
          out += "{}";
          return;
        }
        std::vector<const Dict::Entry*> entries;
        for (const auto& e : d) entries.push_back(&e);
        if (f_.sort_keys)
          std::stable_sort(entries.begin(), entries.end(),
                           [](const auto* a, const auto* b) { return a->first < b->first; });
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          out += i ? separator(level + 1) : open(level + 1);
          append_string(out, entries[i]->first, f_.ensure_ascii);
          out += f_.key_separator;
          dump(entries[i]->second, level + 1, out);
        }
        out += close(level);
        out += '}';
        return;
      }
      default:
        type_error("Object of type " + v.type_name() + " is not JSON serializable");
    }
  }

 private:
  std::string newline_indent(int level) const {
    std::string s = "\n";
    for (int i = 0; i < level; ++i) s += *f_.indent;
    return s;
  }
  std::string open(int level) const { return f_.indent ? newline_indent(level) : ""; }
  std::string close(int level) const { return f_.indent ? newline_indent(level) : ""; }
  std::string separator(int level) const {
    return f_.indent ? f_.item_separator + newline_indent(level) : f_.item_separator;
  }

  const JsonFormat& f_;
};

}  // namespace

std::string dump_json(const Value& value, const JsonFormat& format) {
  std::string out;
  Dumper(format).dump(value, 0, out);
  return out;
}

}  // namespace hearth::jinja
