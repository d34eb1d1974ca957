#include <cstdio>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "selm/util/stop_request.hpp"
#include "selm/generate/generation_file.hpp"
#include "selm/model/language_model.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm::cli {

namespace {

struct GenerateArgs {
  ConfigArgs config;
  std::string model;
  std::string prompts;
  std::string out;
  bool overwrite = false;
};

void run_generate(const GenerateArgs& args) {
  install_stop_signal_handlers();
  Config config = resolve_config(args.config);
  if (!args.model.empty()) config.model.path = args.model;
  // Several ranks share the prompts out (by chunk) and rank 0 merges their records.
  const ParallelContext parallel = process_parallel_context(config);
  const SamplingConfig& sampling = config.generate;

  // Read and tokenise every prompt before loading the model, so bad input fails fast.
  const auto records = read_jsonl(args.prompts);
  if (records.empty()) throw InputError(args.prompts + ": no prompts");

  LanguageModel lm = load_language_model(config.model.path, config.model, config.tokenizer);
  std::vector<std::vector<std::int64_t>> prompt_ids;
  std::vector<nlohmann::json> prompt_values;
  for (const auto& [line, record] : records) {
    prompt_ids.push_back(lm.formatter->encode_prompt(parse_prompt_record(record, args.prompts, line)));
    prompt_values.push_back(record.contains("messages") ? record.at("messages") : record.at("prompt"));
  }

  // Resume: prompts whose samples are all in the output already are skipped; sampling depends
  // only on (seed, prompt index, sample index), so the completed file equals an uninterrupted one.
  const ChatFormatter& formatter = *lm.formatter;
  Generator generator = response_generator(lm, sampling);
  const GenerationFileResult result =
      generate_to_file(generator, formatter, prompt_ids, prompt_values, args.out,
                       GenerationFileOptions{!args.overwrite, "generate", 0, parallel});
  if (result.already_done > 0) {
    log::info("generate: resumed " + args.out + ": " + std::to_string(result.already_done) + " of " +
              std::to_string(result.prompts) + " prompts were already done");
  }
  std::cout << "generate: wrote " << args.out << "\n";
}

}  // namespace

void register_generate_command(CLI::App& app) {
  auto* command = app.add_subcommand("generate", "Sample responses to a prompts JSONL with a model directory");
  auto args = std::make_shared<GenerateArgs>();
  add_config_args(*command, args->config, /*config_required=*/false);
  command->add_option("--model", args->model, "Hugging Face model directory (overrides model.path)");
  command->add_option("--prompts", args->prompts, "Prompts JSONL: {\"prompt\": ...} or {\"messages\": [...]}")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", args->out, "Output JSONL (resumed when it exists)")->required();
  command->add_flag("--overwrite", args->overwrite, "Start --out afresh instead of resuming it");
  command->footer("Sampling settings are the generate.* keys, e.g. generate.temperature=0 generate.num_samples=4.\n"
                  "Each output line: prompt_index, sample_index, prompt, response, token_ids, logprob\n"
                  "(summed log-prob of token_ids under the model), finish_reason (eos, stop, length).");
  command->callback([args] { run_generate(*args); });
}

}  // namespace selm::cli
