// Chat templates rendered by hearth's Jinja interpreter against Python's jinja2, set up as
// Hugging Face transformers sets it up (render_with_jinja2.py): every template in
// ../shared/models/chat-templates over a set of conversations, and a battery of language
// snippets (snippets.json). Where jinja2 raises, hearth must raise too. Plus fixed-output tests
// of the language pieces, error positions, the ChatMessage API and bad input.
#include <hearth/chat_template.hpp>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace hearth {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const fs::path kTemplateDir = fs::path(HEARTH_TEST_SHARED_DIR) / "models" / "chat-templates";
const fs::path kTestDir = fs::path(HEARTH_TEST_SOURCE_DIR) / "tests" / "chat";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Json read_json(const fs::path& path) { return Json::parse(read_file(path)); }

// 2024-07-26 10:30:00, the date render_with_jinja2.py gets as "now".
std::tm fixed_now(const std::string& iso) {
  std::tm t{};
  std::istringstream in(iso);
  in >> std::get_time(&t, "%Y-%m-%dT%H:%M:%S");
  t.tm_isdst = -1;
  std::mktime(&t);  // fills in the weekday and day of the year
  return t;
}

struct Case {
  std::string name;
  std::string source;
  Json context;
};

struct Reference {
  bool ok = false;
  std::string text;
  std::string phase;  // where jinja2 failed: "compile" or "render"
  std::string error;  // Python exception class name
  std::string message;
};

// Renders every case with Python's jinja2 in one python3 run.
std::vector<Reference> render_with_jinja2(const std::vector<Case>& cases, const std::string& now) {
  const fs::path dir = fs::path(testing::TempDir()) /
                       ("hearth-chat-" + std::to_string(::getpid()) + "-" +
                        testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(dir);
  Json request = {{"now", now}, {"cases", Json::array()}};
  for (const Case& c : cases)
    request["cases"].push_back({{"template", c.source}, {"context", c.context}});
  std::ofstream(dir / "request.json") << request.dump();
  const char* python = std::getenv("HEARTH_TEST_PYTHON");
  const std::string command =
      std::string(python ? python : "python3") + " '" +
      (kTestDir / "render_with_jinja2.py").string() + "' '" + (dir / "request.json").string() +
      "' '" + (dir / "results.json").string() + "' 2> '" + (dir / "stderr.txt").string() + "'";
  const int rc = std::system(command.c_str());
  if (rc != 0)
    throw std::runtime_error(
        "python3 with jinja2 failed (install python3-jinja2, see "
        "ci/install-deps.sh): " +
        read_file(dir / "stderr.txt"));
  const Json results = read_json(dir / "results.json");
  fs::remove_all(dir);
  std::vector<Reference> out;
  for (const auto& r : results) {
    Reference ref;
    ref.ok = r.at("ok").get<bool>();
    if (ref.ok) {
      ref.text = r.at("text").get<std::string>();
    } else {
      ref.phase = r.at("phase").get<std::string>();
      ref.error = r.at("error").get<std::string>();
      ref.message = r.at("message").get<std::string>();
    }
    out.push_back(std::move(ref));
  }
  return out;
}

// Where two renders first differ, with some text around it from both.
std::string first_difference(const std::string& expected, const std::string& actual) {
  size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  Json shown = {
      {"byte", i}, {"jinja2", expected.substr(from, 120)}, {"hearth", actual.substr(from, 120)}};
  return shown.dump(-1, ' ', false, Json::error_handler_t::replace);
}

struct Outcome {
  int rendered = 0;  // both rendered the same text
  int raised = 0;    // both raised the same kind of error
};

// The error class hearth names for a Python exception raised while rendering.
std::string hearth_error_for(const std::string& python_error) {
  if (python_error == "TemplateRuntimeError" || python_error == "RecursionError")
    return "RuntimeError";
  if (python_error == "TemplateError") return "the template raised an error";
  return python_error;  // TypeError, UndefinedError, SecurityError, ValueError...
}

// Compares hearth with jinja2 on every case; returns how many rendered and raised.
Outcome expect_same_as_jinja2(const std::vector<Case>& cases, const std::string& now) {
  const std::vector<Reference> refs = render_with_jinja2(cases, now);
  EXPECT_EQ(refs.size(), cases.size());
  Outcome outcome;
  const std::tm tm_now = fixed_now(now);
  for (size_t i = 0; i < cases.size() && i < refs.size(); ++i) {
    const Case& c = cases[i];
    const Reference& ref = refs[i];
    SCOPED_TRACE("case " + c.name);
    std::string text;
    std::string error;
    std::string phase = "compile";
    try {
      const ChatTemplate t(c.source);
      phase = "render";
      text = t.render(c.context, tm_now);
    } catch (const ChatTemplateError& e) {
      error = e.what();
    }
    if (ref.ok) {
      if (!error.empty()) {
        ADD_FAILURE() << "jinja2 rendered it but hearth raised: " << error;
      } else if (text != ref.text) {
        ADD_FAILURE() << "renders differ: " << first_difference(ref.text, text);
      } else {
        ++outcome.rendered;
      }
      continue;
    }
    if (error.empty()) {
      ADD_FAILURE() << "jinja2 raised " << ref.error << " (" << ref.message
                    << ") but hearth rendered: " << first_difference("", text);
      continue;
    }
    // Refused when parsing in both, or when rendering in both, for the same reason.
    EXPECT_EQ(phase, ref.phase) << "hearth: " << error << "\njinja2: " << ref.error << ": "
                                << ref.message;
    if (ref.phase == "render") {
      EXPECT_NE(error.find(": " + hearth_error_for(ref.error) + ": "), std::string::npos)
          << "hearth: " << error << "\njinja2: " << ref.error << ": " << ref.message;
    }
    // The template's own raise_exception message must come through.
    if (ref.error == "TemplateError") {
      EXPECT_NE(error.find(ref.message), std::string::npos)
          << "hearth: " << error << "\njinja2: " << ref.message;
    }
    ++outcome.raised;
  }
  return outcome;
}

// ---------------------------------------------------------------- every shared template

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  if (fs::is_directory(kTemplateDir))
    for (const auto& entry : fs::directory_iterator(kTemplateDir))
      if (entry.path().extension() == ".jinja") names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ChatTemplateFiles, TheSharedTemplatesArePresent) {
  EXPECT_GE(template_names().size(), 18u) << "in " << kTemplateDir;
}

