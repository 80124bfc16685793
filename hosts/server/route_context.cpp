#include "server/route_context.hpp"

#include <hearth/error.hpp>

#include <random>

namespace hearth::server {

void send_error(httplib::Response& res, const ApiError& error, ErrorShape shape) {
  res.status = error.status();
  if (error.status() == 503) res.set_header("Retry-After", "1");
  const auto body =
      shape == ErrorShape::openai ? openai_error_body(error) : ollama_error_body(error);
  res.set_content(wire(body), "application/json");
}

httplib::Server::Handler guarded(
    ErrorShape shape, std::function<void(const httplib::Request&, httplib::Response&)> handler) {
  return
      [shape, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        try {
          handler(req, res);
        } catch (const ApiError& e) {
          send_error(res, e, shape);
        } catch (const Error& e) {
          // Input the core refused (text that is not UTF-8, a token id outside the vocabulary...).
          send_error(res, ApiError(400, e.what()), shape);
        } catch (const std::exception& e) {
          send_error(res, ApiError(500, std::string("internal error: ") + e.what()), shape);
        }
      };
}

SamplerParams default_sampling(const ServerOptions& options) {
  SamplerParams p = options.sampling;
  if (options.random_seed) p.seed = std::random_device{}();
  return p;
}

std::shared_ptr<Job> submit(RouteContext& ctx, JobSpec spec) {
  const int64_t n = static_cast<int64_t>(spec.prompt.size());
  const int64_t n_ctx = ctx.scheduler.ctx_size();
  if (n == 0) throw ApiError(400, "the prompt is empty", "prompt");
  if (n >= n_ctx)
    throw ApiError(400,
                   "the prompt is " + std::to_string(n) + " tokens but the context holds " +
                       std::to_string(n_ctx) +
                       " tokens per request, which leaves no room to reply; shorten the prompt "
                       "or start the server with a larger --ctx-size",
                   "messages", "context_length_exceeded");
  auto job = ctx.scheduler.submit(std::move(spec));
  if (!job) {
    const auto load = ctx.scheduler.load();
    throw ApiError(503,
                   "the server is busy: all " + std::to_string(load.slots) +
                       " slots are in use and " + std::to_string(load.queued) +
                       " requests are waiting; retry shortly",
                   "", "server_busy");
  }
  return job;
}

void check_model(const RouteContext& ctx, const JsonFields& fields) {
  const auto requested = fields.string("model");
  if (requested && !ctx.model.answers_to(*requested))
    throw ApiError(404,
                   "the model '" + *requested + "' does not exist; this server serves '" +
                       ctx.model.name() + "'",
                   "model", "model_not_found");
}

std::string wire(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const char* finish_reason(const JobResult& result) {
  using Stop = GenerateStats::Stop;
  return result.stop == Stop::length || result.stop == Stop::context_full ? "length" : "stop";
}

}  // namespace hearth::server
