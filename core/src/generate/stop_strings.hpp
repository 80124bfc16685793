// Holds back generated text that might be the start of a stop string, so a stop string is
// never shown, even when it arrives split across tokens.
#pragma once

#include <string>
#include <vector>

namespace hearth::detail {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stop) : stop_(std::move(stop)) {}
  // Adds text; returns what is safe to show now. stopped() turns true at a stop string.
  std::string push(const std::string& text);
  // What is still held back (shown when generation ends for another reason).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stop_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace hearth::detail
