// `hearth serve`: an OpenAI- and Ollama-compatible HTTP server over one model, with continuous
// batching across requests (scheduler.hpp). Routes: POST /v1/chat/completions,
// POST /v1/completions, GET /v1/models, GET /health, GET /metrics, POST /api/generate,
// POST /api/chat, GET /api/tags.
#pragma once

#include <hearth/model.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "server/metrics.hpp"
#include "server/route_context.hpp"
#include "server/scheduler.hpp"
#include "server/served_model.hpp"
#include "server/server_options.hpp"

namespace httplib {
class Server;
}

namespace hearth::server {

class Server {
 public:
  // model_file names the model (its stem, unless options.model_name says otherwise).
  Server(std::shared_ptr<const Model> model, const std::filesystem::path& model_file,
         ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds options.host:options.port (port 0: any free port); throws hearth::Error when it cannot.
  // Returns the port bound.
  int bind();
  // Serves until stop(); call after bind().
  void listen();
  // Safe from any thread; listen() returns soon after.
  void stop();
  int port() const { return port_; }
  bool running() const;

  SchedulerLoad load() const { return scheduler_.load(); }
  const Metrics& metrics() const { return metrics_; }

 private:
  void add_routes();
  void log(const httplib::Request& req, const httplib::Response& res);

  ServerOptions options_;
  ServedModel model_;
  Metrics metrics_;
  Scheduler scheduler_;
  std::atomic<uint64_t> next_id_{1};
  RouteContext context_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  // The socket bind() listens on (set by httplib's socket-options callback).
  int listen_socket_ = -1;
  // When each request in flight started, for the log line.
  std::mutex started_mutex_;
  std::map<const void*, std::chrono::steady_clock::time_point> started_;
};

}  // namespace hearth::server
