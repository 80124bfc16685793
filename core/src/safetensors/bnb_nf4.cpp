// bitsandbytes NF4 weights (shared/specs/nf4.md §3-4) to Hearth's GGUF NF4 blocks: each 64-weight
// block keeps bnb's packed bytes unchanged (same nibble order) and stores the block's absmax
// reconstructed exactly as bnb does (code2[q] * absmax2 + offset in float32), so the result
// dequantizes to bnb's values bit for bit while every row stays self-contained.
#include <hearth/sdk/abi.h>
#include <hearth/safetensors.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace hearth {
namespace {

constexpr int64_t kBlock = 64;
constexpr int64_t kBlockBytes = 36;
constexpr std::string_view kStatePrefix = ".quant_state.bitsandbytes__";

// get_4bit_type("nf4") (spec §1); a checkpoint's quant_map must equal it bit for bit.
constexpr std::array<float, 16> kNf4 = HEARTH_NF4_CODEBOOK;

class Converter {
 public:
  Converter(const SafetensorsFile& file, const std::string& weight)
      : file_(file), weight_(weight) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw SafetensorsError(file_.name() + ": bitsandbytes weight '" + weight_ + "': " + what);
  }

  const SafetensorsTensor& require(const std::string& suffix) const {
    const auto* t = file_.tensor(weight_ + suffix);
    if (!t) fail("entry '" + weight_ + suffix + "' is missing");
    return *t;
  }

  std::vector<float> floats(const SafetensorsTensor& t, int64_t expected) const {
    if (t.dtype != SafetensorsDtype::F32 || t.n_elements() != expected)
      fail("'" + t.name + "' is " + std::string(safetensors_dtype_name(t.dtype)) + " with " +
           std::to_string(t.n_elements()) + " elements (file byte " +
           std::to_string(t.file_offset) + "), expected F32 with " + std::to_string(expected));
    std::vector<float> out(static_cast<size_t>(expected));
    std::memcpy(out.data(), t.data.data(), t.data.size());
    return out;
  }

  nlohmann::json quant_state() const {
    const SafetensorsTensor* state = nullptr;
    for (const auto& t : file_.tensors()) {
      if (t.name.rfind(weight_ + std::string(kStatePrefix), 0) != 0) continue;
      if (state) fail("it has two quant states, '" + state->name + "' and '" + t.name + "'");
      state = &t;
    }
    if (!state) fail("no '" + weight_ + std::string(kStatePrefix) + "nf4' entry");
    const std::string kind = state->name.substr(weight_.size() + kStatePrefix.size());
    if (kind != "nf4")
      fail("quant type '" + kind + "' is not NF4; Hearth converts only NF4 weights",
           HEARTH_ERR_UNSUPPORTED);
    const auto* text = reinterpret_cast<const char*>(state->data.data());
    try {
      auto json = nlohmann::json::parse(text, text + state->data.size());
      if (!json.is_object()) fail("'" + state->name + "' is not a JSON object");
      return json;
    } catch (const nlohmann::json::parse_error& e) {
      fail("'" + state->name + "' (file byte " + std::to_string(state->file_offset) +
           ") is not valid JSON at file byte " +
           std::to_string(state->file_offset + (e.byte > 0 ? e.byte - 1 : 0)));
    }
  }

  [[noreturn]] void fail(const std::string& what, hearth_status_code code) const {
    throw SafetensorsError(file_.name() + ": bitsandbytes weight '" + weight_ + "': " + what, code);
  }

  int64_t json_int(const nlohmann::json& state, const char* key,
                   const nlohmann::json& value) const {
    if (!value.is_number_integer() || value.get<int64_t>() <= 0)
      fail("quant state field \"" + std::string(key) + "\" is " + value.dump() +
           ", expected a positive integer; state: " + state.dump());
    return value.get<int64_t>();
  }

 private:
  const SafetensorsFile& file_;
  const std::string& weight_;
};

BnbNf4Weight convert(const SafetensorsFile& file, const std::string& weight_name);

}  // namespace

