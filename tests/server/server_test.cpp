// hearth serve end to end: the real server on a loopback port with stories260K, driven over
// HTTP with httplib's client. Every endpoint, streams parsed, outputs against Session+generate,
// concurrency, disconnects, the queue bound, auth, and every kind of bad input.
#include <gtest/gtest.h>
#include <httplib.h>
#include <hearth/generate.hpp>
#include <hearth/model.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/session.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/server.hpp"

namespace hearth::server {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
const fs::path kModelFile = fs::path(HEARTH_TEST_SHARED_DIR) / "models" / "stories260K.gguf";

std::shared_ptr<Model> model() {
  static PluginRegistry registry([] {
    RegistryOptions o;
    o.search_path = {HEARTH_TEST_PLUGIN_DIR};
    o.use_environment = false;
    o.use_default = false;
    return o;
  }());
  static std::shared_ptr<Model> loaded = [] {
    ModelOptions options;
    options.backend_options["threads"] = "2";
    return Model::load(kModelFile, registry, options);
  }();
  return loaded;
}

ServerOptions test_options() {
  ServerOptions o;
  o.port = 0;
  o.ctx_size = 256;
  o.parallel = 4;
  o.queue = 8;
  o.log_requests = false;
  o.max_body_bytes = 64 * 1024;
  return o;
}

// A server listening on a free loopback port for the test's lifetime.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options = test_options()) {
    std::signal(SIGPIPE, SIG_IGN);
    server_ = std::make_unique<Server>(model(), kModelFile, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->listen(); });
    while (!server_->running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60);
    return c;
  }
  Server& server() { return *server_; }

 private:
  std::unique_ptr<Server> server_;
  int port_ = 0;
  std::thread thread_;
};

httplib::Result post(const RunningServer& s, const std::string& path, const json& body,
                     const httplib::Headers& headers = {}) {
  return s.client().Post(path.c_str(), headers, body.dump(), "application/json");
}

// What Session + generate() (the path `hearth run` takes) make for these tokens.
std::string generate_alone(
    const std::vector<int32_t>& prompt, int64_t max_tokens, SamplerParams sp = [] {
      SamplerParams p;
      p.temperature = 0;
      return p;
    }()) {
  SessionOptions options;
  options.n_ctx = 256;
  options.n_batch = 512;
  Session session(model(), options);
  Sampler sampler(sp);
  GenerateOptions go;
  go.max_tokens = max_tokens;
  std::string text;
  generate(session, sampler, prompt, go, [&](std::string_view t) {
    text += t;
    return true;
  });
  return text;
}

std::vector<int32_t> text_tokens(const std::string& text) {
  const Tokenizer& tok = model()->tokenizer();
  return tok.encode(text, tok.add_bos_default(), true);
}

// The JSON payloads of an SSE body, and whether it ended with [DONE].
std::vector<json> sse_events(const std::string& body, bool& done) {
  std::vector<json> events;
  done = false;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    const std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (event.rfind("data: ", 0) != 0) continue;  // comments (keepalives)
    const std::string data = event.substr(6);
    EXPECT_FALSE(done) << "data after [DONE]";
    if (data == "[DONE]")
      done = true;
    else
      events.push_back(json::parse(data));
  }
  return events;
}

std::vector<json> ndjson_lines(const std::string& body) {
  std::vector<json> lines;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    if (end > pos) lines.push_back(json::parse(body.substr(pos, end - pos)));
    pos = end + 1;
  }
  return lines;
}

void expect_openai_error(const httplib::Result& r, int status, const std::string& param = "") {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  const json j = json::parse(r->body);
  ASSERT_TRUE(j.contains("error")) << r->body;
  const json& e = j["error"];
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_FALSE(e["message"].get<std::string>().empty());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param"));
  EXPECT_TRUE(e.contains("code"));
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << r->body;
  }
}

