// `hearth convert --to cs256|nf4 -m IN -o OUT`: prune to CS256 sparse tiles (magnitude, or Wanda
// with --calib), or quantize to NF4.
#include <hearth/convert.hpp>

#include <algorithm>
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace hearth::cli {

int cmd_convert(const Argv& argv) {
  Args args("convert",
            "Rewrite a GGUF model in a Hearth weight format. cs256 prunes the attention and FFN "
            "matrices (token_embd, output and norms stay as they are); nf4 quantizes like "
            "`hearth quantize ... NF4`.");
  args.option("to", "", "FORMAT", "cs256 or nf4")
      .option("model", "m", "IN", "the model to read")
      .option("output", "o", "OUT", "the file to write (atomically)")
      .option("sparsity", "", "S", "cs256: fraction of each matrix's weights to drop, [0, 1)",
              "0.5")
      .option("values", "", "TYPE", "cs256: kept values as f16, bf16 or int8 (per-row scale)",
              "f16")
      .option("vec", "", "N", "cs256: tile counts are multiples of N (4, 8, 16)", "8")
      .option("calib", "", "FILE",
              "cs256: calibration text; prune by Wanda (|w|*||x||) instead of |w|")
      .option("calib-tokens", "", "N", "cs256: at most N calibration tokens", "2048");
  add_plugin_options(args);
  if (!args.parse(argv)) return 0;
  if (!args.has("to")) throw UsageError("convert: --to is required (cs256 or nf4)");
  if (!args.has("model")) throw UsageError("convert: -m/--model IN is required");
  if (!args.has("output")) throw UsageError("convert: -o/--output OUT is required");
  ConvertOptions options;
  options.to = args.get("to");
  // Options with defaults cannot tell "given" from "defaulted", so look at the words typed.
  const auto given = [&](const std::string& name) {
    return std::any_of(argv.begin(), argv.end(), [&](const std::string& a) {
      return a == "--" + name || a.rfind("--" + name + "=", 0) == 0;
    });
  };
  if (options.to == "nf4")
    for (const char* cs256_only : {"sparsity", "values", "vec", "calib", "calib-tokens"})
      if (given(cs256_only))
        throw UsageError(std::string("convert: --") + cs256_only + " applies to --to cs256 only");
  options.sparsity = args.get_double("sparsity");
  options.values = args.get("values");
  options.vec = static_cast<int>(args.get_int("vec"));
  if (auto calib = args.find("calib")) options.calib = *calib;
  options.calib_tokens = args.get_int("calib-tokens");

  PluginRegistry registry(registry_options(args));
  const ConvertReport report =
      convert_model(args.get("model"), args.get("output"), options, registry,
                    [](const std::string& tensor, size_t done, size_t total) {
                      std::fprintf(stderr, "\r[%zu/%zu] %-40s", done, total, tensor.c_str());
                    });
  std::fprintf(stderr, "\n");
  std::printf("%s: %lld tensors (%lld converted, %s), %s -> %s\n", args.get("output").c_str(),
              static_cast<long long>(report.tensors), static_cast<long long>(report.converted),
              report.method.c_str(), format_bytes(report.bytes_in).c_str(),
              format_bytes(report.bytes_out).c_str());
  if (report.calib_tokens > 0)
    std::printf("calibration: %lld tokens\n", static_cast<long long>(report.calib_tokens));
  if (report.converted_elements > 0) {
    const double elems = static_cast<double>(report.converted_elements);
    std::printf(
        "cs256: %.4f bytes/weight (%.3f bits) over %llu pruned weights, achieved sparsity "
        "%.4f\n",
        static_cast<double>(report.converted_bytes) / elems,
        8.0 * static_cast<double>(report.converted_bytes) / elems,
        static_cast<unsigned long long>(report.converted_elements),
        1.0 - static_cast<double>(report.stored_entries) / elems);
  }
  return 0;
}

}  // namespace hearth::cli
