#include <unistd.h>

#include <iostream>

#include <torch/torch.h>

#include "commands.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/tokenizer_fit.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/util/error.hpp"
#include "selm/util/log.hpp"

namespace selm::cli {

namespace {

struct InitArgs {
  ConfigArgs config;
  std::string tokenizer;
  std::string out;
  bool force = false;
};

void run_init(const InitArgs& args) {
  Config config = resolve_config(args.config);
  auto tokenizer = load_tokenizer(args.tokenizer);
  const LlamaConfig architecture =
      fit_to_tokenizer(config.architecture, *tokenizer, FieldChecker("architecture.", nullptr));

  const fs::path out = args.out;
  if (fs::exists(out) && !args.force) {
    throw InputError(out.string() + ": already exists (pass --force to replace it)");
  }
  torch::manual_seed(static_cast<std::uint64_t>(config.run.seed));
  LlamaForCausalLM model(architecture);

  // Build the directory beside its destination and move it into place at the end, so that an
  // interrupted init never leaves a half-written model directory under the requested name.
  const fs::path staging = out.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(staging);
  save_llama(model, staging);
  write_tokenizer_files(*tokenizer, staging, config.tokenizer.chat_template);
  if (fs::exists(out)) fs::remove_all(out);
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path());
  fs::rename(staging, out);

  std::int64_t parameters = 0;
  for (const auto& parameter : model->parameters()) parameters += parameter.numel();
  std::cout << "init: wrote " << out.string() << " (" << parameters << " parameters, "
            << architecture.num_hidden_layers << " layers, width " << architecture.hidden_size << ", vocab "
            << architecture.vocab_size << ", seed " << config.run.seed << ")\n";
}

}  // namespace

void register_init_command(CLI::App& app) {
  auto* command = app.add_subcommand("init", "Write a randomly initialised Llama as a Hugging Face model directory");
  auto args = std::make_shared<InitArgs>();
  add_config_args(*command, args->config, /*config_required=*/false);
  command->add_option("--tokenizer", args->tokenizer, "tokenizer.json or tokenizer.model (or a directory holding one; tokenizer.json wins)")->required();
  command->add_option("--out", args->out, "Model directory to create")->required();
  command->add_flag("--force", args->force, "Replace --out if it exists");
  command->footer("The architecture comes from the config's `architecture` section (Hugging Face names);\n"
                  "vocab_size 0 takes the tokenizer's size. run.seed seeds the initialisation.");
  command->callback([args] { run_init(*args); });
}

}  // namespace selm::cli
