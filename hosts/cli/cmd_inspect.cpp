// `hearth inspect`: what a GGUF file holds, like gguf-dump; --json for scripts.
#include <hearth/sdk/abi.h>
#include <hearth/gguf.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"

namespace hearth::cli {
namespace {

std::string type_name(uint32_t type) {
  // Hearth's own types (abi.h) are defined by their format plugins, which inspect does not load.
  if (type == HEARTH_DTYPE_NF4) return "NF4";
  if (type == HEARTH_DTYPE_CS256) return "CS256";
  auto layout = gguf_builtin_type_layout(type);
  return layout ? layout->name : "type " + std::to_string(type);
}

std::string shape_text(const std::vector<int64_t>& ne) {
  std::string out;
  for (size_t i = 0; i < ne.size(); ++i) out += (i ? " x " : "") + std::to_string(ne[i]);
  return out;
}

std::string quoted(const std::string& s, size_t limit) {
  std::string body = s.size() > limit ? s.substr(0, limit) + "..." : s;
  std::string out = "\"";
  for (char c : body) {
    if (c == '\n')
      out += "\\n";
    else if (c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out + "\"";
}

std::string value_text(const GgufValue& v, size_t string_limit) {
  if (auto* s = v.as_string()) return quoted(*s, string_limit);
  if (auto* a = v.as_array()) {
    std::string out = "[" + std::string(gguf_type_name(a->element_type)) + " x " +
                      std::to_string(a->values.size()) + "] [";
    const size_t shown = std::min<size_t>(a->values.size(), 6);
    for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + value_text(a->values[i], 24);
    return out + (a->values.size() > shown ? ", ...]" : "]");
  }
  if (v.type == GgufType::BOOL) return *v.as_bool() ? "true" : "false";
  if (v.type == GgufType::FLOAT32 || v.type == GgufType::FLOAT64) {
    std::ostringstream out;
    out << *v.as_float();
    return out.str();
  }
  if (auto i = v.as_int()) return std::to_string(*i);
  if (auto u = v.as_uint()) return std::to_string(*u);
  return "?";
}

nlohmann::json value_json(const GgufValue& v) {
  if (auto* s = v.as_string()) return *s;
  if (auto* a = v.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : a->values) out.push_back(value_json(e));
    return out;
  }
  if (v.type == GgufType::BOOL) return *v.as_bool();
  if (v.type == GgufType::FLOAT32 || v.type == GgufType::FLOAT64) return *v.as_float();
  if (auto i = v.as_int()) return *i;
  if (auto u = v.as_uint()) return *u;
  return nullptr;
}

}  // namespace

int cmd_inspect(const Argv& argv) {
  Args args("inspect", "Show a GGUF file's metadata and tensors (long arrays summarized).");
  args.positional("FILE", "the GGUF file")
      .flag("json", "", "print everything as JSON (arrays in full)")
      .flag("no-tensors", "", "leave out the tensor list");
  if (!args.parse(argv)) return 0;
  const GgufFile file = GgufFile::open(args.positionals()[0]);

  uint64_t params = 0, bytes = 0;
  std::map<std::string, std::pair<int64_t, uint64_t>> by_type;
  for (const auto& t : file.tensors()) {
    params += static_cast<uint64_t>(t.n_elements());
    bytes += t.nbytes;
    auto& entry = by_type[type_name(t.type)];
    entry.first++;
    entry.second += t.nbytes;
  }

  if (args.has("json")) {
    nlohmann::json out;
    out["file"] = file.name();
    out["version"] = file.version();
    out["alignment"] = file.alignment();
    out["data_offset"] = file.data_offset();
    out["file_size"] = file.file_size();
    out["metadata"] = nlohmann::json::object();
    for (const auto& kv : file.metadata()) {
      out["metadata"][kv.key] = {{"type", std::string(gguf_type_name(kv.value.type))},
                                 {"value", value_json(kv.value)}};
    }
    out["tensors"] = nlohmann::json::array();
    for (const auto& t : file.tensors())
      out["tensors"].push_back({{"name", t.name},
                                {"type", type_name(t.type)},
                                {"type_id", t.type},
                                {"shape", t.ne},
                                {"bytes", t.nbytes},
                                {"offset", t.offset}});
    out["totals"] = {{"tensors", file.tensors().size()}, {"parameters", params}, {"bytes", bytes}};
    std::cout << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }

  std::printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, alignment %u, data at byte %llu, %s\n",
              file.name().c_str(), file.version(), file.metadata().size(), file.tensors().size(),
              file.alignment(), static_cast<unsigned long long>(file.data_offset()),
              format_bytes(file.file_size()).c_str());
  std::printf("\nmetadata:\n");
  for (const auto& kv : file.metadata())
    std::printf("  %-40s %-8s %s\n", kv.key.c_str(),
                std::string(gguf_type_name(kv.value.type)).c_str(),
                value_text(kv.value, 60).c_str());
  if (!args.has("no-tensors")) {
    std::printf("\ntensors:\n  %-36s %-6s %-20s %12s %12s\n", "NAME", "TYPE", "SHAPE", "BYTES",
                "OFFSET");
    for (const auto& t : file.tensors())
      std::printf("  %-36s %-6s %-20s %12llu %12llu\n", t.name.c_str(), type_name(t.type).c_str(),
                  shape_text(t.ne).c_str(), static_cast<unsigned long long>(t.nbytes),
                  static_cast<unsigned long long>(t.offset));
  }
  std::printf("\ntotals: %zu tensors, %llu parameters, %s of tensor data\n", file.tensors().size(),
              static_cast<unsigned long long>(params), format_bytes(bytes).c_str());
  for (const auto& [type, entry] : by_type)
    std::printf("  %-6s %4lld tensors  %s\n", type.c_str(), static_cast<long long>(entry.first),
                format_bytes(entry.second).c_str());
  return 0;
}

}  // namespace hearth::cli
