#include "args.hpp"

#include <algorithm>
#include <charconv>
#include <iostream>
#include <sstream>

namespace hearth::cli {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

Args::Args(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {
  flag("help", "h", "show this help");
}

Args& Args::flag(const std::string& long_name, const std::string& short_name,
                 const std::string& help) {
  specs_.push_back({long_name, short_name, "", help, false, std::nullopt});
  return *this;
}

Args& Args::option(const std::string& long_name, const std::string& short_name,
                   const std::string& value_name, const std::string& help,
                   std::optional<std::string> fallback) {
  specs_.push_back({long_name, short_name, value_name, help, true, std::move(fallback)});
  return *this;
}

Args& Args::positional(const std::string& name, const std::string& help, bool required) {
  positionals_.push_back({name, help, required});
  return *this;
}

const Args::Spec* Args::lookup(const std::string& token) const {
  for (const auto& s : specs_) {
    if (token == "--" + s.long_name) return &s;
    if (!s.short_name.empty() && token == "-" + s.short_name) return &s;
  }
  return nullptr;
}

bool Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string token = argv[i];
    if (token.size() > 1 && token[0] == '-' && !(token.size() > 1 && std::isdigit(static_cast<unsigned char>(token[1])))) {
      std::optional<std::string> inline_value;
      if (auto eq = token.find('='); token.rfind("--", 0) == 0 && eq != std::string::npos) {
        inline_value = token.substr(eq + 1);
        token = token.substr(0, eq);
      }
      const Spec* spec = lookup(token);
      if (!spec) {
        std::string best;
        size_t best_distance = 3;
        for (const auto& s : specs_) {
          size_t dist = edit_distance(token, "--" + s.long_name);
          if (dist < best_distance) best_distance = dist, best = "--" + s.long_name;
        }
        throw UsageError("unknown option '" + token + "' for `hearth " + command_ + "`" +
                         (best.empty() ? "" : "; did you mean '" + best + "'?") +
                         " (see `hearth " + command_ + " --help`)");
      }
      if (spec->long_name == "help") {
        std::cout << help();
        return false;
      }
      if (spec->takes_value) {
        if (!inline_value) {
          if (i + 1 >= argv.size())
            throw UsageError("option '" + token + "' needs a value (" + spec->value_name + ")");
          inline_value = argv[++i];
        }
        values_[spec->long_name] = *inline_value;
      } else {
        if (inline_value) throw UsageError("option '" + token + "' takes no value");
        values_[spec->long_name] = "1";
      }
    } else {
      positional_values_.push_back(token);
    }
  }
  size_t required = 0;
  for (const auto& p : positionals_) required += p.required ? 1 : 0;
  if (positional_values_.size() < required)
    throw UsageError("`hearth " + command_ + "` needs " + positionals_[positional_values_.size()].name +
                     " (see `hearth " + command_ + " --help`)");
  if (positional_values_.size() > positionals_.size())
    throw UsageError("unexpected argument '" + positional_values_[positionals_.size()] +
                     "' for `hearth " + command_ + "`");
  return true;
}

bool Args::has(const std::string& long_name) const { return values_.count(long_name) > 0; }

std::optional<std::string> Args::find(const std::string& long_name) const {
  if (auto it = values_.find(long_name); it != values_.end()) return it->second;
  for (const auto& s : specs_)
    if (s.long_name == long_name) return s.fallback;
  return std::nullopt;
}

std::string Args::get(const std::string& long_name) const {
  auto v = find(long_name);
  if (!v) throw UsageError("`hearth " + command_ + "` needs --" + long_name);
  return *v;
}

long long Args::get_int(const std::string& long_name) const {
  std::string v = get(long_name);
  long long out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size())
    throw UsageError("--" + long_name + " must be an integer, got '" + v + "'");
  return out;
}

double Args::get_double(const std::string& long_name) const {
  std::string v = get(long_name);
  try {
    size_t used = 0;
    double out = std::stod(v, &used);
    if (used == v.size()) return out;
  } catch (const std::exception&) {
  }
  throw UsageError("--" + long_name + " must be a number, got '" + v + "'");
}

std::string Args::help() const {
  std::ostringstream out;
  out << "usage: hearth " << command_ << " [options]";
  for (const auto& p : positionals_) out << (p.required ? " " : " [") << p.name << (p.required ? "" : "]");
  out << "\n\n" << summary_ << "\n\n";
  for (const auto& p : positionals_) out << "  " << p.name << "\n      " << p.help << "\n";
  for (const auto& s : specs_) {
    out << "  " << (s.short_name.empty() ? "    " : "-" + s.short_name + ", ") << "--" << s.long_name;
    if (s.takes_value) out << " " << s.value_name;
    out << "\n      " << s.help;
    if (s.fallback) out << " (default: " << *s.fallback << ")";
    out << "\n";
  }
  return out.str();
}

}  // namespace hearth::cli
