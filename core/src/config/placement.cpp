#include <algorithm>
#include <climits>
#include <cstdint>
#include <hearth/config.hpp>

namespace hearth {
namespace {

constexpr size_t kNobody = SIZE_MAX;

std::string device_key(size_t index, std::string_view key = {}) {
  std::string out = "device[" + std::to_string(index) + "]";
  if (!key.empty()) out += "." + std::string(key);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  if (items.empty()) return "none";
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string range_text(int first, int last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

std::string model_layers_text(int n_layers) {
  return std::to_string(n_layers) + (n_layers == 1 ? " layer (" : " layers (") +
         range_text(0, n_layers - 1) + ")";
}

bool is_gpu(hearth_device_type type) {
  return type == HEARTH_DEVICE_GPU || type == HEARTH_DEVICE_IGPU;
}

// The special match words and the device types each accepts.
bool match_accepts(std::string_view match, const AvailableDevice& device) {
  if (match.empty()) return true;
  if (match == "any-gpu") return is_gpu(device.type);
  if (match == "discrete-gpu") return device.type == HEARTH_DEVICE_GPU;
  if (match == "integrated-gpu") return device.type == HEARTH_DEVICE_IGPU;
  return device.name == match;
}

bool is_type_match(std::string_view match) {
  return match == "any-gpu" || match == "discrete-gpu" || match == "integrated-gpu";
}

std::string available_text(const DeviceInventory& inventory) {
  std::vector<std::string> names;
  for (const auto& device : inventory.devices) names.push_back(device.name);
  return join(names);
}

PlacedDevice resolve_device(const DeviceConfig& entry, size_t index,
                            const DeviceInventory& inventory) {
  const auto& backends = inventory.backends;
  if (!entry.backend.empty() &&
      std::find(backends.begin(), backends.end(), entry.backend) == backends.end())
    throw ConfigError(
        entry.location_of("backend"), device_key(index, "backend"),
        "backend '" + entry.backend + "' is not loaded (loaded: " + join(backends) + ")",
        "check [runtime].plugin_path or HEARTH_PLUGIN_PATH (`hearth plugins` lists "
        "what was found and what was refused)");
  for (const auto& device : inventory.devices) {
    if (!entry.backend.empty() && device.backend != entry.backend) continue;
    if (match_accepts(entry.match, device))
      return PlacedDevice{device.backend, device.name, device.type, device.index};
  }

  const std::string key = entry.match.empty() ? "backend" : "match";
  std::string problem;
  const auto other_backend =
      std::find_if(inventory.devices.begin(), inventory.devices.end(),
                   [&](const AvailableDevice& device) { return device.name == entry.match; });
  if (other_backend != inventory.devices.end()) {
    problem = "device '" + entry.match + "' belongs to backend '" + other_backend->backend +
              "', not '" + entry.backend + "'";
  } else if (entry.match.empty()) {
    problem = "backend '" + entry.backend + "' reports no devices";
  } else if (is_type_match(entry.match)) {
    problem = "no device fits '" + entry.match + "'" +
              (entry.backend.empty() ? "" : " in backend '" + entry.backend + "'") +
              " (available: " + available_text(inventory) + ")";
  } else {
    problem = "no device matches '" + entry.match + "'" +
              (entry.backend.empty() ? "" : " in backend '" + entry.backend + "'") +
              " (available: " + available_text(inventory) + ")";
  }
  throw ConfigError(entry.location_of(key), device_key(index, key), problem,
                    "match an available device (`hearth devices` lists them) or \"any-gpu\", or "
                    "use a profile for this machine");
}

// Which layers of the model each entry takes, as a layer -> entry table.
class LayerOwners {
 public:
  LayerOwners(const Config& config, int n_layers, PlacementPlan& plan)
      : config_(config), n_layers_(n_layers), plan_(plan), owner_(n_layers, kNobody) {}

  const std::vector<size_t>& owners() const { return owner_; }

  void claim_explicit_ranges() {
    for (size_t i = 0; i < config_.devices.size(); ++i) {
      const LayerSpec& spec = config_.devices[i].layers;
      if (spec.kind == LayerSpec::Kind::all) claim_range(i, 0, n_layers_ - 1);
      if (spec.kind == LayerSpec::Kind::range) claim_range(i, spec.first, spec.last);
    }
  }

  void claim_counts() {
    for (size_t i = 0; i < config_.devices.size(); ++i) {
      const LayerSpec& spec = config_.devices[i].layers;
      if (spec.kind != LayerSpec::Kind::count) continue;
      const int taken = take_unassigned(i, spec.count);
      if (taken < spec.count)
        plan_.notes.push_back(device_key(i) + " (" + plan_.devices[i].name +
                              "): " + spec.to_string() + " but only " + std::to_string(taken) +
                              " unassigned layers were left; it takes " + std::to_string(taken));
    }
  }

  void claim_rest() {
    for (size_t i = 0; i < config_.devices.size(); ++i) {
      if (config_.devices[i].layers.kind != LayerSpec::Kind::rest) continue;
      if (take_unassigned(i, INT_MAX) == 0)
        plan_.notes.push_back(device_key(i) + " (" + plan_.devices[i].name +
                              "): \"rest\" is empty; the other entries take every layer");
    }
  }

  void require_every_layer_placed() const {
    std::vector<std::string> gaps;
    int count = 0;
    for (int layer = 0; layer < n_layers_; ++layer) {
      if (owner_[layer] != kNobody) continue;
      int last = layer;
      while (last + 1 < n_layers_ && owner_[last + 1] == kNobody) ++last;
      gaps.push_back(range_text(layer, last));
      count += last - layer + 1;
      layer = last;
    }
    if (gaps.empty()) return;
    throw ConfigError(config_.devices.front().where, "device",
                      std::string(count == 1 ? "layer " : "layers ") + join(gaps) + " of the " +
                          model_layers_text(n_layers_) +
                          (count == 1 ? " is on no device" : " are on no device"),
                      "add layers = \"rest\" to one [[device]], or widen a range");
  }

 private:
  void claim_range(size_t index, int first, int last) {
    const DeviceConfig& entry = config_.devices[index];
    if (last >= n_layers_)
      throw ConfigError(entry.location_of("layers"), device_key(index, "layers"),
                        "layers " + range_text(first, last) + " but the model has " +
                            model_layers_text(n_layers_),
                        "use layers within " + range_text(0, n_layers_ - 1) +
                            ", or \"rest\" for whatever the other devices leave");
    for (int layer = first; layer <= last; ++layer) {
      const size_t other = owner_[layer];
      if (other == kNobody) continue;
      const LayerSpec& other_spec = config_.devices[other].layers;
      const int other_first = other_spec.kind == LayerSpec::Kind::all ? 0 : other_spec.first;
      const int other_last =
          other_spec.kind == LayerSpec::Kind::all ? n_layers_ - 1 : other_spec.last;
      const int both_last = std::min(last, other_last);
      throw ConfigError(entry.location_of("layers"), device_key(index, "layers"),
                        "layers " + range_text(first, last) + " overlap layers " +
                            range_text(other_first, other_last) + " of " + device_key(other) +
                            " at " + config_.devices[other].where.to_string() + " (" +
                            (layer == both_last ? "layer " : "layers ") +
                            range_text(layer, both_last) + " on both)",
                        "give each layer to one device");
    }
    std::fill(owner_.begin() + first, owner_.begin() + last + 1, index);
  }

  int take_unassigned(size_t index, int count) {
    int taken = 0;
    for (int layer = 0; layer < n_layers_ && taken < count; ++layer) {
      if (owner_[layer] != kNobody) continue;
      owner_[layer] = index;
      ++taken;
    }
    return taken;
  }

  const Config& config_;
  int n_layers_;
  PlacementPlan& plan_;
  std::vector<size_t> owner_;
};

std::string kv_text(const KvConfig& kv) {
  std::string out = kv.policy + " (budget " + kv.budget.to_string();
  for (const auto& [key, value] : kv.options) out += ", " + key + "=" + value;
  return out + ")";
}

}  // namespace

const LayerAssignment& PlacementPlan::assignment_for(int layer) const {
  for (const auto& assignment : assignments)
    if (layer >= assignment.first_layer && layer <= assignment.last_layer) return assignment;
  throw Error("layer " + std::to_string(layer) + " is outside the plan's " +
              model_layers_text(n_layers));
}

std::string PlacementPlan::describe() const {
  std::string out;
  for (const auto& a : assignments)
    out += (a.first_layer == a.last_layer ? "layer " : "layers ") +
           range_text(a.first_layer, a.last_layer) + " on " + a.device_name + " (backend " +
           a.backend + "), weights " + a.weights + ", kv " + kv_text(a.kv) + "\n";
  if (!devices.empty())
    out += "token embeddings on " + devices[input_device].name + ", output head on " +
           devices[output_device].name + "\n";
  return out;
}

PlacementPlan plan_placement(const Config& config, int n_layers, const DeviceInventory& inventory) {
  if (n_layers <= 0)
    throw Error("cannot place a model with " + std::to_string(n_layers) + " layers");
  if (config.devices.empty())
    throw ConfigError(SourceLocation{config.source_name, 0, 0}, "device", "no devices are listed",
                      "add a [[device]] section");
  PlacementPlan plan;
  plan.n_layers = n_layers;
  for (size_t i = 0; i < config.devices.size(); ++i)
    plan.devices.push_back(resolve_device(config.devices[i], i, inventory));

  LayerOwners owners(config, n_layers, plan);
  owners.claim_explicit_ranges();
  owners.claim_counts();
  owners.claim_rest();
  owners.require_every_layer_placed();

  const auto& owner = owners.owners();
  for (int layer = 0; layer < n_layers; ++layer) {
    const size_t index = owner[layer];
    if (!plan.assignments.empty() && plan.assignments.back().device_index == index) {
      plan.assignments.back().last_layer = layer;
      continue;
    }
    const DeviceConfig& entry = config.devices[index];
    plan.assignments.push_back(LayerAssignment{index, plan.devices[index].name,
                                               plan.devices[index].backend, layer, layer,
                                               entry.weights, entry.kv});
  }
  plan.input_device = owner.front();
  plan.output_device = owner.back();
  return plan;
}

}  // namespace hearth
