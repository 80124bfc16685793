// The OpenAI API: POST /v1/chat/completions, POST /v1/completions, GET /v1/models.
#pragma once

#include <httplib.h>

#include "server/route_context.hpp"

namespace hearth::server {

void add_openai_routes(httplib::Server& http, RouteContext& ctx);

}  // namespace hearth::server
