// An error a request gets back: the HTTP status and what OpenAI's or Ollama's clients expect in
// the body.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace hearth::server {

class ApiError : public std::runtime_error {
 public:
  // param: the request field at fault; code: OpenAI's machine-readable code. Both may be empty.
  ApiError(int status, const std::string& message, std::string param = {}, std::string code = {});
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // invalid_request_error or server_error, from the status.
  std::string type() const;

 private:
  int status_;
  std::string param_;
  std::string code_;
};

// {"error":{"message","type","param","code"}}
nlohmann::json openai_error_body(const ApiError& error);
// {"error":"message"}
nlohmann::json ollama_error_body(const ApiError& error);

}  // namespace hearth::server
