// What `hearth serve` is told: where to listen, who may call, how many requests run at once.
#pragma once

#include <hearth/sampler.hpp>
#include <hearth/session.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace hearth::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (Server::port() says which)
  std::string api_key;         // empty: no authentication
  int parallel = 4;            // slots: requests generating at once, batched into one forward pass
  int queue = 16;              // requests waiting for a slot before new ones get 503
  int64_t ctx_size = 2048;     // tokens per slot (prompt and reply)
  int64_t batch_tokens = 512;  // most tokens in one forward pass
  SessionOptions slot_session;  // each slot's KV settings (policy, budget); n_ctx is ctx_size
  size_t max_body_bytes = size_t{8} << 20;  // larger bodies get 413
  std::string model_name;                   // the name clients use; empty: the model file's stem
  SamplerParams sampling;                   // defaults for what a request leaves out
  bool random_seed = true;   // a request without a seed draws one (else sampling.seed)
  bool log_requests = true;  // one line per request on stderr
};

}  // namespace hearth::server
