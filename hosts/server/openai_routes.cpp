#include "server/openai_routes.hpp"

#include <limits>
#include <sstream>

#include "server/job_response.hpp"

namespace hearth::server {
namespace {

using nlohmann::json;

// What the OpenAI request fields of both endpoints say about generation.
struct OpenAiRequest {
  JobSpec spec;
  bool stream = false;
  bool include_usage = false;
};

OpenAiRequest read_generation_fields(const RouteContext& ctx, const JsonFields& f) {
  OpenAiRequest r;
  SamplerParams& p = r.spec.sampling;
  p = default_sampling(ctx.options);
  if (auto v = f.number("temperature", 0.0, 2.0)) p.temperature = static_cast<float>(*v);
  // top_p 0 keeps only the most likely token, which the sampler spells as a tiny positive p.
  if (auto v = f.number("top_p", 0.0, 1.0)) p.top_p = std::max(static_cast<float>(*v), 1e-6f);
  if (auto v = f.number("presence_penalty", -2.0, 2.0)) p.presence_penalty = static_cast<float>(*v);
  if (auto v = f.number("frequency_penalty", -2.0, 2.0))
    p.frequency_penalty = static_cast<float>(*v);
  if (auto v = f.integer("seed", std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max()))
    p.seed = static_cast<uint64_t>(*v);
  // llama.cpp's server extensions, for clients that tune them.
  if (auto v = f.integer("top_k", 0, 1 << 20)) p.top_k = static_cast<int32_t>(*v);
  if (auto v = f.number("min_p", 0.0, 1.0)) p.min_p = static_cast<float>(*v);
  if (auto v = f.number("repeat_penalty", 0.01, 10.0)) p.repeat_penalty = static_cast<float>(*v);

  const int64_t n_ctx = ctx.scheduler.ctx_size();
  auto max_tokens = f.integer("max_completion_tokens", std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::max());
  std::string max_name = "max_completion_tokens";
  if (!max_tokens) {
    max_tokens = f.integer("max_tokens", std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max());
    max_name = "max_tokens";
  }
  if (max_tokens && (*max_tokens < 1 || *max_tokens > n_ctx))
    throw ApiError(400,
                   "'" + max_name + "' is " + std::to_string(*max_tokens) +
                       "; it must be between 1 and " + std::to_string(n_ctx) +
                       " (the context per request)",
                   max_name, "invalid_value");
  r.spec.options.max_tokens = max_tokens.value_or(-1);
  r.spec.options.stop = f.strings("stop", 4);
  if (auto v = f.boolean("ignore_eos")) r.spec.options.stop_at_end_of_generation = !*v;
  if (auto n =
          f.integer("n", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      n && *n != 1)
    throw ApiError(
        400, "'n' is " + std::to_string(*n) + "; this server makes one choice per request (n = 1)",
        "n", "invalid_value");
  r.stream = f.boolean("stream").value_or(false);
  if (const json* so = f.object("stream_options")) {
    JsonFields options(*so, "stream_options.");
    r.include_usage = options.boolean("include_usage").value_or(false);
  }
  return r;
}

std::string text_of_content(const json& content, size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    throw ApiError(400,
                   "'" + where + "' must be a string or an array of content parts, not " +
                       describe_json_type(content),
                   where, "invalid_type");
  std::string text;
  for (const auto& part : content) {
    const bool is_text_part = part.is_object() && part.contains("type") && part["type"] == "text" &&
                              part.contains("text") && part["text"].is_string();
    if (!is_text_part)
      throw ApiError(400,
                     "'" + where +
                         "' holds a part that is not {\"type\": \"text\", \"text\": ...}; "
                         "this server takes text only",
                     where, "invalid_value");
    text += part["text"].get<std::string>();
  }
  return text;
}

std::vector<ChatMessage> read_messages(const JsonFields& f) {
  const json* messages = f.array("messages");
  if (!messages)
    throw ApiError(400, "'messages' is required: an array of {role, content}", "messages",
                   "missing_required_parameter");
  if (messages->empty())
    throw ApiError(400, "'messages' is empty; send at least one message", "messages",
                   "invalid_value");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      throw ApiError(400, "'" + where + "' must be an object, not " + describe_json_type(m), where,
                     "invalid_type");
    JsonFields mf(m, where + ".");
    auto role = mf.string("role");
    if (!role)
      throw ApiError(400, "'" + where + ".role' is required", where + ".role",
                     "missing_required_parameter");
    if (*role == "developer") role = "system";
    if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool")
      throw ApiError(
          400,
          "'" + where + ".role' is '" + *role + "'; use system, developer, user, assistant or tool",
          where + ".role", "invalid_value");
    auto content = m.find("content");
    out.push_back(ChatMessage{*role, content == m.end() ? "" : text_of_content(*content, i)});
  }
  return out;
}

json usage_json(const JobResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.generated_tokens},
          {"total_tokens", r.prompt_tokens + r.generated_tokens}};
}