class SharedTemplate : public testing::TestWithParam<std::string> {};

TEST_P(SharedTemplate, RendersLikeJinja2) {
  const Json data = read_json(kTestDir / "conversations.json");
  const std::string source = read_file(kTemplateDir / GetParam());
  Json extra = Json::object();
  if (data["template_context"].contains(GetParam())) extra = data["template_context"][GetParam()];
  std::vector<Case> cases;
  for (const auto& [conversation, messages] : data["conversations"].items()) {
    for (const char* tools_mode : {"absent", "null", "list"}) {
      for (const bool generation_prompt : {false, true}) {
        Json context = {{"messages", messages},
                        {"add_generation_prompt", generation_prompt},
                        {"bos_token", data["bos_token"]},
                        {"eos_token", data["eos_token"]}};
        if (std::string(tools_mode) == "null") context["tools"] = nullptr;
        if (std::string(tools_mode) == "list") {
          context["tools"] = data["tools"];
          context["documents"] = data["documents"];
        }
        for (const auto& [key, value] : extra.items()) context[key] = value;
        cases.push_back({conversation + " tools=" + tools_mode +
                             " add_generation_prompt=" + (generation_prompt ? "true" : "false"),
                         source, context});
      }
    }
  }
  const Outcome outcome = expect_same_as_jinja2(cases, data["now"]);
  // A template that raised on every conversation would compare nothing.
  EXPECT_GE(outcome.rendered, 8) << "only " << outcome.rendered << " of " << cases.size()
                                 << " conversations rendered";
  std::cout << "[          ] " << GetParam() << ": " << outcome.rendered << " rendered, "
            << outcome.raised << " raised in both\n";
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.size() - std::string(".jinja").size());
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(ChatTemplates, SharedTemplate, testing::ValuesIn(template_names()),
                         test_name);