const json kGreedy = {{"temperature", 0}, {"max_tokens", 40}};

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_ = std::make_unique<RunningServer>(); }
  static void TearDownTestSuite() { shared_.reset(); }
  void TearDown() override {
    // The server keeps serving after whatever the test sent.
    auto r = shared_->client().Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  static std::unique_ptr<RunningServer> shared_;
};
std::unique_ptr<RunningServer> ServerTest::shared_;

TEST_F(ServerTest, HealthModelsTagsAndMetrics) {
  auto c = shared_->client();
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");

  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "stories260K");
  EXPECT_EQ(m["data"][0]["object"], "model");
  EXPECT_TRUE(m["data"][0]["created"].is_number_integer());
  EXPECT_TRUE(m["data"][0]["owned_by"].is_string());

  auto tags = c.Get("/api/tags");
  ASSERT_TRUE(tags);
  const json t = json::parse(tags->body);
  ASSERT_EQ(t["models"].size(), 1u);
  EXPECT_EQ(t["models"][0]["name"], "stories260K:latest");
  EXPECT_EQ(t["models"][0]["details"]["format"], "gguf");
  EXPECT_EQ(t["models"][0]["details"]["family"], "llama");
  EXPECT_GT(t["models"][0]["size"].get<int64_t>(), 0);

  // A request is counted when its reply has been written (httplib's logger), which can be after
  // the client has read it and sent the next request on another connection: poll briefly.
  const std::string models_line = "hearth_requests_total{endpoint=\"/v1/models\",status=\"200\"}";
  auto metrics = c.Get("/metrics");
  for (int tries = 0;
       tries < 200 && metrics && metrics->body.find(models_line) == std::string::npos; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    metrics = c.Get("/metrics");
  }
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  for (const char* name :
       {"hearth_requests_total{endpoint=\"/v1/models\",status=\"200\"}",
        "hearth_prompt_tokens_total", "hearth_generated_tokens_total", "hearth_queue_depth",
        "hearth_active_slots", "hearth_generation_tokens_per_second"})
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
}

TEST_F(ServerTest, GreedyCompletionEqualsHearthRun) {
  const std::string prompt = "Once upon a time";
  json body = kGreedy;
  body["prompt"] = prompt;
  body["model"] = "stories260K";
  auto r = post(*shared_, "/v1/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "stories260K");
  EXPECT_TRUE(j["id"].is_string());
  ASSERT_EQ(j["choices"].size(), 1u);
  const auto tokens = text_tokens(prompt);
  EXPECT_EQ(j["choices"][0]["text"], generate_alone(tokens, 40));
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["usage"]["prompt_tokens"], tokens.size());
  EXPECT_EQ(
      j["usage"]["total_tokens"].get<int64_t>(),
      j["usage"]["prompt_tokens"].get<int64_t>() + j["usage"]["completion_tokens"].get<int64_t>());
  const std::string finish = j["choices"][0]["finish_reason"];
  EXPECT_TRUE(finish == "length" || finish == "stop");
  if (finish == "length") {
    EXPECT_EQ(j["usage"]["completion_tokens"], 40);
  }
}

TEST_F(ServerTest, ChatCompletionAndItsStreamAgree) {
  json body = kGreedy;
  body["messages"] = json::array({{{"role", "system"}, {"content", "You tell stories."}},
                                  {{"role", "user"}, {"content", "Tell me about a cat."}}});
  auto r = post(*shared_, "/v1/chat/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  const std::string content = j["choices"][0]["message"]["content"];
  EXPECT_FALSE(content.empty());
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int64_t>(), 0);

  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto s = post(*shared_, "/v1/chat/completions", body);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200);
  EXPECT_NE(s->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  bool done = false;
  const auto events = sse_events(s->body, done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  std::string streamed;
  std::string finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json& e = events[i];
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_EQ(e["id"], events.front()["id"]);
    ASSERT_EQ(e["choices"].size(), 1u);
    if (e["choices"][0]["delta"].contains("content"))
      streamed += e["choices"][0]["delta"]["content"];
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
    EXPECT_TRUE(e["usage"].is_null());
  }
  EXPECT_EQ(streamed, content);
  EXPECT_EQ(finish, j["choices"][0]["finish_reason"]);
  EXPECT_TRUE(events.back()["choices"].empty());
  EXPECT_EQ(events.back()["usage"], j["usage"]);
}