std::string sse(const json& j) { return "data: " + wire(j) + "\n\n"; }

// The error a stream ends with when generation failed after the reply began.
std::string failure_text(const JobResult& r) {
  return r.error.empty() ? "" : sse(openai_error_body(ApiError(500, r.error)));
}

struct Envelope {
  std::string id;
  std::string object;
  std::time_t created;
  std::string model;
  json make(json choices) const {
    return {{"id", id},
            {"object", object},
            {"created", created},
            {"model", model},
            {"system_fingerprint", "hearth"},
            {"choices", std::move(choices)}};
  }
};

std::string make_id(RouteContext& ctx, const char* prefix) {
  std::ostringstream id;
  id << prefix << std::hex << std::time(nullptr) << '-' << ctx.next_id++;
  return id.str();
}

void chat_completions(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  JsonFields f(body);
  check_model(ctx, f);
  const auto messages = read_messages(f);
  OpenAiRequest r = read_generation_fields(ctx, f);
  r.spec.prompt = ctx.model.chat_prompt(messages);
  auto job = submit(ctx, std::move(r.spec));

  const Envelope env{make_id(ctx, "chatcmpl-"),
                     r.stream ? "chat.completion.chunk" : "chat.completion", std::time(nullptr),
                     ctx.model.name()};
  ResponseFormat format;
  const bool include_usage = r.include_usage;
  if (r.stream) {
    format.content_type = "text/event-stream";
    auto chunk = [env, include_usage](json delta, json finish) {
      json j = env.make(json::array({{{"index", 0},
                                      {"delta", std::move(delta)},
                                      {"logprobs", nullptr},
                                      {"finish_reason", std::move(finish)}}}));
      if (include_usage) j["usage"] = nullptr;
      return sse(j);
    };
    format.head = chunk({{"role", "assistant"}, {"content", ""}}, nullptr);
    format.piece = [chunk](const std::string& text) { return chunk({{"content", text}}, nullptr); };
    format.tail = [chunk, env, include_usage](const JobResult& result, const std::string&) {
      std::string out = failure_text(result) + chunk(json::object(), finish_reason(result));
      if (include_usage) {
        json usage = env.make(json::array());
        usage["usage"] = usage_json(result);
        out += sse(usage);
      }
      return out + "data: [DONE]\n\n";
    };
    format.keepalive = ": keepalive\n\n";
    format.keepalive_after = std::chrono::milliseconds{200};
  } else {
    format.content_type = "application/json";
    format.piece = [](const std::string&) { return std::string(); };
    format.tail = [env](const JobResult& result, const std::string& text) {
      if (!result.error.empty()) return wire(openai_error_body(ApiError(500, result.error)));
      json j = env.make(json::array(
          {{{"index", 0},
            {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
            {"logprobs", nullptr},
            {"finish_reason", finish_reason(result)}}}));
      j["usage"] = usage_json(result);
      return wire(j);
    };
    format.keepalive = " ";
  }
  respond_with_job(res, std::move(job), std::move(format));
}

std::vector<int32_t> read_completion_prompt(const RouteContext& ctx, const JsonFields& f) {
  const json* prompt = f.find("prompt");
  if (!prompt)
    throw ApiError(400, "'prompt' is required: a string or an array of token ids", "prompt",
                   "missing_required_parameter");
  if (prompt->is_string()) return ctx.model.text_prompt(prompt->get<std::string>());
  if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string())
    return ctx.model.text_prompt((*prompt)[0].get<std::string>());
  if (prompt->is_array() && !prompt->empty()) {
    std::vector<int32_t> tokens;
    const int64_t n_vocab = ctx.model.model()->hparams().n_vocab;
    for (const auto& t : *prompt) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= n_vocab)
        throw ApiError(400,
                       "'prompt' as an array must hold token ids in [0, " +
                           std::to_string(n_vocab) + ") (or be one string); found " + wire(t),
                       "prompt", "invalid_value");
      tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    return tokens;
  }
  throw ApiError(
      400,
      "'prompt' must be a string, an array with one string, or an array of token ids; got " +
          describe_json_type(*prompt),
      "prompt", "invalid_type");
}

