#include <hearth/sdk/abi.h>
#include <hearth/convert.hpp>
#include <hearth/error.hpp>
#include <hearth/gguf.hpp>
#include <hearth/quantize.hpp>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "convert/calibration_norms.hpp"
#include "quantize/tensor_values.hpp"

namespace hearth {
namespace {

void check_options(const ConvertOptions& o) {
  if (o.to == "nf4") {
    if (o.calib) throw Error("--calib applies to --to cs256 only (nf4 needs no calibration)");
    return;
  }
  if (o.to != "cs256")
    throw Error("unknown target format '" + o.to + "' for convert (known: cs256, nf4)");
  if (!(o.sparsity >= 0.0 && o.sparsity < 1.0))
    throw Error("sparsity " + std::to_string(o.sparsity) +
                " is out of range: give the fraction of weights to drop, at least 0 and below 1 "
                "(e.g. 0.66)");
  if (o.values != "f16" && o.values != "bf16" && o.values != "int8")
    throw Error("unknown values type '" + o.values + "' for cs256 (known: f16, bf16, int8)");
  if (o.vec != 4 && o.vec != 8 && o.vec != 16)
    throw Error("vec " + std::to_string(o.vec) + " must be 4, 8 or 16");
  if (o.calib_tokens < 2) throw Error("the calibration needs at least 2 tokens");
  if (o.calib && !std::filesystem::is_regular_file(*o.calib))
    throw Error("calibration text '" + o.calib->string() + "' is not a readable file");
}

// The linear layers' weights: pruned. Embeddings, the output head and 1-D tensors stay dense.
bool is_prunable(const GgufTensorInfo& t) {
  static const std::regex linear(
      R"(blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight)");
  return t.ne.size() == 2 && std::regex_match(t.name, linear);
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read the calibration text '" + path.string() + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ConvertReport convert_nf4(const std::filesystem::path& input, const std::filesystem::path& output,
                          const PluginRegistry& registry, const ConvertProgress& progress) {
  const QuantizeReport q = quantize_model(input, output, "NF4", registry, progress);
  ConvertReport r;
  r.tensors = q.tensors;
  r.converted = q.converted;
  r.bytes_in = q.bytes_in;
  r.bytes_out = q.bytes_out;
  r.method = "nf4";
  return r;
}

}  // namespace

ConvertReport convert_model(const std::filesystem::path& input, const std::filesystem::path& output,
                            const ConvertOptions& options, const PluginRegistry& registry,
                            const ConvertProgress& progress) {
  check_options(options);
  if (std::filesystem::exists(output) && std::filesystem::exists(input) &&
      std::filesystem::equivalent(input, output))
    throw Error("the output file is the input file; write to a new file");
  if (options.to == "nf4") return convert_nf4(input, output, registry, progress);

  auto format = registry.format_for(HEARTH_DTYPE_CS256);
  if (!format)
    throw Error("no loaded format plugin provides CS256; check that `hearth plugins` lists cs256",
                HEARTH_ERR_UNSUPPORTED);
  const GgufFile in = GgufFile::open(input);
  ConvertReport report;
  report.method = options.calib ? "wanda" : "magnitude";
  detail::CalibrationNorms calibration;
  if (options.calib) {
    calibration =
        detail::calibration_norms(in, registry, read_text(*options.calib), options.calib_tokens);
    report.calib_tokens = calibration.tokens;
  }
  std::ostringstream sparsity;
  sparsity << options.sparsity;
  const std::vector<std::pair<std::string, std::string>> encode_options = {
      {"sparsity", sparsity.str()},
      {"values", options.values},
      {"vec", std::to_string(options.vec)}};

  GgufWriter writer(in.alignment());
  for (const auto& kv : in.metadata()) writer.set(kv.key, kv.value);
  // As `hearth quantize` does for NF4: Hearth's own type has no llama_ftype, so the file type is
  // the dtype id (hearth bench named these files after their source's "F16").
  writer.set("general.file_type", gguf_u32(HEARTH_DTYPE_CS256));
  writer.set("hearth.cs256.sparsity", gguf_f32(static_cast<float>(options.sparsity)));
  writer.set("hearth.cs256.method", gguf_string(report.method));
  writer.set("hearth.cs256.values", gguf_string(options.values));

  const auto& tensors = in.tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& t = tensors[i];
    if (progress) progress(t.name, i, tensors.size());
    report.tensors++;
    report.bytes_in += t.nbytes;
    if (!is_prunable(t)) {
      writer.add_tensor(t.name, t.type, t.ne, std::span(t.data, t.nbytes));
      report.bytes_out += t.nbytes;
      continue;
    }
    const std::vector<float> values = detail::tensor_values_f32(t, registry, in.name());
    const float* importance = nullptr;
    if (options.calib) {
      auto it = calibration.norms.find(t.name);
      if (it == calibration.norms.end() || static_cast<int64_t>(it->second.size()) != t.ne[0])
        throw Error(in.name() + ": the calibration pass produced no activation norms for '" +
                    t.name + "'");
      importance = it->second.data();
    }
    const std::vector<std::byte> blob = format->encode(HEARTH_DTYPE_CS256, values.data(), t.ne[1],
                                                       t.ne[0], importance, encode_options);
    hearth_cs256_header header{};
    std::memcpy(&header, blob.data(), sizeof header);
    writer.add_tensor(t.name, HEARTH_DTYPE_CS256, t.ne, blob);
    report.converted++;
    report.bytes_out += blob.size();
    report.converted_elements += static_cast<uint64_t>(t.n_elements());
    report.converted_bytes += blob.size();
    report.stored_entries += header.nnz;
  }
  if (progress) progress("", tensors.size(), tensors.size());
  writer.write(output);
  GgufFile::open(output);  // our reader checks every CS256 header it sizes
  return report;
}

}  // namespace hearth
