// `hearth quantize IN OUT TYPE`: rewrite a GGUF with new tensor types, keeping its metadata.
#include <hearth/quantize.hpp>

#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "common.hpp"

namespace hearth::cli {

int cmd_quantize(const Argv& argv) {
  std::string types;
  for (const auto& r : quantize_recipes()) types += "\n        " + r.name + ": " + r.description;
  Args args("quantize", "Rewrite a GGUF model with new tensor types; 1-D and norm tensors stay F32.");
  args.positional("IN", "the model to read")
      .positional("OUT", "the file to write (atomically)")
      .positional("TYPE", "one of:" + types);
  add_plugin_options(args);
  if (!args.parse(argv)) return 0;
  const auto& p = args.positionals();
  PluginRegistry registry(registry_options(args));
  const QuantizeReport report =
      quantize_model(p[0], p[1], p[2], registry, [](const std::string& tensor, size_t done, size_t total) {
        std::fprintf(stderr, "\r[%zu/%zu] %-40s", done, total, tensor.c_str());
      });
  std::fprintf(stderr, "\n");
  std::printf("%s: %lld tensors (%lld converted), %s -> %s\n", p[1].c_str(),
              static_cast<long long>(report.tensors), static_cast<long long>(report.converted),
              format_bytes(report.bytes_in).c_str(), format_bytes(report.bytes_out).c_str());
  for (const auto& f : report.fallbacks) std::printf("  fallback: %s (rows do not fit the type's blocks)\n", f.c_str());
  return 0;
}

}  // namespace hearth::cli
