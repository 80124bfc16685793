// Every `hearth <command>`: one function per command, each in its own cmd_<name>.cpp.
#pragma once

#include <string>
#include <vector>

namespace hearth::cli {

using Argv = std::vector<std::string>;

int cmd_convert(const Argv& args);
int cmd_plugins(const Argv& args);
int cmd_devices(const Argv& args);
int cmd_run(const Argv& args);
int cmd_chat(const Argv& args);
int cmd_serve(const Argv& args);
int cmd_perplexity(const Argv& args);
int cmd_inspect(const Argv& args);
int cmd_quantize(const Argv& args);
int cmd_bench(const Argv& args);
int cmd_synth(const Argv& args);

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Argv& args);
};

const std::vector<Command>& commands();

}  // namespace hearth::cli