TEST_F(ServerTest, CompletionStreamMatchesTheWholeReply) {
  json body = kGreedy;
  body["prompt"] = "The dog";
  auto whole = post(*shared_, "/v1/completions", body);
  body["stream"] = true;
  auto s = post(*shared_, "/v1/completions", body);
  ASSERT_TRUE(whole && s);
  bool done = false;
  const auto events = sse_events(s->body, done);
  EXPECT_TRUE(done);
  std::string text;
  for (const auto& e : events) {
    EXPECT_EQ(e["object"], "text_completion");
    text += e["choices"][0]["text"];
  }
  EXPECT_EQ(text, json::parse(whole->body)["choices"][0]["text"]);
  EXPECT_FALSE(events.back()["choices"][0]["finish_reason"].is_null());
}

TEST_F(ServerTest, OllamaGenerateStreamsNdjsonAndChatAnswersWhole) {
  json body = {{"model", "stories260K"},
               {"prompt", "Once upon a time"},
               {"options", {{"temperature", 0}, {"num_predict", 40}}}};
  auto r = post(*shared_, "/api/generate", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto lines = ndjson_lines(r->body);
  ASSERT_GE(lines.size(), 2u);
  std::string text;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], "stories260K");
    EXPECT_TRUE(lines[i]["created_at"].is_string());
    text += lines[i]["response"];
  }
  const json& last = lines.back();
  EXPECT_EQ(last["done"], true);
  EXPECT_TRUE(last["done_reason"] == "length" || last["done_reason"] == "stop");
  EXPECT_GT(last["eval_count"].get<int64_t>(), 0);
  EXPECT_GT(last["prompt_eval_count"].get<int64_t>(), 0);
  EXPECT_TRUE(last["total_duration"].is_number_integer());
  // stories260K has no chat template, so Ollama sends the prompt as is: the same as `hearth run`.
  EXPECT_EQ(text, generate_alone(text_tokens("Once upon a time"), 40));

  json chat = {{"model", "stories260K:latest"},
               {"stream", false},
               {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})},
               {"options", {{"temperature", 0}, {"num_predict", 20}}}};
  auto c = post(*shared_, "/api/chat", chat);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 200) << c->body;
  const json reply = json::parse(c->body);
  EXPECT_EQ(reply["done"], true);
  EXPECT_EQ(reply["message"]["role"], "assistant");
  EXPECT_TRUE(reply["message"]["content"].is_string());

  chat["stream"] = true;
  auto cs = post(*shared_, "/api/chat", chat);
  ASSERT_TRUE(cs);
  const auto chat_lines = ndjson_lines(cs->body);
  std::string streamed;
  for (const auto& l : chat_lines) streamed += l["message"]["content"];
  EXPECT_EQ(streamed, reply["message"]["content"]);
  EXPECT_EQ(chat_lines.back()["done"], true);
}

