// Runs a shell command for end-to-end tests of the hosts and returns its exit code and output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace hearth::test {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout, then stderr if merged by the command line
};

// command runs under /bin/sh; append "2>&1" to capture stderr too.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + command);
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::string hearth_binary() { return std::string(HEARTH_TEST_BIN_DIR) + "/hearth"; }

}  // namespace hearth::test
