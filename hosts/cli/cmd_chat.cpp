// `hearth chat`: an interactive conversation with the model's chat template. Ctrl+C stops the
// reply being generated; at the prompt it (or Ctrl+D, or /exit) ends the chat.
#include <hearth/conversation.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "model_options.hpp"

namespace hearth::cli {
namespace {

// The one flag a signal handler may touch; the host's only process-wide state.
std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) { interrupted.store(true); }

}  // namespace

int cmd_chat(const Argv& argv) {
  Args args("chat", "Talk with a model, using its chat template (ChatML if it has none).");
  add_model_options(args);
  add_sampling_options(args);
  args.option("system", "", "TEXT", "a system message to start with")
      .option("chat-template-file", "", "FILE", "use this Jinja template instead of the model's")
      .option("n-predict", "n", "N", "longest reply in tokens; -1 = until the model stops", "-1");
  if (!args.parse(argv)) return 0;

  std::optional<std::string> template_source;
  if (auto file = args.find("chat-template-file")) {
    std::ifstream in(*file);
    if (!in) throw UsageError("cannot read template file '" + *file + "'");
    std::ostringstream text;
    text << in.rdbuf();
    template_source = text.str();
  }
  Sampler sampler(sampler_params(args));
  auto loaded = load_model(args);
  Conversation chat(loaded.model, session_options(args, loaded), template_source);
  if (auto system = args.find("system")) chat.add("system", *system);
  std::cerr << "hearth: chatting with " << args.get("model") << " ("
            << (template_source ? "template from file"
                                : chat.uses_model_template() ? "the model's chat template" : "ChatML")
            << "); Ctrl+C stops a reply, Ctrl+D or /exit ends\n";

  struct sigaction action {};
  action.sa_handler = &on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);

  GenerateOptions options;
  options.max_tokens = args.get_int("n-predict");
  std::string line;
  while (true) {
    interrupted.store(false);
    std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line) || interrupted.load() || line == "/exit") break;
    if (line.empty()) continue;
    chat.add("user", line);
    const size_t dropped_before = chat.dropped_messages();
    const auto stats = chat.respond(sampler, options, [](std::string_view text) {
      std::cout << text << std::flush;
      return !interrupted.load();
    });
    std::cout << "\n";
    if (chat.dropped_messages() > dropped_before)
      std::cerr << "hearth: dropped the oldest " << chat.dropped_messages() - dropped_before
                << " message(s) to fit the context\n";
    if (stats.stop == GenerateStats::Stop::callback) std::cerr << "hearth: reply stopped\n";
  }
  std::cout << "\n";
  return 0;
}

}  // namespace hearth::cli