// Six clients at once on four slots: every stream is whole and equals that prompt run alone
// with the same seed, so batching (and queueing) changes nothing.
TEST_F(ServerTest, ConcurrentStreamsEachEqualTheirOutputAlone) {
  const std::vector<std::string> prompts = {"Once upon a time",       "The cat", "Lily and Tom",
                                            "One day, a little bird", "The sun", "Tim had a red"};
  auto request = [&](const std::string& prompt) {
    json body = {{"prompt", prompt},
                 {"temperature", 0.8},
                 {"seed", 1234},
                 {"max_tokens", 48},
                 {"stream", true}};
    auto r = post(*shared_, "/v1/completions", body);
    if (!r || r->status != 200) return std::string("<failed>");
    bool done = false;
    std::string text;
    for (const auto& e : sse_events(r->body, done)) text += e["choices"][0]["text"];
    return done ? text : std::string("<no [DONE]>");
  };
  std::vector<std::string> alone;
  for (const auto& p : prompts) alone.push_back(request(p));
  std::vector<std::future<std::string>> together;
  for (const auto& p : prompts) together.push_back(std::async(std::launch::async, request, p));
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(together[i].get(), alone[i]) << prompts[i];
    EXPECT_NE(alone[i].find('<'), 0u);
  }
  // Sampling with the seed reproduces the sampler run alone, too.
  SamplerParams sp;
  sp.temperature = 0.8f;
  sp.seed = 1234;
  EXPECT_EQ(alone[0], generate_alone(text_tokens(prompts[0]), 48, sp));
}

// The load test of the issue: 16 streaming clients at once on 16 slots, each stream complete and
// well formed, and each equal to the same request served alone (batching changes nothing).
TEST(ServerLoad, SixteenConcurrentStreamsAreCompleteAndEqualTheirOutputAlone) {
  ServerOptions options = test_options();
  options.parallel = 16;
  options.queue = 16;
  RunningServer server(options);
  const std::vector<std::string> subjects = {
      "a cat",  "a dog", "a bird", "a fish", "a tree", "a boat",  "a ball", "a cake",
      "a girl", "a boy", "a frog", "a star", "a car",  "a house", "a bear", "a flower"};
  auto request = [&](const std::string& subject) {
    json body = {{"prompt", "Once upon a time there was " + subject},
                 {"temperature", 0.7},
                 {"seed", 99},
                 {"max_tokens", 32},
                 {"stream", true}};
    auto c = server.client();
    auto r = c.Post("/v1/completions", body.dump(), "application/json");
    if (!r) return "<failed: " + httplib::to_string(r.error()) + ">";
    if (r->status != 200) return "<failed: " + std::to_string(r->status) + " " + r->body + ">";
    bool done = false;
    std::string text;
    for (const auto& e : sse_events(r->body, done)) text += e["choices"][0]["text"];
    return done ? text : std::string("<no [DONE]>");
  };
  std::vector<std::string> alone;
  for (const auto& s : subjects) alone.push_back(request(s));
  std::vector<std::future<std::string>> together;
  for (const auto& s : subjects) together.push_back(std::async(std::launch::async, request, s));
  for (size_t i = 0; i < subjects.size(); ++i) {
    const std::string text = together[i].get();
    EXPECT_NE(text.rfind('<', 0), 0u) << subjects[i] << ": " << text;
    EXPECT_EQ(text, alone[i]) << subjects[i];
  }
}

// A second server on a port another one listens on is refused with an error that says so (with
// SO_REUSEPORT both would bind and the kernel would split the clients between them).
TEST(ServerPort, APortInUseIsRefused) {
  RunningServer first;
  ServerOptions o = test_options();
  o.port = first.server().port();
  Server second(model(), kModelFile, o);
  try {
    second.bind();
    FAIL() << "a second server bound port " << o.port;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is another server using the port"), std::string::npos)
        << e.what();
  }
}

ServerOptions one_slot_options(int queue) {
  ServerOptions o = test_options();
  o.parallel = 1;
  o.queue = queue;
  o.ctx_size = 8192;
  return o;
}

// A reply that would run for thousands of tokens unless its client goes away.
const json kLongStream = {{"prompt", "Once upon a time"},
                          {"max_tokens", 8000},
                          {"ignore_eos", true},
                          {"temperature", 0},
                          {"stream", true}};

// Sends kLongStream and reads until `keep_reading` turns false; returns once the client hung up.
void long_stream_until(const RunningServer& s, std::function<bool()> keep_reading) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = kLongStream.dump();
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return keep_reading(); };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  auto c = s.client();
  c.send(req, res, error);
}