// ---------------------------------------------------------------- language snippets

TEST(JinjaLanguage, SnippetsRenderLikeJinja2) {
  const Json snippets = read_json(kTestDir / "snippets.json");
  std::vector<Case> cases;
  for (const auto& s : snippets)
    cases.push_back({s["name"].get<std::string>(), s["template"].get<std::string>(), s["context"]});
  const Outcome outcome = expect_same_as_jinja2(cases, "2024-07-26T10:30:00");
  std::cout << "[          ] " << outcome.rendered << " snippets rendered, " << outcome.raised
            << " raised in both\n";
  EXPECT_GE(outcome.rendered, 110);
  EXPECT_GE(outcome.raised, 45);
}

// ---------------------------------------------------------------- fixed expectations

std::string render(const std::string& source, const Json& context = Json::object()) {
  return ChatTemplate(source).render(context, fixed_now("2024-07-26T10:30:00"));
}

TEST(JinjaLanguage, WhitespaceControl) {
  EXPECT_EQ(render("{% if true %}\n  x\n{% endif %}\n"), "  x\n");
  EXPECT_EQ(render("a\n    {% if true %}\nb\n    {% endif %}\nc"), "a\nb\nc");
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(render("a\n  {%+ if true %}b{% endif %}"), "a\n  b");
  EXPECT_EQ(render("a\n  {# comment #}\nb"), "a\nb");
}

TEST(JinjaLanguage, PythonPrinting) {
  EXPECT_EQ(render("{{ [1, 'a', none, true, 1.0, {'k': \"it's\"}] }}"),
            "[1, 'a', None, True, 1.0, {'k': \"it's\"}]");
  EXPECT_EQ(render("{{ 1e16 }} {{ 1e15 }} {{ 0.00001 }} {{ 0.1 + 0.2 }} {{ (1,) }}"),
            "1e+16 1000000000000000.0 1e-05 0.30000000000000004 (1,)");
}

TEST(JinjaLanguage, ScopingOfSetInLoopsAndNamespaces) {
  EXPECT_EQ(
      render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}"),
      "221");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }}"),
            "6");
}

TEST(JinjaLanguage, MacrosAndLoops) {
  EXPECT_EQ(render("{% macro m(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}"),
            "1B23");
  EXPECT_EQ(render("{% for x in xs if x %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}"
                   "{% endfor %}",
                   {{"xs", {"a", "", "b"}}}),
            "1a,2b");
}

TEST(JinjaLanguage, TojsonKeepsKeyOrderAndUnicode) {
  const Json context = {{"v", {{"z", "é"}, {"a", {1, 2.5}}}}};
  EXPECT_EQ(render("{{ v|tojson }}", context), "{\"z\": \"é\", \"a\": [1, 2.5]}");
  EXPECT_EQ(render("{{ v|tojson(indent=2) }}", context),
            "{\n  \"z\": \"é\",\n  \"a\": [\n    1,\n    2.5\n  ]\n}");
}

TEST(JinjaLanguage, StrftimeNowUsesTheGivenTime) {
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}"), "26 Jul 2024");
}

// ---------------------------------------------------------------- errors with positions

void expect_syntax_error(const std::string& source, int line, int column, const std::string& what) {
  try {
    ChatTemplate t(source);
    ADD_FAILURE() << "parsed: " << source;
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_EQ(e.column(), column) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("line " + std::to_string(line)), std::string::npos)
        << e.what();
  }
}

