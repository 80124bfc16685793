#include "server/ollama_routes.hpp"

#include <chrono>
#include <ctime>
#include <iomanip>
#include <limits>
#include <sstream>

#include "server/job_response.hpp"

namespace hearth::server {
namespace {

using nlohmann::json;

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::ostringstream out;
  out << std::put_time(&utc, "%Y-%m-%dT%H:%M:%S") << '.' << std::setw(6) << std::setfill('0')
      << micros << 'Z';
  return out.str();
}

int64_t nanoseconds(double seconds) { return static_cast<int64_t>(seconds * 1e9); }

// Ollama's "options" object (and "stream"), into a job spec.
struct OllamaRequest {
  JobSpec spec;
  bool stream = true;
};

OllamaRequest read_options(const RouteContext& ctx, const JsonFields& f) {
  OllamaRequest r;
  r.stream = f.boolean("stream").value_or(true);
  SamplerParams& p = r.spec.sampling;
  p = default_sampling(ctx.options);
  const json* options = f.object("options");
  if (!options) return r;
  JsonFields o(*options, "options.");
  constexpr auto kMin = std::numeric_limits<int64_t>::min();
  constexpr auto kMax = std::numeric_limits<int64_t>::max();
  if (auto v = o.number("temperature", 0.0, 100.0)) p.temperature = static_cast<float>(*v);
  if (auto v = o.number("top_p", 0.0, 1.0)) p.top_p = std::max(static_cast<float>(*v), 1e-6f);
  if (auto v = o.integer("top_k", 0, 1 << 20)) p.top_k = static_cast<int32_t>(*v);
  if (auto v = o.number("min_p", 0.0, 1.0)) p.min_p = static_cast<float>(*v);
  if (auto v = o.number("repeat_penalty", 0.01, 10.0)) p.repeat_penalty = static_cast<float>(*v);
  if (auto v = o.integer("repeat_last_n", -1, 1 << 20)) p.penalty_last_n = static_cast<int32_t>(*v);
  if (auto v = o.number("presence_penalty", -2.0, 2.0)) p.presence_penalty = static_cast<float>(*v);
  if (auto v = o.number("frequency_penalty", -2.0, 2.0))
    p.frequency_penalty = static_cast<float>(*v);
  if (auto v = o.integer("seed", kMin, kMax)) p.seed = static_cast<uint64_t>(*v);
  const int64_t n_ctx = ctx.scheduler.ctx_size();
  if (auto v = o.integer("num_predict", kMin, kMax)) {
    // Ollama: -1 = until the model stops, -2 = until the context is full.
    if (*v == 0 || *v < -2 || *v > n_ctx)
      throw ApiError(400,
                     "'options.num_predict' is " + std::to_string(*v) +
                         "; it must be -1, -2 or between 1 and " + std::to_string(n_ctx) +
                         " (the context per request)",
                     "options.num_predict");
    r.spec.options.max_tokens = *v < 0 ? -1 : *v;
  }
  r.spec.options.stop = o.strings("stop", 16);
  return r;
}

// Ollama's model names: "name:tag"; a request may leave the tag out.
void check_ollama_model(const RouteContext& ctx, const JsonFields& f) {
  const auto requested = f.string("model");
  if (!requested)
    throw ApiError(400, "'model' is required; this server serves '" + ctx.model.name() + "'",
                   "model");
  check_model(ctx, f);
}

json final_fields(const JobResult& r) {
  const double total = r.queue_seconds + r.prompt_seconds + r.generate_seconds;
  return {{"done", true},
          {"done_reason", finish_reason(r)},
          {"total_duration", nanoseconds(total)},
          {"load_duration", 0},
          {"prompt_eval_count", r.prompt_tokens},
          {"prompt_eval_duration", nanoseconds(r.prompt_seconds)},
          {"eval_count", r.generated_tokens},
          {"eval_duration", nanoseconds(r.generate_seconds)}};
}

// Both endpoints reply the same way; only where the text goes differs.
void respond(httplib::Response& res, std::shared_ptr<Job> job, bool stream,
             const std::string& model, std::function<json(const std::string& text)> with_text) {
  ResponseFormat format;
  auto line = [model, with_text](const std::string& text, bool done) {
    json j = {{"model", model}, {"created_at", rfc3339_now()}};
    j.update(with_text(text));
    j["done"] = done;
    return j;
  };
  auto end = [line](const JobResult& result, const std::string& text) {
    if (!result.error.empty()) return wire(json{{"error", result.error}}) + "\n";
    json j = line(text, true);
    j.update(final_fields(result));
    return wire(j) + "\n";
  };
  if (stream) {
    format.content_type = "application/x-ndjson";
    format.piece = [line](const std::string& text) { return wire(line(text, false)) + "\n"; };
    format.tail = [end](const JobResult& result, const std::string&) { return end(result, ""); };
  } else {
    format.content_type = "application/json";
    format.piece = [](const std::string&) { return std::string(); };
    format.tail = end;
    format.keepalive = " ";
  }
  respond_with_job(res, std::move(job), std::move(format));
}

void generate(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  JsonFields f(body);
  check_ollama_model(ctx, f);
  const auto prompt = f.string("prompt");
  if (!prompt) throw ApiError(400, "'prompt' is required", "prompt");
  const auto system = f.string("system");
  OllamaRequest r = read_options(ctx, f);
  // Ollama wraps the prompt in the model's template; without one (or with raw) it goes as is.
  if (f.boolean("raw").value_or(false) || !ctx.model.has_own_template()) {
    r.spec.prompt = ctx.model.text_prompt(system ? *system + "\n\n" + *prompt : *prompt);
  } else {
    std::vector<ChatMessage> messages;
    if (system) messages.push_back({"system", *system});
    messages.push_back({"user", *prompt});
    r.spec.prompt = ctx.model.chat_prompt(messages);
  }
  auto job = submit(ctx, std::move(r.spec));
  respond(res, std::move(job), r.stream, ctx.model.name(), [](const std::string& text) {
    return json{{"response", text}};
  });
}

void chat(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  JsonFields f(body);
  check_ollama_model(ctx, f);
  const json* messages = f.array("messages");
  if (!messages || messages->empty())
    throw ApiError(400, "'messages' is required: a non-empty array of {role, content}", "messages");
  std::vector<ChatMessage> chat_messages;
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "].";
    if (!(*messages)[i].is_object())
      throw ApiError(400, "'messages[" + std::to_string(i) + "]' must be an object");
    JsonFields m((*messages)[i], where);
    auto role = m.string("role");
    if (!role) throw ApiError(400, "'" + where + "role' is required", where + "role");
    chat_messages.push_back({*role, m.string("content").value_or("")});
  }
  OllamaRequest r = read_options(ctx, f);
  r.spec.prompt = ctx.model.chat_prompt(chat_messages);
  auto job = submit(ctx, std::move(r.spec));
  respond(res, std::move(job), r.stream, ctx.model.name(), [](const std::string& text) {
    return json{{"message", {{"role", "assistant"}, {"content", text}}}};
  });
}

