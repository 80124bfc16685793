#include <array>
#include <climits>

#include "sections.hpp"
#include "value_syntax.hpp"

namespace hearth::config_detail {
namespace {

constexpr std::array<std::string_view, 7> kDeviceKeys{"match",   "backend", "layers", "gpu_layers",
                                                      "weights", "kv",      "options"};

void remember_location(DeviceConfig& device, const TableReader& reader, std::string_view prefix) {
  for (const auto& [key, node] : reader.entries())
    device.key_locations[std::string(prefix) + std::string(key)] = reader.location_of(*node);
}

KvConfig read_kv(const TableReader& kv) {
  KvConfig out;
  if (auto policy = kv.get_nonempty_string("policy", "policy = \"h2o\"")) out.policy = *policy;
  if (const toml::node* budget = kv.find("budget")) {
    std::optional<Problem> problem;
    if (const auto* fraction = budget->as_floating_point()) {
      problem = check_budget_fraction(fraction->get());
      out.budget.fraction = fraction->get();
    } else if (const auto* text = budget->as_string()) {
      problem = parse_kv_budget_text(text->get(), out.budget);
    } else {
      kv.fail(*budget, "budget",
              "expected a float or a string, got " + std::string(toml_type_name(budget->type())),
              "write a fraction with a decimal point (budget = 1.0, budget = 0.25) or an amount "
              "in quotes (budget = \"512MiB\", budget = \"4096 tokens\")");
    }
    if (problem) kv.fail(*budget, "budget", problem->what, problem->fix);
  }
  for (const auto& [key, node] : kv.entries()) {
    if (key == "policy" || key == "budget") continue;
    out.options[std::string(key)] = kv.stringify_scalar(key, *node);
  }
  return out;
}

LayerSpec read_layers(const TableReader& device) {
  const toml::node* layers = device.find("layers");
  const toml::node* gpu_layers = device.find("gpu_layers");
  if (layers && gpu_layers)
    device.fail(*gpu_layers, "gpu_layers", "both 'layers' and 'gpu_layers' are set",
                "keep one: layers = \"0-23\" names the layers, gpu_layers = 24 counts them");
  LayerSpec spec;
  if (layers) {
    const auto* text = layers->as_string();
    if (!text)
      device.fail(
          *layers, "layers",
          "expected a string, got " + std::string(toml_type_name(layers->type())),
          "write it in quotes like layers = \"0-23\", or count layers with gpu_layers = 24");
    if (auto problem = parse_layer_spec(text->get(), spec))
      device.fail(*layers, "layers", problem->what, problem->fix);
  } else if (gpu_layers) {
    auto count =
        device.get_integer_in("gpu_layers", 0, INT_MAX, "must be 0 or more", "gpu_layers = 24");
    spec.kind = LayerSpec::Kind::count;
    spec.count = static_cast<int>(*count);
  }
  return spec;
}

std::map<std::string, std::string> read_backend_options(const TableReader& options) {
  std::map<std::string, std::string> out;
  for (const auto& [key, node] : options.entries())
    out[std::string(key)] = options.stringify_scalar(key, *node);
  return out;
}

DeviceConfig read_device(const TableReader& entry) {
  entry.reject_unknown_keys(kDeviceKeys, "a [[device]] entry");
  DeviceConfig device;
  device.where = entry.location();
  remember_location(device, entry, "");
  if (auto match = entry.get_nonempty_string("match", "match = \"cuda:0\"")) device.match = *match;
  if (auto backend = entry.get_nonempty_string("backend", "backend = \"cuda\""))
    device.backend = *backend;
  if (device.match.empty() && device.backend.empty())
    throw ConfigError(device.where, entry.path(), "this [[device]] entry names no device",
                      "set match (\"cpu\", \"cuda:0\", \"any-gpu\", ...) or backend");
  device.layers = read_layers(entry);
  if (auto weights = entry.get_nonempty_string("weights", "weights = \"native\""))
    device.weights = *weights;
  if (const toml::node* kv = entry.find("kv")) {
    if (const auto* policy = kv->as_string()) {
      if (policy->get().empty())
        entry.fail(*kv, "kv", "'kv' is empty", "write it like kv = \"h2o\"");
      device.kv.policy = policy->get();
    } else if (const auto* table = kv->as_table()) {
      TableReader kv_reader(*table, entry.key_path("kv"), entry.source_name());
      remember_location(device, kv_reader, "kv.");
      device.kv = read_kv(kv_reader);
    } else {
      entry.fail_type(*kv, "kv", "a string or a table", "kv = { policy = \"h2o\", budget = 0.25 }");
    }
  }
  if (const toml::node* options = entry.find("options")) {
    const auto& table = expect_table(entry, "options", *options, "options = { threads = 4 }");
    TableReader options_reader(table, entry.key_path("options"), entry.source_name());
    device.backend_options = read_backend_options(options_reader);
  }
  return device;
}

// At most one entry may take the rest: which one would get which layers is otherwise a guess.
void check_single_rest(const std::vector<DeviceConfig>& devices) {
  const DeviceConfig* first_rest = nullptr;
  size_t first_index = 0;
  for (size_t i = 0; i < devices.size(); ++i) {
    if (devices[i].layers.kind != LayerSpec::Kind::rest) continue;
    if (!first_rest) {
      first_rest = &devices[i];
      first_index = i;
      continue;
    }
    const bool written = devices[i].key_locations.count("layers") != 0;
    throw ConfigError(devices[i].location_of("layers"), "device[" + std::to_string(i) + "].layers",
                      std::string("a second device takes \"rest\"") +
                          (written ? "" : " (layers defaults to \"rest\")") + "; device[" +
                          std::to_string(first_index) + "] at " + first_rest->where.to_string() +
                          " already does",
                      "give this entry a range (layers = \"0-23\"), a count (gpu_layers = 24) or "
                      "layers = \"none\"");
  }
}

}  // namespace

DeviceConfig default_device() {
  DeviceConfig device;
  device.match = "cpu";
  device.backend = "cpu";
  device.layers.kind = LayerSpec::Kind::all;
  device.where = SourceLocation{kBuiltInSource, 0, 0};
  return device;
}

const toml::table& expect_table(const TableReader& parent, std::string_view key,
                                const toml::node& node, std::string_view example) {
  const auto* table = node.as_table();
  if (!table) parent.fail_type(node, key, "a table", example);
  return *table;
}

std::vector<DeviceConfig> read_devices(const TableReader& root, const toml::node& node) {
  const auto* array = node.as_array();
  if (!array)
    root.fail(node, "device",
              "expected an array of tables, got " + std::string(toml_type_name(node.type())),
              "write each device as its own [[device]] section (double brackets)");
  if (array->empty())
    root.fail(node, "device", "no devices are listed",
              "add [[device]] sections, or remove 'device' to run on the CPU");
  std::vector<DeviceConfig> devices;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string path = "device[" + std::to_string(i) + "]";
    const toml::node* item_ptr = array->get(i);
    if (item_ptr == nullptr)
      continue;  // i < size(), so never; keeps the compiler's analysis honest
    const toml::node& item = *item_ptr;
    const auto* table = item.as_table();
    if (!table)
      throw ConfigError(root.location_of(item), path,
                        "expected a table, got " + std::string(toml_type_name(item.type())),
                        "write each device as its own [[device]] section");
    devices.push_back(read_device(TableReader(*table, path, root.source_name())));
  }
  check_single_rest(devices);
  return devices;
}

}  // namespace hearth::config_detail
