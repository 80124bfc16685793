// What the route handlers share, and the helpers both APIs use: error replies, request
// sampling fields, and handing a job to the scheduler.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/api_error.hpp"
#include "server/job.hpp"
#include "server/json_fields.hpp"
#include "server/scheduler.hpp"
#include "server/served_model.hpp"
#include "server/server_options.hpp"

namespace hearth::server {

enum class ErrorShape { openai, ollama };

struct RouteContext {
  const ServerOptions& options;
  const ServedModel& model;
  Scheduler& scheduler;
  std::atomic<uint64_t>& next_id;
};

void send_error(httplib::Response& res, const ApiError& error, ErrorShape shape);

// Wraps a handler so ApiError becomes its status, hearth::Error a 400 and anything else a 500,
// each in the API's error shape.
httplib::Server::Handler guarded(
    ErrorShape shape, std::function<void(const httplib::Request&, httplib::Response&)> handler);

// The server's sampling defaults, with a fresh seed when it draws them per request.
SamplerParams default_sampling(const ServerOptions& options);

// Checks that the prompt leaves room in a slot (400 with both numbers) and queues the job
// (503 with Retry-After when the queue is full).
std::shared_ptr<Job> submit(RouteContext& ctx, JobSpec spec);

// ApiError 404 naming the served model unless `requested` names it (absent is fine).
void check_model(const RouteContext& ctx, const JsonFields& fields);

// Serialized for the wire; text that is somehow not UTF-8 is replaced, never thrown on mid-stream.
std::string wire(const nlohmann::json& j);

// "stop" / "length", as both APIs report why generation ended.
const char* finish_reason(const JobResult& result);

}  // namespace hearth::server