bool wait_for(const std::function<bool()>& condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(ServerSlots, AClientThatDisconnectsFreesItsSlotAtOnce) {
  RunningServer s(one_slot_options(0));
  int chunks = 0;
  long_stream_until(s, [&] { return ++chunks < 3; });
  EXPECT_TRUE(wait_for([&] { return s.server().load().active_slots == 0; }));
  EXPECT_LT(s.server().metrics().generated_tokens(), 8000);
  // The slot serves the next request.
  auto r = post(s, "/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 5}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ServerSlots, AFullQueueAnswers503WithRetryAfter) {
  RunningServer s(one_slot_options(0));
  std::atomic<bool> release{false};
  std::thread holder([&] { long_stream_until(s, [&] { return !release.load(); }); });
  ASSERT_TRUE(wait_for([&] { return s.server().load().active_slots == 1; }));
  auto r = post(s, "/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 5}});
  release = true;
  holder.join();
  expect_openai_error(r, 503);
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
}

TEST(ServerAuth, AnApiKeyIsRequiredWhenSet) {
  ServerOptions o = test_options();
  o.api_key = "sekrit";
  RunningServer s(o);
  auto c = s.client();
  expect_openai_error(c.Get("/v1/models"), 401);
  auto wrong = c.Get("/v1/models", httplib::Headers{{"Authorization", "Bearer nope"}});
  expect_openai_error(wrong, 401);
  EXPECT_EQ(json::parse(wrong->body)["error"]["code"], "invalid_api_key");
  auto ok = c.Get("/v1/models", httplib::Headers{{"Authorization", "Bearer sekrit"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ollama = c.Get("/api/tags");
  ASSERT_TRUE(ollama);
  EXPECT_EQ(ollama->status, 401);
  EXPECT_TRUE(json::parse(ollama->body)["error"].is_string());
}

json chat_body() {
  return {{"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})}, {"max_tokens", 4}};
}

TEST_F(ServerTest, InvalidJsonIs400) {
  auto r = shared_->client().Post("/v1/chat/completions", "{\"messages\": [", "application/json");
  expect_openai_error(r, 400);
  EXPECT_NE(json::parse(r->body)["error"]["message"].get<std::string>().find("JSON"),
            std::string::npos);
  expect_openai_error(shared_->client().Post("/v1/chat/completions", "[1, 2]", "application/json"),
                      400);
}

TEST_F(ServerTest, WrongFieldTypesAre400NamingTheField) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, json>>{{"temperature", "hot"},
                                                 {"max_tokens", 1.5},
                                                 {"stream", "yes"},
                                                 {"stop", 5},
                                                 {"seed", "x"},
                                                 {"top_p", json::array()},
                                                 {"messages", "hello"}}) {
    json body = chat_body();
    body[key] = value;
    expect_openai_error(post(*shared_, "/v1/chat/completions", body), 400, key);
  }
  json bad_message = chat_body();
  bad_message["messages"][0]["content"] = 42;
  expect_openai_error(post(*shared_, "/v1/chat/completions", bad_message), 400,
                      "messages[0].content");
  json bad_role = chat_body();
  bad_role["messages"][0]["role"] = "wizard";
  expect_openai_error(post(*shared_, "/v1/chat/completions", bad_role), 400, "messages[0].role");
}

TEST_F(ServerTest, MissingMessagesIs400) {
  expect_openai_error(post(*shared_, "/v1/chat/completions", json{{"max_tokens", 4}}), 400,
                      "messages");
  expect_openai_error(post(*shared_, "/v1/chat/completions", json{{"messages", json::array()}}),
                      400, "messages");
  expect_openai_error(post(*shared_, "/v1/completions", json{{"max_tokens", 4}}), 400, "prompt");
  auto ollama = post(*shared_, "/api/chat", json{{"model", "stories260K"}});
  ASSERT_TRUE(ollama);
  EXPECT_EQ(ollama->status, 400);
  EXPECT_TRUE(json::parse(ollama->body)["error"].is_string());
}

TEST_F(ServerTest, AnUnknownModelIs404NamingTheServedOne) {
  json body = chat_body();
  body["model"] = "gpt-4o";
  auto r = post(*shared_, "/v1/chat/completions", body);
  expect_openai_error(r, 404, "model");
  EXPECT_NE(r->body.find("stories260K"), std::string::npos);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "model_not_found");
  auto ollama = post(*shared_, "/api/generate", json{{"model", "llama3"}, {"prompt", "x"}});
  ASSERT_TRUE(ollama);
  EXPECT_EQ(ollama->status, 404);
  EXPECT_NE(ollama->body.find("stories260K"), std::string::npos);
}

TEST_F(ServerTest, MaxTokensOutOfRangeIs400) {
  for (const json& value : {json(0), json(-5), json(1000000000)}) {
    json body = chat_body();
    body["max_tokens"] = value;
    expect_openai_error(post(*shared_, "/v1/chat/completions", body), 400, "max_tokens");
  }
  json body = chat_body();
  body["max_completion_tokens"] = 0;
  expect_openai_error(post(*shared_, "/v1/chat/completions", body), 400, "max_completion_tokens");
}

TEST_F(ServerTest, APromptLongerThanTheContextIs400WithTheNumbers) {
  std::string longer;
  for (int i = 0; i < 400; ++i) longer += "the cat sat on the mat. ";
  json body = chat_body();
  body["messages"][0]["content"] = longer;
  auto r = post(*shared_, "/v1/chat/completions", body);
  expect_openai_error(r, 400);
  const std::string message = json::parse(r->body)["error"]["message"];
  EXPECT_NE(message.find("256"), std::string::npos) << message;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "context_length_exceeded");
}

TEST_F(ServerTest, UnknownRouteIs404AndWrongMethodIs405) {
  auto c = shared_->client();
  expect_openai_error(c.Get("/v1/nothing-here"), 404);
  expect_openai_error(c.Post("/v2/chat", "{}", "application/json"), 404);
  auto r = c.Get("/v1/chat/completions");
  expect_openai_error(r, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  expect_openai_error(c.Delete("/v1/models"), 405);
}

TEST_F(ServerTest, AnOversizedBodyIs413) {
  json body = chat_body();
  body["messages"][0]["content"] = std::string(test_options().max_body_bytes + 1000, 'a');
  auto r = post(*shared_, "/v1/chat/completions", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, SamplingValuesOutOfRangeAre400) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, json>>{{"temperature", 2.5},
                                                 {"temperature", -1},
                                                 {"top_p", 1.5},
                                                 {"presence_penalty", 3},
                                                 {"frequency_penalty", -2.5},
                                                 {"n", 2}}) {
    json body = chat_body();
    body[key] = value;
    expect_openai_error(post(*shared_, "/v1/chat/completions", body), 400, key);
  }
  json too_many_stops = chat_body();
  too_many_stops["stop"] = json::array({"a", "b", "c", "d", "e"});
  expect_openai_error(post(*shared_, "/v1/chat/completions", too_many_stops), 400, "stop");
}

TEST_F(ServerTest, AStopStringEndsTheReplyWithStop) {
  json body = kGreedy;
  body["prompt"] = "Once upon a time";
  auto whole = post(*shared_, "/v1/completions", body);
  ASSERT_TRUE(whole);
  const std::string text = json::parse(whole->body)["choices"][0]["text"];
  ASSERT_GT(text.size(), 12u);
  const std::string stop = text.substr(8, 4);
  body["stop"] = stop;
  auto r = post(*shared_, "/v1/completions", body);
  ASSERT_TRUE(r);
  const json j = json::parse(r->body);
  EXPECT_EQ(j["choices"][0]["text"], text.substr(0, text.find(stop)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
}

}  // namespace
}  // namespace hearth::server
