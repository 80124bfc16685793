// hearth: the command-line host. Parses the command and hands over; the work is in libhearth.
#include <algorithm>
#include <cstring>
#include <iostream>

#include "args.hpp"
#include "commands.hpp"

namespace hearth::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"run", "generate text from a prompt", &cmd_run},
      {"chat", "talk with a model using its chat template", &cmd_chat},
      {"serve", "serve the model over an OpenAI/Ollama-compatible HTTP API", &cmd_serve},
      {"perplexity", "score a text file (llama-perplexity's method)", &cmd_perplexity},
      {"inspect", "show a GGUF file's metadata and tensors", &cmd_inspect},
      {"quantize", "rewrite a GGUF with new tensor types", &cmd_quantize},
      {"convert", "prune to CS256 sparse tiles or quantize to NF4", &cmd_convert},
      {"plugins", "list plugins found and files refused", &cmd_plugins},
      {"devices", "list devices per backend, with memory", &cmd_devices},
      {"bench", "measure prompt and generation speed (like llama-bench)", &cmd_bench},
      {"synth", "write a random-weight GGUF of a real model's shape", &cmd_synth},
  };
  return all;
}

namespace {

void print_usage(std::ostream& out) {
  out << "usage: hearth <command> [options]   (hearth <command> --help for details)\n\n";
  for (const auto& c : commands())
    out << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
}

}  // namespace
}  // namespace hearth::cli

int main(int argc, char** argv) {
  using namespace hearth::cli;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  Argv args(argv + 2, argv + argc);
  // -v is global: it decides how errors are shown; only commands that ask see it.
  const auto is_verbose = [](const std::string& a) { return a == "-v" || a == "--verbose"; };
  const bool verbose = std::any_of(args.begin(), args.end(), is_verbose);
  args.erase(std::remove_if(args.begin(), args.end(), is_verbose), args.end());
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    // Commands that also report more with -v get it passed on.
    if (verbose && name == "run") args.push_back("--verbose");
    try {
      return c.run(args);
    } catch (const UsageError& e) {
      std::cerr << "hearth " << name << ": " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      // One clear line by default; the rest of a multi-line message with -v.
      const std::string message = e.what();
      const size_t line_end = message.find('\n');
      if (verbose || line_end == std::string::npos)
        std::cerr << "hearth " << name << ": " << message << "\n";
      else
        std::cerr << "hearth " << name << ": " << message.substr(0, line_end)
                  << "\n(run with -v for details)\n";
      return 1;
    }
  }
  std::string best;
  size_t best_distance = 3;
  for (const auto& c : commands())
    if (size_t d = edit_distance(name, c.name); d < best_distance) best_distance = d, best = c.name;
  std::cerr << "hearth: unknown command '" << name << "'"
            << (best.empty() ? "" : "; did you mean '" + best + "'?") << "\n";
  print_usage(std::cerr);
  return 2;
}