std::string format_parameters(uint64_t n) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(n >= 1000000000 ? 1 : 2);
  if (n >= 1000000000)
    out << static_cast<double>(n) / 1e9 << "B";
  else if (n >= 1000000)
    out << static_cast<double>(n) / 1e6 << "M";
  else
    out << static_cast<double>(n) / 1e3 << "K";
  return out.str();
}

json tags(const RouteContext& ctx) {
  std::tm utc{};
  const std::time_t created = ctx.model.created();
  gmtime_r(&created, &utc);
  std::ostringstream modified;
  modified << std::put_time(&utc, "%Y-%m-%dT%H:%M:%SZ");
  const std::string family = ctx.model.model()->hparams().architecture;
  const std::string name = ctx.model.name() + ":latest";
  return {
      {"models", json::array({{{"name", name},
                               {"model", name},
                               {"modified_at", modified.str()},
                               {"size", ctx.model.file_size()},
                               {"digest", ""},
                               {"details",
                                {{"parent_model", ""},
                                 {"format", "gguf"},
                                 {"family", family},
                                 {"families", json::array({family})},
                                 {"parameter_size", format_parameters(ctx.model.parameter_count())},
                                 {"quantization_level", ctx.model.file_type()}}}}})}};
}

}  // namespace

void add_ollama_routes(httplib::Server& http, RouteContext& ctx) {
  const auto shape = ErrorShape::ollama;
  http.Post("/api/generate",
            guarded(shape, [&ctx](const auto& req, auto& res) { generate(ctx, req, res); }));
  http.Post("/api/chat",
            guarded(shape, [&ctx](const auto& req, auto& res) { chat(ctx, req, res); }));
  http.Get("/api/tags", guarded(shape, [&ctx](const auto&, auto& res) {
             res.set_content(wire(tags(ctx)), "application/json");
           }));
}

}  // namespace hearth::server
