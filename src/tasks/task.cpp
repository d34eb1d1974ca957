#include "selm/tasks/task.hpp"

#include <chrono>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/judge/lexicon_judge.hpp"
#include "selm/model/language_model.hpp"
#include "selm/model/llama.hpp"
#include "selm/model/llama_checkpoint.hpp"
#include "selm/model/tokenizer_fit.hpp"
#include "selm/tasks/fortunes.hpp"
#include "selm/text/sentencepiece_tokenizer.hpp"
#include "selm/text/tokenizer_files.hpp"
#include "selm/train/sft_trainer.hpp"
#include "selm/util/clock.hpp"
#include "selm/util/error.hpp"
#include "selm/util/file_lock.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"
#include "selm/util/sha256.hpp"

namespace selm {

namespace {

// Bump when the layout or content of a prepared entry changes, so old entries are not reused.
constexpr int kFortunesFormatVersion = 1;
constexpr const char* kChatTemplate = "plain";

// File names inside an entry (task.hpp).
constexpr const char* kCorpusTrainFile = "corpus_train.txt";
constexpr const char* kSftTrainFile = "sft_train.jsonl";
constexpr const char* kSftEvalFile = "sft_eval.jsonl";
constexpr const char* kTrainPromptsFile = "train_prompts.jsonl";
constexpr const char* kEvalPromptsFile = "eval_prompts.jsonl";
constexpr const char* kTokenizerDir = "tokenizer";
constexpr const char* kSftRunDir = "sft";
constexpr const char* kModelDir = "model";
constexpr const char* kSftEvalReport = "sft_eval.json";

// Collects a section's fields into a JSON object (the config system's visitor protocol).
struct JsonFieldCollector {
  nlohmann::json& out;
  template <class Name, class Value, class Doc>
  void field(const Name& name, Value& value, const Doc&, FieldRole = {}) {
    out[std::string(name)] = value;
  }
  template <class Name, class Section, class Doc>
  void section(const Name& name, Section& section, const Doc&) {
    nlohmann::json nested = nlohmann::json::object();
    JsonFieldCollector collector{nested};
    section.visit_fields(collector);
    out[std::string(name)] = nested;
  }
};

// The task settings that decide what is prepared: all but the name and the cache folder.
nlohmann::json deciding_settings(TaskConfig task) {
  nlohmann::json settings = nlohmann::json::object();
  JsonFieldCollector collector{settings};
  task.visit_fields(collector);
  settings.erase("name");
  settings.erase("cache_dir");
  return settings;
}

FortuneCorpusOptions corpus_options(const TaskConfig& task) {
  FortuneCorpusOptions options;
  options.directory = task.fortunes_dir;
  options.exclude_files = task.exclude_files;
  options.min_chars = task.min_chars;
  options.max_chars = task.max_chars;
  return options;
}

void require_fortunes(const Config& config) {
  if (config.task.name.empty()) throw InputError("key 'task.name': no task set (known: fortunes)");
  if (config.task.name != "fortunes")
    throw InputError("key 'task.name': unknown task '" + config.task.name + "' (known: fortunes)");
}

std::string cache_key(const TaskConfig& task, const std::string& corpus_sha256, const std::string& judge_hash) {
  const nlohmann::json identity = {{"task", "fortunes"},
                                   {"version", kFortunesFormatVersion},
                                   {"settings", deciding_settings(task)},
                                   {"corpus_sha256", corpus_sha256},
                                   {"lexicon_judge", judge_hash}};
  return sha256_hex(identity.dump()).substr(0, 16);
}

fs::path entry_directory(const TaskConfig& task, const std::string& key) {
  return fs::path(task.cache_dir) / ("fortunes-" + key);
}

std::string jsonl_text(const std::vector<nlohmann::json>& records) {
  std::string text;
  for (const auto& record : records) text += record.dump() + "\n";
  return text;
}

std::string format_number(double value, int precision = 2) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(precision);
  out << value;
  return out.str();
}

TaskAssets assets_of(const fs::path& directory) {
  TaskAssets assets;
  assets.task = "fortunes";
  assets.directory = directory;
  assets.model_dir = directory / kModelDir;
  assets.tokenizer_path = directory / kTokenizerDir / "tokenizer.model";
  assets.train_file = directory / kTrainPromptsFile;
  assets.eval_file = directory / kEvalPromptsFile;
  assets.sft_train_file = directory / kSftTrainFile;
  assets.sft_eval_file = directory / kSftEvalFile;
  assets.sft_eval_report = directory / kSftEvalReport;
  return assets;
}

// The assets of a complete entry, or nullopt when `directory` holds none (no done.json, another
// key, a missing file, or a done.json that does not parse).
std::optional<TaskAssets> completed_entry(const fs::path& directory, const std::string& key) {
  const fs::path done_path = directory / kTaskDoneFile;
  std::error_code error;
  if (!fs::is_regular_file(done_path, error)) return std::nullopt;
  try {
    const nlohmann::json done = nlohmann::json::parse(read_file(done_path));
    if (done.value("version", 0) != kFortunesFormatVersion || done.value("key", std::string()) != key)
      return std::nullopt;
    TaskAssets assets = assets_of(directory);
    for (const fs::path& path : {assets.model_dir / "config.json", assets.tokenizer_path, assets.train_file,
                                 assets.eval_file, assets.sft_train_file, assets.sft_eval_file, assets.sft_eval_report}) {
      if (!fs::exists(path, error)) return std::nullopt;
    }
    assets.sft_perplexity = done.at("sft_perplexity").get<double>();
    assets.initial_perplexity = done.at("initial_perplexity").get<double>();
    assets.train_prompts = done.at("train_prompts").get<std::int64_t>();
    assets.eval_prompts = done.at("eval_prompts").get<std::int64_t>();
    assets.preparation_seconds = done.at("seconds").get<double>();
    return assets;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// The tiny Llama of the task's settings, with the tokenizer's vocabulary and special ids.
LlamaConfig task_architecture(const TaskConfig& task, const Tokenizer& tokenizer) {
  return fit_to_tokenizer(task.model_architecture(), tokenizer, FieldChecker("task.", nullptr));
}

struct SftOutcome {
  SftEvaluation initial;
  SftEvaluation final_evaluation;
  std::int64_t steps = 0;
  double seconds = 0;
};

// Initialises the tiny Llama, fine-tunes it on the training fortunes and writes it to
// DIR/model with its tokenizer.
SftOutcome train_task_model(const Config& config, const fs::path& directory, const std::vector<Fortune>& train,
                            const std::vector<Fortune>& held_out, const TaskPrepareOptions& prepare_options) {
  const TaskConfig& task = config.task;
  const auto start = std::chrono::steady_clock::now();
  LanguageModel lm;
  lm.directory = directory / kModelDir;
  lm.placement = parse_placement(config.model.device, ComputeDtype::float32);
  lm.tokenizer = load_tokenizer(directory / kTokenizerDir);
  lm.formatter = std::make_unique<ChatFormatter>(*lm.tokenizer, ChatTemplate::from_name(kChatTemplate, *lm.tokenizer));
  const LlamaConfig architecture = task_architecture(task, *lm.tokenizer);
  torch::manual_seed(static_cast<std::uint64_t>(task.seed));
  lm.model = LlamaForCausalLM(architecture);
  lm.model->to(lm.placement.device, lm.placement.dtype);

  const auto to_records = [](const std::vector<Fortune>& fortunes) {
    std::vector<SftRecord> records;
    records.reserve(fortunes.size());
    for (std::size_t i = 0; i < fortunes.size(); ++i) {
      SftRecord record;
      record.line = i + 1;
      record.response = fortunes[i].text;
      record.is_text = true;
      records.push_back(std::move(record));
    }
    return records;
  };
  TrainConfig sft;
  sft.learning_rate = task.sft_learning_rate;
  sft.lr_schedule = LrScheduleType::cosine;
  sft.warmup_ratio = task.sft_warmup_ratio;
  sft.weight_decay = 0.0;
  sft.epochs = task.sft_epochs;
  sft.batch_size = task.sft_batch_size;
  sft.max_length = task.sft_max_length;
  sft.max_prompt_length = task.sft_max_length / 2;  // unused by text records, must be below max_length
  sft.log_every = 1;
  sft.save_every = 0;
  sft.seed = task.seed;
  sft.shuffle = true;
  sft.validate(FieldChecker("task.sft_", nullptr));

  const std::vector<SftExample> train_examples =
      make_sft_examples(to_records(train), *lm.formatter, sft.max_length, sft.max_prompt_length);
  const std::vector<SftExample> eval_examples =
      make_sft_examples(to_records(held_out), *lm.formatter, sft.max_length, sft.max_prompt_length);
  const std::int64_t pad_id = sft_pad_id(*lm.tokenizer);
  const std::int64_t eval_batch_size = std::max<std::int64_t>(sft.batch_size, 64);

  SftOutcome outcome;
  outcome.initial = evaluate_sft(lm.model, eval_examples, eval_batch_size, pad_id);
  log::info("task fortunes: SFT of a " + std::to_string(architecture.num_hidden_layers) + "-layer, width " +
            std::to_string(architecture.hidden_size) + " Llama on " + std::to_string(train_examples.size()) +
            " fortunes for " + std::to_string(sft.epochs) + " epoch(s); held-out perplexity before: " +
            format_number(outcome.initial.perplexity));

  TrainingLoopOptions options;
  options.output_dir = directory / kSftRunDir;
  options.config_yaml = dump_config_yaml(config);
  options.resume = false;
  options.show_progress = prepare_options.show_progress;
  Tokenizer& tokenizer = *lm.tokenizer;
  LlamaForCausalLM model = lm.model;
  options.save_model = [model, &tokenizer](const fs::path& model_dir) mutable {
    save_llama(model, model_dir);
    write_tokenizer_files(tokenizer, model_dir, kChatTemplate);
  };
  options.load_model = [model](const fs::path& model_dir) mutable {
    load_module_weights(*model, model_dir, WeightLoadOptions{});
  };
  const TrainingResult result = train_sft(lm.model, train_examples, sft, task.sft_packing, pad_id, options);
  if (!result.finished) throw std::runtime_error("task fortunes: SFT stopped before its last step");
  outcome.steps = result.total_steps;
  outcome.final_evaluation = evaluate_sft(lm.model, eval_examples, eval_batch_size, pad_id);

  save_llama(lm.model, directory / kModelDir);
  write_tokenizer_files(*lm.tokenizer, directory / kModelDir, kChatTemplate);
  // The final checkpoint only duplicates model/ (plus optimiser state): not worth keeping.
  fs::remove_all(directory / kSftRunDir / kCheckpointDirName);
  outcome.seconds = seconds_since(start);
  return outcome;
}

TaskAssets prepare_fortunes(const Config& config, const fs::path& directory, const std::string& key,
                            const FortuneCorpus& corpus, const LexiconJudge& judge,
                            const TaskPrepareOptions& options) {
  const TaskConfig& task = config.task;
  const auto start = std::chrono::steady_clock::now();
  fs::create_directories(directory);

  // 1. Corpus, split and data files.
  const FortuneSplit split = split_fortunes(corpus.fortunes, task.eval_fraction, static_cast<std::uint64_t>(task.seed));
  log::info("task fortunes: " + std::to_string(corpus.fortunes.size()) + " fortunes from " +
            std::to_string(corpus.files.size()) + " files (" + std::to_string(corpus.raw_entries) + " entries; dropped " +
            std::to_string(corpus.dropped_length) + " outside " + std::to_string(task.min_chars) + ".." +
            std::to_string(task.max_chars) + " characters, " + std::to_string(corpus.dropped_unusable) +
            " non-ASCII, " + std::to_string(corpus.dropped_duplicates) + " duplicates); " +
            std::to_string(split.train.size()) + " train, " + std::to_string(split.eval.size()) + " held out");
  std::string corpus_text;
  std::vector<nlohmann::json> sft_train;
  std::vector<nlohmann::json> sft_eval;
  for (const Fortune& fortune : split.train) {
    corpus_text += fortune.text + "\n";
    sft_train.push_back({{"text", fortune.text}, {"source", fortune.source}});
  }
  for (const Fortune& fortune : split.eval) sft_eval.push_back({{"text", fortune.text}, {"source", fortune.source}});
  write_file_atomic(directory / kCorpusTrainFile, corpus_text);
  write_file_atomic(directory / kSftTrainFile, jsonl_text(sft_train));
  write_file_atomic(directory / kSftEvalFile, jsonl_text(sft_eval));

  const std::vector<FortunePreference> preferences = make_fortune_preferences(
      split.train, task.prompt_words, static_cast<std::uint64_t>(task.seed),
      [&judge](const std::string& text) { return judge.score(text); });
  std::vector<nlohmann::json> train_prompts;
  for (const FortunePreference& preference : preferences) {
    train_prompts.push_back({{"prompt", preference.prompt},
                             {"chosen", preference.chosen},
                             {"rejected", preference.rejected},
                             {"chosen_score", preference.chosen_score},
                             {"rejected_score", preference.rejected_score},
                             {"source", preference.source}});
  }
  std::vector<nlohmann::json> eval_prompts;
  for (const Fortune& fortune : split.eval) {
    if (static_cast<std::int64_t>(eval_prompts.size()) >= task.eval_prompts) break;
    if (const auto cut = split_prompt(fortune.text, task.prompt_words))
      eval_prompts.push_back({{"prompt", cut->prompt}, {"source", fortune.source}});
  }
  if (train_prompts.empty() || eval_prompts.empty())
    throw InputError("key 'task.prompt_words': no fortune has more than " + std::to_string(task.prompt_words) +
                     " words in the " + (train_prompts.empty() ? "training" : "held-out") + " split");
  write_file_atomic(directory / kTrainPromptsFile, jsonl_text(train_prompts));
  write_file_atomic(directory / kEvalPromptsFile, jsonl_text(eval_prompts));
  log::info("task fortunes: " + std::to_string(train_prompts.size()) + " training preference prompts, " +
            std::to_string(eval_prompts.size()) + " eval prompts (first " + std::to_string(task.prompt_words) +
            " words)");

  // 2. Tokenizer.
  SentencePieceTrainingOptions tokenizer_options;
  tokenizer_options.chat_template = kChatTemplate;
  const SentencePieceTrainingResult tokenizer = train_sentencepiece(
      {directory / kCorpusTrainFile}, task.vocab_size, directory / kTokenizerDir / "tokenizer.model", tokenizer_options);
  log::info("task fortunes: tokenizer of " + std::to_string(tokenizer.vocab_size) + " pieces in " +
            format_number(tokenizer.seconds) + " s");

  // 3. SFT model.
  const SftOutcome sft = train_task_model(config, directory, split.train, split.eval, options);
  const nlohmann::json report = {{"perplexity", sft.final_evaluation.perplexity},
                                 {"initial_perplexity", sft.initial.perplexity},
                                 {"loss", sft.final_evaluation.mean_nll},
                                 {"initial_loss", sft.initial.mean_nll},
                                 {"loss_tokens", sft.final_evaluation.num_loss_tokens},
                                 {"examples", sft.final_evaluation.num_examples},
                                 {"steps", sft.steps},
                                 {"seconds", sft.seconds}};
  write_file_atomic(directory / kSftEvalReport, report.dump(2) + "\n");
  log::info("task fortunes: SFT " + std::to_string(sft.steps) + " steps in " + format_number(sft.seconds, 1) +
            " s; held-out perplexity " + format_number(sft.initial.perplexity) + " -> " +
            format_number(sft.final_evaluation.perplexity));

  // 4. Completion marker, last.
  TaskAssets assets = assets_of(directory);
  assets.sft_perplexity = sft.final_evaluation.perplexity;
  assets.initial_perplexity = sft.initial.perplexity;
  assets.train_prompts = static_cast<std::int64_t>(train_prompts.size());
  assets.eval_prompts = static_cast<std::int64_t>(eval_prompts.size());
  assets.preparation_seconds = seconds_since(start);
  assets.prepared_now = true;
  const nlohmann::json done = {{"version", kFortunesFormatVersion},
                               {"task", "fortunes"},
                               {"key", key},
                               {"settings", deciding_settings(task)},
                               {"corpus",
                                {{"files", corpus.files},
                                 {"sha256", corpus.content_sha256},
                                 {"entries", corpus.raw_entries},
                                 {"fortunes", corpus.fortunes.size()},
                                 {"train", split.train.size()},
                                 {"held_out", split.eval.size()}}},
                               {"lexicon_judge", judge.config_hash()},
                               {"sft_perplexity", assets.sft_perplexity},
                               {"initial_perplexity", assets.initial_perplexity},
                               {"train_prompts", assets.train_prompts},
                               {"eval_prompts", assets.eval_prompts},
                               {"seconds", assets.preparation_seconds}};
  write_file_atomic(directory / kTaskDoneFile, done.dump(2) + "\n");
  return assets;
}

}  // namespace

std::string task_cache_key(const Config& config) {
  require_fortunes(config);
  const FortuneCorpus corpus = read_fortune_corpus(corpus_options(config.task));
  return cache_key(config.task, corpus.content_sha256, LexiconJudge(config.judge.lexicon).config_hash());
}

TaskAssets prepare_task(const Config& config, const TaskPrepareOptions& options) {
  require_fortunes(config);
  const FortuneCorpus corpus = read_fortune_corpus(corpus_options(config.task));
  const LexiconJudge judge(config.judge.lexicon);
  const std::string key = cache_key(config.task, corpus.content_sha256, judge.config_hash());
  const fs::path directory = entry_directory(config.task, key);
  const auto reuse = [&](const TaskAssets& reused) {
    log::info("task fortunes: reusing " + directory.string() + " (prepared in " +
              format_number(reused.preparation_seconds, 1) + " s; SFT held-out perplexity " +
              format_number(reused.sft_perplexity) + ")");
    return reused;
  };
  if (auto reused = completed_entry(directory, key)) return reuse(*reused);
  // Runs started together (a sweep's) would otherwise prepare the entry side by side, each
  // deleting the other's half-made files: one prepares, the others wait and then reuse it.
  const FileLock lock = FileLock::acquire(directory.string() + ".lock", [&](const std::string& holder) {
    log::info("task fortunes: waiting for " + (holder.empty() ? std::string("another process") : holder) +
              ", which is preparing " + directory.string());
  });
  if (auto reused = completed_entry(directory, key)) return reuse(*reused);
  if (fs::exists(directory)) {
    log::info("task fortunes: " + directory.string() + " is incomplete (no valid " + kTaskDoneFile +
              "); preparing it again");
    fs::remove_all(directory);
  } else {
    log::info("task fortunes: preparing " + directory.string() + " (done once; later runs reuse it)");
  }
  return prepare_fortunes(config, directory, key, corpus, judge, options);
}

Config apply_task(Config config, const TaskAssets& assets) {
  if (config.model.path.empty()) config.model.path = assets.model_dir.string();
  if (config.data.train_file.empty()) config.data.train_file = assets.train_file.string();
  if (config.data.eval_file.empty()) config.data.eval_file = assets.eval_file.string();
  if (config.sft.train_file.empty()) config.sft.train_file = assets.sft_train_file.string();
  if (config.sft.eval_file.empty()) config.sft.eval_file = assets.sft_eval_file.string();
  if (config.tokenizer.chat_template == "auto") config.tokenizer.chat_template = kChatTemplate;
  return config;
}

}  // namespace selm
