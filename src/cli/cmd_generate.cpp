#include <cstdio>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "selm/generate/generator.hpp"
#include "selm/model/language_model.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/progress.hpp"

namespace selm::cli {

namespace {

struct GenerateArgs {
  ConfigArgs config;
  std::string model;
  std::string prompts;
  std::string out;
  bool overwrite = false;
};

// Generated ids -> the response text: the formatter drops the end-of-turn token and special
// tokens; a stop string and what follows it are cut off.
std::string response_text(const ChatFormatter& formatter, const GeneratedSequence& sequence) {
  std::string text = formatter.decode_response(sequence.token_ids);
  if (sequence.finish_reason == "stop" && !sequence.stop_string.empty()) {
    const std::size_t at = text.find(sequence.stop_string);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

void run_generate(const GenerateArgs& args) {
  Config config = resolve_config(args.config);
  if (!args.model.empty()) config.model.path = args.model;
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
  std::map<std::int64_t, std::int64_t> samples_done;
  if (fs::exists(args.out) && !args.overwrite) {
    for (const auto& [line, record] : read_jsonl(args.out, /*tolerate_partial_tail=*/true)) {
      (void)line;
      samples_done[record.value("prompt_index", std::int64_t{-1})] += 1;
    }
  } else if (fs::exists(args.out)) {
    fs::remove(args.out);
  }
  std::vector<std::int64_t> pending;
  for (std::int64_t index = 0; index < static_cast<std::int64_t>(prompt_ids.size()); ++index) {
    if (samples_done[index] < sampling.num_samples) pending.push_back(index);
  }
  if (pending.size() < prompt_ids.size()) {
    log::info("generate: resuming " + args.out + ": " + std::to_string(prompt_ids.size() - pending.size()) +
              " of " + std::to_string(prompt_ids.size()) + " prompts already done");
  }

  const ChatFormatter& formatter = *lm.formatter;
  Generator generator(lm.model, sampling, formatter.stop_ids(),
                      [&formatter](const std::vector<std::int64_t>& ids) { return formatter.decode_response(ids); });
  JsonlWriter writer(args.out);
  Progress progress("generate", static_cast<std::int64_t>(pending.size()), "prompts");
  std::int64_t tokens = 0;
  // Chunks of a few batches: each chunk's records are flushed before the next starts, so a
  // killed run loses at most one chunk.
  const std::size_t chunk = static_cast<std::size_t>(std::max<std::int64_t>(1, sampling.batch_size * 4 / sampling.num_samples));
  for (std::size_t begin = 0; begin < pending.size(); begin += chunk) {
    const std::size_t end = std::min(pending.size(), begin + chunk);
    std::vector<std::vector<std::int64_t>> chunk_prompts;
    std::vector<std::int64_t> chunk_indices(pending.begin() + begin, pending.begin() + end);
    for (std::int64_t index : chunk_indices) chunk_prompts.push_back(prompt_ids[index]);
    for (const GeneratedSequence& sequence : generator.generate(chunk_prompts, chunk_indices)) {
      tokens += static_cast<std::int64_t>(sequence.token_ids.size());
      writer.write({{"prompt_index", sequence.prompt_index},
                    {"sample_index", sequence.sample_index},
                    {"prompt", prompt_values[sequence.prompt_index]},
                    {"response", response_text(formatter, sequence)},
                    {"token_ids", sequence.token_ids},
                    {"logprob", sequence.logprob},
                    {"finish_reason", sequence.finish_reason},
                    {"prompt_tokens", sequence.prompt_tokens}});
    }
    char status[64];
    std::snprintf(status, sizeof(status), "%.1f tok/s", tokens / std::max(1e-9, progress.elapsed_seconds()));
    progress.advance(static_cast<std::int64_t>(end - begin), status);
  }
  char status[96];
  std::snprintf(status, sizeof(status), "%lld tokens, %.1f tok/s", static_cast<long long>(tokens),
                tokens / std::max(1e-9, progress.elapsed_seconds()));
  progress.finish(status);
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
