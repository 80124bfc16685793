#include <hearth/error.hpp>
#include <hearth/gguf.hpp>
#include <hearth/quantize.hpp>

#include <algorithm>
#include <cstring>

#include "quantize/quantize_rows.hpp"
#include "quantize/tensor_type_choice.hpp"
#include "quantize/tensor_values.hpp"

namespace hearth {

std::vector<QuantizeRecipe> quantize_recipes() {
  std::vector<QuantizeRecipe> out;
  for (const auto& r : detail::recipe_rules()) out.push_back({r.name, r.description});
  return out;
}

QuantizeReport quantize_model(const std::filesystem::path& input,
                              const std::filesystem::path& output, const std::string& recipe_name,
                              const PluginRegistry& registry, const QuantizeProgress& progress) {
  const detail::RecipeRule* recipe = nullptr;
  std::string known;
  for (const auto& r : detail::recipe_rules()) {
    if (r.name == recipe_name) recipe = &r;
    known += (known.empty() ? "" : ", ") + r.name;
  }
  if (!recipe)
    throw Error("unknown quantization type '" + recipe_name + "' (known: " + known + ")");
  if (std::filesystem::exists(output) && std::filesystem::equivalent(input, output))
    throw Error("the output file is the input file; write to a new file");

  const GgufFile in = GgufFile::open(input);
  const int64_t n_layer = [&] {
    auto arch = in.get_string("general.architecture");
    return arch ? in.get_int(*arch + ".block_count").value_or(0) : 0;
  }();
  GgufWriter writer(in.alignment());
  for (const auto& kv : in.metadata())
    if (kv.key != "general.file_type" && kv.key != "general.quantization_version")
      writer.set(kv.key, kv.value);
  writer.set("general.quantization_version", gguf_u32(2));
  writer.set("general.file_type", gguf_u32(recipe->file_type));

  QuantizeReport report;
  const auto& tensors = in.tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& t = tensors[i];
    if (progress) progress(t.name, i, tensors.size());
    report.tensors++;
    report.bytes_in += t.nbytes;
    const auto chosen = detail::choose_type(*recipe, t.name, t.ne, n_layer);
    const hearth_dtype target = chosen.value_or(HEARTH_DTYPE_F32);
    if (chosen && *chosen != recipe->base && detail::fit_row(recipe->base, t.ne[0]) != recipe->base)
      report.fallbacks.push_back(t.name + " -> " + detail::tensor_type_name(*chosen));
    if (target == t.type) {
      writer.add_tensor(t.name, t.type, t.ne, std::span(t.data, t.nbytes));
      report.bytes_out += t.nbytes;
      continue;
    }
    std::vector<float> values = detail::tensor_values_f32(t, registry, in.name());
    const int64_t n_per_row = t.ne[0];
    const int64_t n_rows = t.n_elements() / n_per_row;
    std::vector<std::byte> data;
    if (target == HEARTH_DTYPE_F32) {
      data.resize(values.size() * sizeof(float));
      std::memcpy(data.data(), values.data(), data.size());
    } else {
      auto format = registry.format_for(target);
      if (!format)
        throw Error("no loaded format plugin can write " + detail::tensor_type_name(target) +
                    "; check `hearth plugins`");
      data = detail::quantize_rows(*format, target, values.data(), n_rows, n_per_row);
    }
    writer.add_tensor(t.name, target, t.ne, data);
    report.converted++;
    report.bytes_out += data.size();
  }
  if (progress) progress("", tensors.size(), tensors.size());
  writer.write(output);
  // Our own reader validates every field of what we wrote.
  GgufFile::open(output);
  return report;
}

}  // namespace hearth
