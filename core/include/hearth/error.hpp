// The exception every core API throws for bad input or a failed plugin call. The message is
// meant for the user: what was wrong, where, and what to do.
#pragma once

#include <hearth/sdk/abi.h>

#include <stdexcept>
#include <string>

namespace hearth {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, hearth_status_code code = HEARTH_ERR_INVALID_ARGUMENT)
      : std::runtime_error(message), code_(code) {}
  hearth_status_code code() const noexcept { return code_; }

 private:
  hearth_status_code code_;
};

const char* status_code_name(hearth_status_code code) noexcept;

}  // namespace hearth
