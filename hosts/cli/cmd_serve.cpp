// `hearth serve`: an OpenAI- and Ollama-compatible HTTP server on the model (hosts/server).
#include <hearth/error.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <pthread.h>

#include "commands.hpp"
#include "model_options.hpp"
#include "server/server.hpp"

namespace hearth::cli {
namespace {

// SIGINT/SIGTERM are blocked in every thread (so block them before any thread starts) and taken
// by one waiting thread, which stops the server: no signal handler, no global state.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

class StopOnSignal {
 public:
  StopOnSignal(sigset_t signals, server::Server& server) : signals_(signals) {
    waiter_ = std::thread([this, &server] {
      int signal = 0;
      sigwait(&signals_, &signal);
      if (signal == SIGINT || signal == SIGTERM) {
        std::fprintf(stderr, "hearth serve: stopping\n");
        server.stop();
      }
    });
  }
  ~StopOnSignal() {
    // Wake the waiter if the server stopped on its own.
    pthread_kill(waiter_.native_handle(), SIGTERM);
    waiter_.join();
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  sigset_t signals_;
  std::thread waiter_;
};

}  // namespace

int cmd_serve(const Argv& argv) {
  Args args("serve",
            "Serve the model over HTTP: the OpenAI API (/v1/chat/completions, /v1/completions, "
            "/v1/models) and Ollama's (/api/generate, /api/chat, /api/tags), with /health and "
            "/metrics. Concurrent requests are batched into one forward pass.");
  add_model_options(args);
  add_sampling_options(args);
  const server::ServerOptions d;
  args.option("host", "", "ADDR", "address to listen on", d.host)
      .option("port", "", "N", "port to listen on; 0 = any free port", std::to_string(d.port))
      .option("api-key", "", "KEY",
              "require 'Authorization: Bearer KEY' on every route but /health")
      .option("parallel", "", "N", "requests generating at once (slots, batched together)",
              std::to_string(d.parallel))
      .option("queue", "", "N", "requests waiting for a slot before new ones get 503",
              std::to_string(d.queue))
      .option("alias", "", "NAME", "the model's name in the API; default: the file's name")
      .option("max-body", "", "BYTES", "largest request body accepted (413 above)",
              std::to_string(d.max_body_bytes))
      .flag("quiet", "q", "do not log each request");
  if (!args.parse(argv)) return 0;

  server::ServerOptions options;
  options.host = args.get("host");
  const long long port = args.get_int("port");
  if (port < 0 || port > 65535) throw UsageError("--port must be in 0..65535");
  options.port = static_cast<int>(port);
  if (auto key = args.find("api-key")) options.api_key = *key;
  const long long parallel = args.get_int("parallel"), queue = args.get_int("queue");
  if (parallel < 1 || parallel > 256) throw UsageError("--parallel must be in 1..256");
  if (queue < 0 || queue > 4096) throw UsageError("--queue must be in 0..4096");
  options.parallel = static_cast<int>(parallel);
  options.queue = static_cast<int>(queue);
  const long long max_body = args.get_int("max-body");
  if (max_body < 1024) throw UsageError("--max-body must be at least 1024 bytes");
  options.max_body_bytes = static_cast<size_t>(max_body);
  if (auto alias = args.find("alias")) options.model_name = *alias;
  options.sampling = sampler_params(args);
  options.random_seed = args.get_int("seed") < 0;
  options.log_requests = !args.has("quiet");

  // A client that hangs up mid-reply must fail the write, not kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  const sigset_t stop_signals = block_stop_signals();
  auto loaded = load_model(args);
  const SessionOptions session = session_options(args, loaded);
  options.ctx_size = session.n_ctx;
  options.batch_tokens = session.n_batch;
  options.slot_session = session;
  const std::filesystem::path model_file = args.get("model");
  server::Server server(loaded.model, model_file, options);
  const int bound = server.bind();
  std::fprintf(stderr, "hearth serve: %s on http://%s:%d (%d slots of %lld tokens, queue %d)%s\n",
               model_file.stem().c_str(), options.host.c_str(), bound, options.parallel,
               static_cast<long long>(options.ctx_size), options.queue,
               options.api_key.empty() ? "" : ", API key required");
  StopOnSignal stop_on_signal(stop_signals, server);
  server.listen();
  return 0;
}

}  // namespace hearth::cli
