// The TOML configuration (runtime settings and one [[device]] entry per device) and the placement
// plan made from it: which device runs which layers, in which weight format, with which KV policy.
//
// A config file is optional: default_config() runs every layer on the CPU. A file without
// [[device]] entries keeps that default device. Every error is a ConfigError whose message reads
// "file:line:column: what was wrong (key 'device[1].layers'): what to do"; [[device]] entries are
// numbered from 0 in the order they appear, as TOML paths number array elements.
//
// [runtime]
//   plugin_path = ["lib/hearth/plugins"]  # or one string; relative to the config file's folder
//   threads = 0      # 0 = one per physical core
//   context = 0      # tokens; 0 = the model's training context
//   batch   = 512    # tokens per forward step when evaluating a prompt
//   seed    = -1     # -1 = the host's default seed
// [[device]]
//   match      = "cuda:0"  # a device name ("cpu", "cuda:0", "hip:1") or "any-gpu",
//                          # "discrete-gpu", "integrated-gpu"
//   backend    = "cuda"    # optional: restricts matching to this backend plugin
//   layers     = "0-23"    # "all", "rest" (the default), "none", "N" or "A-B" (inclusive)
//   gpu_layers = 24        # instead of layers: this many layers, from the first unassigned one
//   weights    = "native"  # or a weight-format plugin's name: convert at load
//   kv         = { policy = "h2o", budget = 0.25, recent = 0.5 }  # or kv = "h2o"
//   options    = { ... }   # passed to the backend when the device is opened
#pragma once

#include <hearth/sdk/abi.h>
#include <hearth/error.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

class PluginRegistry;

// Where a setting came from. line == 0 means no particular line (built-in defaults).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  // "file:line:column", or just "file" without a line.
  std::string to_string() const;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

class ConfigError : public Error {
 public:
  // key: the setting's path ("device[1].layers"), empty if none; fix: what to do, may be empty.
  ConfigError(SourceLocation where, std::string key, std::string problem, std::string fix);
  const SourceLocation& where() const { return where_; }
  const std::string& key() const { return key_; }
  const std::string& problem() const { return problem_; }
  const std::string& fix() const { return fix_; }

 private:
  SourceLocation where_;
  std::string key_;
  std::string problem_;
  std::string fix_;
};

// Which layers a [[device]] entry takes.
struct LayerSpec {
  enum class Kind {
    all,    // every layer of the model
    rest,   // every layer no other entry takes (at most one entry)
    none,   // no layers
    range,  // first..last inclusive ("5" is 5-5)
    count,  // gpu_layers = N: the N lowest layers still unassigned after ranges
  };
  Kind kind = Kind::rest;
  int first = 0;
  int last = 0;
  int count = 0;
  // As written in a config: "all", "rest", "none", "0-23", "gpu_layers = 24".
  std::string to_string() const;
  friend bool operator==(const LayerSpec&, const LayerSpec&) = default;
};

// The KV-cache budget: a fraction of the full cache, or an absolute amount.
struct KvBudget {
  enum class Unit { fraction, bytes, tokens };
  Unit unit = Unit::fraction;
  double fraction = 1.0;  // unit == fraction: in (0, 1]
  uint64_t amount = 0;    // unit == bytes or tokens: >= 1
  // "0.25", "536870912 bytes", "4096 tokens".
  std::string to_string() const;
  friend bool operator==(const KvBudget&, const KvBudget&) = default;
};

// "0.25" (a fraction of the full cache), "25%", "512MiB", "4096 tokens"; throws hearth::Error
// naming the accepted forms.
KvBudget parse_kv_budget(std::string_view text);

struct KvConfig {
  std::string policy = "full";  // a kv plugin's name
  KvBudget budget;
  // Every other key of the kv table, stringified ("0.5", "true", "8"), for the policy plugin.
  std::map<std::string, std::string> options;
  friend bool operator==(const KvConfig&, const KvConfig&) = default;
};

