#include <hearth/config.hpp>

namespace hearth {
namespace {

std::string compose(const SourceLocation& where, const std::string& key, const std::string& problem,
                    const std::string& fix) {
  std::string message = where.to_string() + ": " + problem;
  if (!key.empty()) message += " (key '" + key + "')";
  if (!fix.empty()) message += ": " + fix;
  return message;
}

}  // namespace

std::string SourceLocation::to_string() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

ConfigError::ConfigError(SourceLocation where, std::string key, std::string problem,
                         std::string fix)
    : Error(compose(where, key, problem, fix), HEARTH_ERR_INVALID_ARGUMENT),
      where_(std::move(where)),
      key_(std::move(key)),
      problem_(std::move(problem)),
      fix_(std::move(fix)) {}

const SourceLocation& DeviceConfig::location_of(const std::string& key) const {
  auto found = key_locations.find(key);
  return found == key_locations.end() ? where : found->second;
}

}  // namespace hearth
