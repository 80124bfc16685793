// `hearth run`: generate text from a prompt and stream it to stdout.
#include <hearth/generate.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "model_options.hpp"

namespace hearth::cli {

int cmd_run(const Argv& argv) {
  Args args("run", "Generate text from a prompt, streaming it to stdout; speed goes to stderr.");
  add_model_options(args);
  add_sampling_options(args);
  args.option("prompt", "p", "TEXT", "the prompt")
      .option("file", "f", "FILE", "read the prompt from FILE")
      .option("n-predict", "n", "N", "tokens to generate; -1 = until the model stops", "-1")
      .option("stop", "r", "TEXT", "stop when TEXT is generated (it is not printed)")
      .flag("no-bos", "", "do not add the BOS token even if the model asks for it")
      .flag("no-prompt-echo", "", "print only the generated text")
      .flag("verbose", "v", "also report the KV cache's bytes (used, budget, full) at the end");
  if (!args.parse(argv)) return 0;

  std::string prompt;
  if (auto p = args.find("prompt")) {
    prompt = *p;
  } else if (auto f = args.find("file")) {
    std::ifstream in(*f, std::ios::binary);
    if (!in) throw UsageError("cannot read prompt file '" + *f + "'");
    std::ostringstream text;
    text << in.rdbuf();
    prompt = text.str();
  } else {
    throw UsageError("`hearth run` needs a prompt: -p TEXT or -f FILE");
  }
  const SamplerParams sampling = sampler_params(args);
  auto loaded = load_model(args);
  const Model& model = *loaded.model;
  Session session(loaded.model, session_options(args, loaded));
  const Tokenizer& tokenizer = model.tokenizer();
  const bool add_bos = !args.has("no-bos") && tokenizer.add_bos_default();
  const std::vector<int32_t> tokens = tokenizer.encode(prompt, add_bos, true);
  if (tokens.empty()) throw UsageError("the prompt is empty after tokenization");
  if (static_cast<int64_t>(tokens.size()) >= session.n_ctx())
    throw Error("the prompt is " + std::to_string(tokens.size()) +
                " tokens but the context holds " + std::to_string(session.n_ctx()) +
                "; use a larger -c or a shorter prompt");

  if (!args.has("no-prompt-echo")) {
    // Echo the prompt as its tokens read back, like llama-cli (special tokens left out).
    std::vector<int32_t> shown;
    for (int32_t t : tokens)
      if (t != tokenizer.bos()) shown.push_back(t);
    std::cout << tokenizer.decode(shown) << std::flush;
  }
  Sampler sampler(sampling);
  GenerateOptions options;
  options.max_tokens = args.get_int("n-predict");
  if (auto stop = args.find("stop")) options.stop.push_back(*stop);
  const GenerateStats stats =
      generate(session, sampler, tokens, options, [](std::string_view text) {
        std::cout << text << std::flush;
        return true;
      });
  // llama-cli ends its output with a blank line; the same bytes let scripts diff the two.
  std::cout << "\n\n" << std::flush;
  auto rate = [](int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
  std::fprintf(
      stderr, "hearth: prompt %lld tokens, %.1f tok/s; generation %lld tokens, %.1f tok/s\n",
      static_cast<long long>(stats.prompt_tokens), rate(stats.prompt_tokens, stats.prompt_seconds),
      static_cast<long long>(stats.generated_tokens),
      rate(stats.generated_tokens, stats.generate_seconds));
  if (args.has("verbose")) {
    const KvUsage kv = session.kv_usage();
    auto mib = [](uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
    std::fprintf(stderr,
                 "hearth: KV cache (%s): %llu bytes used (%.2f MiB) in %llu slots; budget %llu "
                 "bytes (%.2f MiB); the full cache at 16 bits would take %llu bytes (%.2f MiB); "
                 "one token in every layer and KV head takes %llu bytes at 16 bits\n",
                 kv.policy.empty() ? "plain" : ("policy " + kv.policy).c_str(),
                 static_cast<unsigned long long>(kv.bytes_used), mib(kv.bytes_used),
                 static_cast<unsigned long long>(kv.slots),
                 static_cast<unsigned long long>(kv.budget_bytes), mib(kv.budget_bytes),
                 static_cast<unsigned long long>(kv.full_bytes), mib(kv.full_bytes),
                 static_cast<unsigned long long>(kv.slot_block_bytes));
  }
  if (stats.stop == GenerateStats::Stop::context_full)
    std::fprintf(stderr, "hearth: stopped: the context of %lld tokens is full\n",
                 static_cast<long long>(session.n_ctx()));
  return 0;
}

}  // namespace hearth::cli
