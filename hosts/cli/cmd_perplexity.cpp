// `hearth perplexity`: score a text file the way llama-perplexity does.
#include <hearth/perplexity.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.hpp"
#include "model_options.hpp"

namespace hearth::cli {

int cmd_perplexity(const Argv& argv) {
  Args args("perplexity",
            "Perplexity of a text file: chunks of -c tokens, BOS first, the second half of each "
            "chunk scored (llama-perplexity's method).");
  add_model_options(args);
  args.option("file", "f", "FILE", "the text to score");
  if (!args.parse(argv)) return 0;
  const std::string path = args.get("file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();

  auto loaded = load_model(args);
  SessionOptions options = session_options(args, loaded);
  if (args.get_int("ctx-size") == 0) options.n_ctx = std::min<int64_t>(options.n_ctx, 512);
  options.n_batch = std::max(options.n_batch, options.n_ctx);
  Session session(loaded.model, options);
  const PerplexityResult r = perplexity(session, text.str(), options.n_ctx,
                                        [](int64_t chunk, int64_t total, double ppl) {
                                          std::fprintf(stderr, "\r[%lld/%lld] ppl %.4f",
                                                       static_cast<long long>(chunk + 1),
                                                       static_cast<long long>(total), ppl);
                                        });
  std::fprintf(stderr, "\n");
  std::printf("chunks %lld, scored tokens %lld, context %lld\n", static_cast<long long>(r.chunks),
              static_cast<long long>(r.scored_tokens), static_cast<long long>(options.n_ctx));
  std::printf("PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
  const KvUsage kv = session.kv_usage();
  std::printf("KV cache%s: at most %llu bytes held (budget %llu, full cache %llu at 16 bits)\n",
              kv.policy.empty() ? "" : (" (policy " + kv.policy + ")").c_str(),
              static_cast<unsigned long long>(r.kv_bytes_max),
              static_cast<unsigned long long>(kv.budget_bytes),
              static_cast<unsigned long long>(kv.full_bytes));
  return 0;
}

}  // namespace hearth::cli
