// Ollama's API: POST /api/generate, POST /api/chat (NDJSON streams by default), GET /api/tags.
#pragma once

#include <httplib.h>

#include "server/route_context.hpp"

namespace hearth::server {

void add_ollama_routes(httplib::Server& http, RouteContext& ctx);

}  // namespace hearth::server