void completions(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  JsonFields f(body);
  check_model(ctx, f);
  auto prompt = read_completion_prompt(ctx, f);
  OpenAiRequest r = read_generation_fields(ctx, f);
  r.spec.prompt = std::move(prompt);
  auto job = submit(ctx, std::move(r.spec));

  const Envelope env{make_id(ctx, "cmpl-"), "text_completion", std::time(nullptr),
                     ctx.model.name()};
  auto choice = [](const std::string& text, json finish) {
    return json::array({{{"text", text},
                         {"index", 0},
                         {"logprobs", nullptr},
                         {"finish_reason", std::move(finish)}}});
  };
  ResponseFormat format;
  const bool include_usage = r.include_usage;
  if (r.stream) {
    format.content_type = "text/event-stream";
    auto chunk = [env, choice, include_usage](const std::string& text, json finish) {
      json j = env.make(choice(text, std::move(finish)));
      if (include_usage) j["usage"] = nullptr;
      return sse(j);
    };
    format.piece = [chunk](const std::string& text) { return chunk(text, nullptr); };
    format.tail = [chunk, env, include_usage](const JobResult& result, const std::string&) {
      std::string out = failure_text(result) + chunk("", finish_reason(result));
      if (include_usage) {
        json usage = env.make(json::array());
        usage["usage"] = usage_json(result);
        out += sse(usage);
      }
      return out + "data: [DONE]\n\n";
    };
    format.keepalive = ": keepalive\n\n";
    format.keepalive_after = std::chrono::milliseconds{200};
  } else {
    format.content_type = "application/json";
    format.piece = [](const std::string&) { return std::string(); };
    format.tail = [env, choice](const JobResult& result, const std::string& text) {
      if (!result.error.empty()) return wire(openai_error_body(ApiError(500, result.error)));
      json j = env.make(choice(text, finish_reason(result)));
      j["usage"] = usage_json(result);
      return wire(j);
    };
    format.keepalive = " ";
  }
  respond_with_job(res, std::move(job), std::move(format));
}

json model_entry(const RouteContext& ctx) {
  return {{"id", ctx.model.name()},
          {"object", "model"},
          {"created", ctx.model.created()},
          {"owned_by", "hearth"}};
}

}  // namespace

void add_openai_routes(httplib::Server& http, RouteContext& ctx) {
  const auto shape = ErrorShape::openai;
  http.Post("/v1/chat/completions", guarded(shape, [&ctx](const auto& req, auto& res) {
              chat_completions(ctx, req, res);
            }));
  http.Post("/v1/completions",
            guarded(shape, [&ctx](const auto& req, auto& res) { completions(ctx, req, res); }));
  http.Get("/v1/models", guarded(shape, [&ctx](const auto&, auto& res) {
             const json list = {{"object", "list"}, {"data", json::array({model_entry(ctx)})}};
             res.set_content(wire(list), "application/json");
           }));
  http.Get(R"(/v1/models/(.+))", guarded(shape, [&ctx](const httplib::Request& req, auto& res) {
             const std::string id = req.matches[1];
             if (!ctx.model.answers_to(id))
               throw ApiError(404,
                              "the model '" + id + "' does not exist; this server serves '" +
                                  ctx.model.name() + "'",
                              "model", "model_not_found");
             res.set_content(wire(model_entry(ctx)), "application/json");
           }));
}

}  // namespace hearth::server