std::vector<std::string> bnb_nf4_weight_names(const SafetensorsFile& file) {
  const std::string suffix = std::string(kStatePrefix) + "nf4";
  std::vector<std::string> out;
  for (const auto& t : file.tensors())
    if (t.name.size() > suffix.size() &&
        t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(t.name.substr(0, t.name.size() - suffix.size()));
  std::sort(out.begin(), out.end());
  return out;
}

BnbNf4Weight convert_bnb_nf4(const SafetensorsFile& file, const std::string& weight_name) {
  try {
    return convert(file, weight_name);
  } catch (const nlohmann::json::exception& e) {
    throw SafetensorsError(file.name() + ": bitsandbytes weight '" + weight_name +
                           "': a quant state field has the wrong JSON type (" + e.what() + ")");
  }
}

namespace {

BnbNf4Weight convert(const SafetensorsFile& file, const std::string& weight_name) {
  const Converter c(file, weight_name);
  const nlohmann::json state = c.quant_state();
  if (state.value("quant_type", std::string()) != "nf4")
    c.fail("quant state says quant_type " + state.value("quant_type", nlohmann::json()).dump() +
           ", expected \"nf4\"");
  if (!state.contains("blocksize")) c.fail("quant state has no \"blocksize\"");
  const int64_t blocksize = c.json_int(state, "blocksize", state["blocksize"]);
  if (blocksize != kBlock)
    c.fail("blocksize " + std::to_string(blocksize) +
               ": Hearth's NF4 type has 64-element blocks; requantize with blocksize 64",
           HEARTH_ERR_UNSUPPORTED);
  const auto& shape = state.value("shape", nlohmann::json());
  if (!shape.is_array() || shape.size() != 2)
    c.fail("quant state \"shape\" is " + shape.dump() + ", expected [out_features, in_features]");
  const int64_t n_out = c.json_int(state, "shape", shape[0]);
  const int64_t n_in = c.json_int(state, "shape", shape[1]);
  if (n_in % kBlock != 0)
    c.fail("in_features " + std::to_string(n_in) +
               " is not a multiple of 64, so bnb's blocks span rows; Hearth's NF4 rows must "
               "hold whole blocks",
           HEARTH_ERR_UNSUPPORTED);
  if (n_out > std::numeric_limits<int64_t>::max() / n_in)
    c.fail("shape " + shape.dump() + " overflows a 64-bit element count");
  const int64_t n = n_out * n_in;
  const int64_t nb = n / kBlock;

  // The packed codes: [N/2, 1] or the legacy [1, N/2], any storage dtype (bytes reinterpreted).
  const auto& weight = c.require("");
  if (static_cast<int64_t>(weight.data.size()) != n / 2)
    c.fail("'" + weight.name + "' holds " + std::to_string(weight.data.size()) +
           " bytes (file byte " + std::to_string(weight.file_offset) + "), but shape " +
           shape.dump() + " packs into " + std::to_string(n / 2));

  const auto quant_map = c.floats(c.require(".quant_map"), 16);
  for (size_t i = 0; i < kNf4.size(); ++i)
    if (std::memcmp(&quant_map[i], &kNf4[i], sizeof(float)) != 0)
      c.fail("quant_map[" + std::to_string(i) + "] is " + std::to_string(quant_map[i]) +
                 ", not NF4's " + std::to_string(kNf4[i]) +
                 "; Hearth's NF4 type uses bitsandbytes' fixed table",
             HEARTH_ERR_UNSUPPORTED);

  BnbNf4Weight out;
  out.name = weight_name;
  out.n_in = n_in;
  out.n_out = n_out;
  out.compute_dtype = state.value("dtype", std::string());
  std::vector<float> absmax;
  const auto& absmax_entry = c.require(".absmax");
  if (file.tensor(weight_name + ".nested_absmax")) {
    out.double_quant = true;
    if (absmax_entry.dtype != SafetensorsDtype::U8 || absmax_entry.n_elements() != nb)
      c.fail("'" + absmax_entry.name + "' is " +
             std::string(safetensors_dtype_name(absmax_entry.dtype)) + " with " +
             std::to_string(absmax_entry.n_elements()) + " elements (file byte " +
             std::to_string(absmax_entry.file_offset) + "), expected U8 with " +
             std::to_string(nb) + " (double quantization)");
    const int64_t nested_block =
        state.contains("nested_blocksize")
            ? c.json_int(state, "nested_blocksize", state["nested_blocksize"])
            : 256;
    const auto absmax2 =
        c.floats(c.require(".nested_absmax"), (nb + nested_block - 1) / nested_block);
    const auto code2 = c.floats(c.require(".nested_quant_map"), 256);
    if (!state.contains("nested_offset") || !state["nested_offset"].is_number())
      c.fail("quant state has nested_absmax but no numeric \"nested_offset\"; state: " +
             state.dump());
    const auto offset = static_cast<float>(state["nested_offset"].get<double>());
    absmax.resize(static_cast<size_t>(nb));
    for (int64_t b = 0; b < nb; ++b) {
      const auto q = std::to_integer<uint8_t>(absmax_entry.data[static_cast<size_t>(b)]);
      const float scaled = code2[q] * absmax2[static_cast<size_t>(b / nested_block)];
      absmax[static_cast<size_t>(b)] = scaled + offset;
    }
  } else {
    absmax = c.floats(absmax_entry, nb);
  }

  out.blocks.resize(static_cast<size_t>(nb * kBlockBytes));
  for (int64_t b = 0; b < nb; ++b) {
    std::byte* block = out.blocks.data() + b * kBlockBytes;
    std::memcpy(block, &absmax[static_cast<size_t>(b)], sizeof(float));
    std::memcpy(block + 4, weight.data.data() + b * (kBlock / 2), kBlock / 2);
  }
  return out;
}

}  // namespace
}  // namespace hearth
