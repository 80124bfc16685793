// Embedding Hearth in an application: load a GGUF model through libhearth and stream generated
// text through a callback. Build against hearth::hearth; plugins are found next to libhearth.
//
//   hearth-embed-example MODEL.gguf "Once upon a time" [max_tokens]
#include <hearth/generate.hpp>
#include <hearth/model.hpp>
#include <hearth/plugin_registry.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL.gguf PROMPT [max_tokens]\n";
    return 2;
  }
  try {
    hearth::PluginRegistry plugins;  // the default plugin path, then $HEARTH_PLUGIN_PATH
    auto model = hearth::Model::load(argv[1], plugins);
    hearth::Session session(model, {.n_ctx = 256});

    hearth::SamplerParams greedy;
    greedy.temperature = 0;  // deterministic: the same text on every run
    hearth::Sampler sampler(greedy);

    // The model's own metadata says whether a prompt starts with BOS (llama: yes, qwen2: no).
    const auto& tokenizer = model->tokenizer();
    const auto prompt =
        tokenizer.encode(argv[2], tokenizer.add_bos_default(), /*parse_special=*/false);
    hearth::GenerateOptions options;
    options.max_tokens = argc > 3 ? std::stoll(argv[3]) : 32;

    // The callback sees each piece of valid UTF-8 as soon as it exists.
    auto stats = hearth::generate(session, sampler, prompt, options, [](std::string_view text) {
      std::cout << text << std::flush;
      return true;  // false would stop generation
    });
    std::cout << "\n";
    std::cerr << stats.generated_tokens << " tokens generated\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
