#include "server/server.hpp"

#include <httplib.h>
#include <hearth/error.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "server/ollama_routes.hpp"
#include "server/openai_routes.hpp"

namespace hearth::server {
namespace {

using nlohmann::json;

ErrorShape shape_for(const std::string& path) {
  return path.rfind("/api/", 0) == 0 ? ErrorShape::ollama : ErrorShape::openai;
}

struct Route {
  const char* path;
  const char* method;
};
// Every route and its method, so any other method on a known path is a 405.
constexpr Route kRoutes[] = {
    {"/v1/chat/completions", "POST"},
    {"/v1/completions", "POST"},
    {"/v1/models", "GET"},
    {"/health", "GET"},
    {"/metrics", "GET"},
    {"/api/generate", "POST"},
    {"/api/chat", "POST"},
    {"/api/tags", "GET"},
};

// Metric labels: known routes by name, everything else as one label (bounded cardinality).
std::string endpoint_label(const std::string& path) {
  for (const auto& r : kRoutes)
    if (path == r.path) return r.path;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

}  // namespace

Server::Server(std::shared_ptr<const Model> model, const std::filesystem::path& model_file,
               ServerOptions options)
    : options_(std::move(options)),
      model_(model, model_file, options_.model_name),
      scheduler_(model,
                 SchedulerOptions{options_.parallel, options_.queue, options_.ctx_size,
                                  options_.batch_tokens, options_.slot_session},
                 metrics_),
      context_{options_, model_, scheduler_, next_id_},
      http_(std::make_unique<httplib::Server>()) {
  validate(options_.sampling);
  // Each request holds a thread while it streams; idle keep-alive connections hold one too.
  const size_t threads = static_cast<size_t>(options_.parallel + options_.queue) + 8;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib's default options add SO_REUSEPORT, with which a second server binds the same port
  // and the kernel splits the connections between the two; SO_REUSEADDR alone lets a restart
  // bind at once but refuses a port another server listens on.
  http_->set_socket_options([this](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket_ = sock;
  });
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_keep_alive_timeout(2);
  add_routes();
}

Server::~Server() { stop(); }

int Server::bind() {
  port_ = options_.port == 0
              ? http_->bind_to_any_port(options_.host)
              : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port_ < 0)
    throw Error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                "; is another server using the port? Choose another with --port");
  // httplib listens with a backlog of 5: when more clients connect at once than the accept
  // thread has taken, the kernel drops their handshakes and some requests fail (4 of 16
  // concurrent streams in one CI run on 2 loaded cores). Listening again on the bound socket
  // enlarges the queue; the kernel caps it at net.core.somaxconn.
  if (::listen(listen_socket_, SOMAXCONN) != 0)
    throw Error("cannot enlarge the listen queue of " + options_.host + ":" +
                std::to_string(port_) + ": " + std::strerror(errno));
  return port_;
}

void Server::listen() { http_->listen_after_bind(); }

void Server::stop() { http_->stop(); }

bool Server::running() const { return http_->is_running(); }

void Server::log(const httplib::Request& req, const httplib::Response& res) {
  double seconds = 0;
  {
    std::lock_guard lock(started_mutex_);
    if (auto it = started_.find(&req); it != started_.end()) {
      seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second).count();
      started_.erase(it);
    }
  }
  metrics_.count_request(endpoint_label(req.path), res.status, seconds);
  if (options_.log_requests)
    std::fprintf(stderr, "hearth serve: %s %s %s %d %.1f ms\n", req.remote_addr.c_str(),
                 req.method.c_str(), req.path.c_str(), res.status, seconds * 1000.0);
}

void Server::add_routes() {
  auto& http = *http_;
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(started_mutex_);
      started_[&req] = std::chrono::steady_clock::now();
    }
    if (options_.api_key.empty() || req.path == "/health")
      return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + options_.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    const bool sent = req.has_header("Authorization");
    send_error(
        res,
        ApiError(
            401,
            sent
                ? "the API key is wrong; send the server's --api-key as 'Authorization: Bearer KEY'"
                : "this server needs an API key: send 'Authorization: Bearer KEY'",
            "", "invalid_api_key"),
        shape_for(req.path));
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { log(req, res); });
  // Replies httplib makes itself (404, 413, 400 for a malformed request) get the API's error shape.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message;
        if (res.status == 404)
          message = "no route " + req.method + " " + req.path +
                    "; see the server's documentation for its endpoints";
        else if (res.status == 413)
          message = "the request body is larger than the server's limit";
        else
          message = "the request could not be served (HTTP " + std::to_string(res.status) + ")";
        send_error(res, ApiError(res.status, message), shape_for(req.path));
        return httplib::Server::HandlerResponse::Handled;
      }));

  add_openai_routes(http, context_);
  add_ollama_routes(http, context_);
  http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(json{{"status", "ok"}}.dump(), "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(scheduler_.load()), "text/plain; version=0.0.4");
  });

  // Wrong methods on known paths.
  std::map<std::string, std::set<std::string>> allowed;
  for (const auto& r : kRoutes) allowed[r.path].insert(r.method);
  for (const auto& [path, methods] : allowed) {
    std::string allow;
    for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
    auto refuse = [path = path, allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      send_error(
          res,
          ApiError(405, "method " + req.method + " is not allowed on " + path + "; use " + allow),
          shape_for(path));
    };
    if (!methods.count("GET")) http.Get(path, refuse);
    if (!methods.count("POST")) http.Post(path, refuse);
    http.Put(path, refuse);
    http.Delete(path, refuse);
    http.Patch(path, refuse);
  }
}

}  // namespace hearth::server