struct DeviceConfig {
  std::string match;    // empty: the backend's first device
  std::string backend;  // empty: whichever backend has the matched device
  LayerSpec layers;
  std::string weights = "native";
  KvConfig kv;
  std::map<std::string, std::string> backend_options;
  SourceLocation where;  // the [[device]] entry itself
  // Where each key given for this entry was written ("match", "layers", "kv.budget", ...).
  std::map<std::string, SourceLocation> key_locations;
  // The key's location if it was written, else the entry's.
  const SourceLocation& location_of(const std::string& key) const;
};

struct RuntimeConfig {
  std::vector<std::filesystem::path> plugin_path;  // searched before $HEARTH_PLUGIN_PATH
  int threads = 0;                                 // 0 = one per physical core
  int64_t context = 0;                             // 0 = the model's training context
  int64_t batch = 512;                             // >= 1
  int64_t seed = -1;                               // -1 = the host's default
};

struct Config {
  RuntimeConfig runtime;
  std::vector<DeviceConfig> devices;  // never empty
  std::filesystem::path source;       // the file read; empty for built-in defaults or text
  std::string source_name;            // what messages call the source
};

// Built in: one CPU device ("cpu" backend) with all layers, native weights, the full KV cache.
Config default_config();
// Reads and checks a file; throws ConfigError (unreadable file, bad TOML, bad settings).
Config load_config_file(const std::filesystem::path& path);
// Checks TOML text. source_name names it in messages; relative plugin_path entries are resolved
// against base_dir when it is given.
Config parse_config(std::string_view text, std::string source_name,
                    const std::filesystem::path& base_dir = {});

// ---------------------------------------------------------------- placement

// A device a loaded backend plugin reports.
struct AvailableDevice {
  std::string backend;  // the backend plugin's name: "cpu", "cuda"
  std::string name;     // the device's stable id: "cpu", "cuda:0"
  hearth_device_type type = HEARTH_DEVICE_CPU;
  uint32_t index = 0;  // in its backend's device list, for BackendPlugin::open
};

struct DeviceInventory {
  std::vector<std::string> backends;  // every loaded backend plugin, with devices or not
  std::vector<AvailableDevice> devices;
};

// Every backend plugin the registry loaded and the devices each reports (none are opened).
DeviceInventory device_inventory(const PluginRegistry& registry);

struct PlacedDevice {
  std::string backend;
  std::string name;
  hearth_device_type type = HEARTH_DEVICE_CPU;
  uint32_t index = 0;  // in its backend's device list, for BackendPlugin::open
};

struct LayerAssignment {
  size_t device_index = 0;  // into Config::devices and PlacementPlan::devices
  std::string device_name;
  std::string backend;
  int first_layer = 0;  // inclusive
  int last_layer = 0;   // inclusive
  std::string weights;
  KvConfig kv;
};

// Token embeddings live on the device of layer 0 and the output norm and head on the device of
// the last layer, so activations cross devices only at range boundaries and a plan without a CPU
// entry needs no CPU. (llama.cpp keeps the embedding table on the CPU instead; on a GPU this
// costs n_vocab x n_embd weights of its memory. A model with tied embeddings split across
// devices needs the table on both.)
struct PlacementPlan {
  int n_layers = 0;
  std::vector<PlacedDevice> devices;         // one per Config::devices entry
  std::vector<LayerAssignment> assignments;  // by layer; together cover every layer once
  size_t input_device = 0;                   // holds the token embeddings
  size_t output_device = 0;                  // holds the output norm and head
  std::vector<std::string> notes;            // decisions worth a -v line
  const LayerAssignment& assignment_for(int layer) const;
  // One line per assignment, then where the embeddings and the head live.
  std::string describe() const;
};

// Resolves each entry's match against the inventory and gives every layer of a model with
// n_layers layers to exactly one entry: ranges and "all" first, then gpu_layers counts in entry
// order, then "rest". Throws ConfigError located at the offending entry or key.
PlacementPlan plan_placement(const Config& config, int n_layers, const DeviceInventory& inventory);

}  // namespace hearth
