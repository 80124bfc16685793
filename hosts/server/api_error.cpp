#include "server/api_error.hpp"

namespace hearth::server {

ApiError::ApiError(int status, const std::string& message, std::string param, std::string code)
    : std::runtime_error(message),
      status_(status),
      param_(std::move(param)),
      code_(std::move(code)) {}

// OpenAI answers every client error, a wrong key included, as invalid_request_error.
std::string ApiError::type() const {
  return status_ >= 500 ? "server_error" : "invalid_request_error";
}

nlohmann::json openai_error_body(const ApiError& error) {
  nlohmann::json e = {{"message", error.what()}, {"type", error.type()}};
  e["param"] = error.param().empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param());
  e["code"] = error.code().empty() ? nlohmann::json(nullptr) : nlohmann::json(error.code());
  return {{"error", e}};
}

nlohmann::json ollama_error_body(const ApiError& error) { return {{"error", error.what()}}; }

}  // namespace hearth::server