TEST(ChatTemplateErrors, SyntaxErrorsNameLineAndColumn) {
  expect_syntax_error("hello\n{% if x %}\nno end", 3, 7, "needs {% endif %}");
  expect_syntax_error("a\nb {% frobnicate %}", 2, 6, "unknown tag 'frobnicate'");
  expect_syntax_error("{{ 1 +\n }}", 2, 2, "unexpected end of print statement");
  expect_syntax_error("x\n\n  {{ 'abc }}", 3, 6, "unterminated string");
  expect_syntax_error("{% for x in y %}{% endif %}", 1, 20, "unknown tag 'endif'");
  expect_syntax_error("{{ x|no_such_filter }}", 1, 6, "no filter named 'no_such_filter'");
  expect_syntax_error("{% break %}", 1, 4, "'break' outside loop");
  expect_syntax_error("{% include 'x' %}", 1, 4, "not supported");
  expect_syntax_error("{# open", 1, 1, "unclosed comment");
  expect_syntax_error("{{ (1, 2] }}", 1, 9, "unexpected ']'");
  expect_syntax_error("é {% if %}", 1, 9, "expected an expression");
}

void expect_render_error(const std::string& source, const Json& context, int line,
                         const std::string& what) {
  const ChatTemplate t(source);
  try {
    t.render(context, fixed_now("2024-07-26T10:30:00"));
    ADD_FAILURE() << "rendered: " << source;
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(ChatTemplateErrors, RenderErrorsNameTheLine) {
  expect_render_error("a\n{{ raise_exception('roles must alternate') }}", Json::object(), 2,
                      "roles must alternate");
  expect_render_error("\n\n{% for m in messages %}\n{{ m.role + 1 }}\n{% endfor %}",
                      {{"messages", {{{"role", "user"}}}}}, 4, "TypeError");
  expect_render_error("{{ missing.attr }}", Json::object(), 1, "'missing' is undefined");
  expect_render_error("x\n{{ [1]|map('string')|tojson }}", Json::object(), 2,
                      "not JSON serializable");
  expect_render_error("{% set l = [] %}\n{{ l.append(1) }}", Json::object(), 2, "unsafe");
  expect_render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", Json::object(), 1,
                      "nest deeper");
  expect_render_error("\n{{ 'a'.center(5) }}", Json::object(), 2, "str.center() is not supported");
}

TEST(ChatTemplateErrors, BadInputIsRefusedClearly) {
  EXPECT_THROW(ChatTemplate(std::string("{{ 'a\xff' }}")), ChatTemplateError);
  const ChatTemplate t("{{ messages[0].content }}");
  try {
    t.render({{"messages", {{{"role", "user"}, {"content", "bad \xc3("}}}}});
    ADD_FAILURE() << "rendered invalid UTF-8";
  } catch (const ChatTemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("context.messages[0].content is not valid UTF-8"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(t.render(Json::array()), ChatTemplateError);
  EXPECT_THROW(ChatTemplate("{{ " + std::string(300, '(') + " }}"), ChatTemplateError);
}

// ---------------------------------------------------------------- ChatMessage API

TEST(ChatTemplateApi, ChatMlFallback) {
  const std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi"}};
  EXPECT_EQ(ChatTemplate::chatml().apply(messages, true, "<s>", "</s>"),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(ChatTemplate::chatml().apply(messages, false, "", ""),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplateApi, ApplyPassesTokensAndExtraFields) {
  const ChatTemplate t(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}"
      "{% if m.tool_calls is defined %}[{{ m.tool_calls[0].function.name }}]{% endif %}|"
      "{% endfor %}{{ tools is defined }}{{ eos_token if not add_generation_prompt }}");
  std::vector<ChatMessage> messages = {{"user", "q"}, {"assistant", ""}};
  messages[1].extra = {{"content", nullptr},
                       {"tool_calls", {{{"function", {{"name", "search"}}}}}}};
  EXPECT_EQ(t.apply(messages, false, "<s>", "</s>"), "<s>user:q|assistant:None[search]|False</s>");
  messages[1].extra = "not an object";
  EXPECT_THROW(t.apply(messages, false, "", ""), ChatTemplateError);
}

TEST(ChatTemplateApi, CopiesShareTheParsedTemplate) {
  const ChatTemplate a("{{ x }}");
  const ChatTemplate b = a;
  EXPECT_EQ(b.render({{"x", 1}}), "1");
  EXPECT_EQ(b.source(), "{{ x }}");
}

}  // namespace
}  // namespace hearth
