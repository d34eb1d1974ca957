#include "selm/eval/evaluation.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include <torch/torch.h>

#include "selm/judge/judge_file.hpp"
#include "selm/model/lora.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/train/sequence_logps.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

std::string prompt_text_for_judge(const std::vector<ChatMessage>& messages) {
  if (messages.size() == 1 && messages.front().role == "user") return messages.front().content;
  std::string text;
  for (const ChatMessage& message : messages) {
    if (!text.empty()) text += "\n\n";
    text += message.role + ": " + message.content;
  }
  return text;
}

Outcome outcome_of(const Judgment& judgment) {
  if (!judgment.is_ok() || judgment.ranks.size() != 2) {
    throw std::invalid_argument("outcome_of: needs an ok judgment of two candidates");
  }
  if (judgment.ranks[0] < judgment.ranks[1]) return Outcome::win;
  if (judgment.ranks[0] > judgment.ranks[1]) return Outcome::loss;
  return Outcome::tie;
}

namespace {

std::optional<MeanEstimate> mean_of_present(const std::vector<std::optional<double>>& values) {
  std::vector<double> present;
  for (const auto& value : values) {
    if (value) present.push_back(*value);
  }
  if (present.empty()) return std::nullopt;
  return mean_estimate(present);
}

MeanEstimate mean_of_lengths(const std::vector<std::int64_t>& lengths) {
  return mean_estimate(std::vector<double>(lengths.begin(), lengths.end()));
}

nlohmann::json interval_json(const Interval& interval) { return nlohmann::json::array({interval.low, interval.high}); }

}  // namespace

EvalResult summarize_evaluation(const std::vector<Judgment>& judgments, const std::vector<std::int64_t>& policy_lengths,
                                const std::vector<std::int64_t>& baseline_lengths, const std::vector<double>& kl_values,
                                std::vector<EvalExample> examples) {
  EvalResult result;
  result.prompts = static_cast<std::int64_t>(judgments.size());
  std::vector<Outcome> outcomes;
  for (const Judgment& judgment : judgments) {
    std::optional<double> score, baseline_score;
    if (judgment.is_ok()) {
      outcomes.push_back(outcome_of(judgment));
      if (judgment.scores && judgment.scores->size() == 2) {
        score = (*judgment.scores)[0];
        baseline_score = (*judgment.scores)[1];
      }
    } else if (judgment.status == JudgmentStatus::abstained) {
      ++result.abstained;
    } else {
      ++result.failed;
    }
    result.scores.push_back(score);
    result.baseline_scores.push_back(baseline_score);
  }
  result.win = win_rate(outcomes);
  result.score = mean_of_present(result.scores);
  result.baseline_score = mean_of_present(result.baseline_scores);
  result.length = mean_of_lengths(policy_lengths);
  result.baseline_length = mean_of_lengths(baseline_lengths);
  if (!kl_values.empty()) result.kl = mean_estimate(kl_values);
  result.examples = std::move(examples);
  return result;
}

nlohmann::json eval_result_to_json(const EvalResult& result) {
  auto optional_list = [](const std::vector<std::optional<double>>& values) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& value : values) list.push_back(value ? nlohmann::json(*value) : nlohmann::json(nullptr));
    return list;
  };
  nlohmann::json value = {{"prompts", result.prompts},
                          {"wins", result.win.wins},
                          {"ties", result.win.ties},
                          {"losses", result.win.losses},
                          {"abstained", result.abstained},
                          {"failed", result.failed},
                          {"win_rate", result.win.rate},
                          {"win_rate_ci", interval_json(result.win.interval)},
                          {"mean_score", nullptr},
                          {"mean_score_ci", nullptr},
                          {"baseline_mean_score", nullptr},
                          {"baseline_mean_score_ci", nullptr},
                          {"scores", optional_list(result.scores)},
                          {"baseline_scores", optional_list(result.baseline_scores)},
                          {"mean_length", result.length.mean},
                          {"baseline_mean_length", result.baseline_length.mean},
                          {"kl", nullptr},
                          {"kl_ci", nullptr},
                          {"kl_samples", result.kl ? result.kl->count : 0}};
  if (result.score) {
    value["mean_score"] = result.score->mean;
    value["mean_score_ci"] = interval_json(result.score->interval);
  }
  if (result.baseline_score) {
    value["baseline_mean_score"] = result.baseline_score->mean;
    value["baseline_mean_score_ci"] = interval_json(result.baseline_score->interval);
  }
  if (result.kl) {
    value["kl"] = result.kl->mean;
    value["kl_ci"] = interval_json(result.kl->interval);
  }
  nlohmann::json examples = nlohmann::json::array();
  for (const EvalExample& example : result.examples) {
    examples.push_back({{"prompt", example.prompt}, {"response", example.response}, {"baseline", example.baseline}});
  }
  value["examples"] = std::move(examples);
  return value;
}

std::string describe_eval_result(const EvalResult& result) {
  char text[256];
  std::snprintf(text, sizeof(text), "win rate %.3f [%.3f, %.3f] vs baseline (W/T/L %lld/%lld/%lld", result.win.rate,
                result.win.interval.low, result.win.interval.high, static_cast<long long>(result.win.wins),
                static_cast<long long>(result.win.ties), static_cast<long long>(result.win.losses));
  std::string line = text;
  if (result.abstained + result.failed > 0) {
    std::snprintf(text, sizeof(text), ", abstained %lld, failed %lld", static_cast<long long>(result.abstained),
                  static_cast<long long>(result.failed));
    line += text;
  }
  line += ")";
  if (result.score) {
    std::snprintf(text, sizeof(text), ", mean score %.4f [%.4f, %.4f]", result.score->mean, result.score->interval.low,
                  result.score->interval.high);
    line += text;
    if (result.baseline_score) {
      std::snprintf(text, sizeof(text), " (baseline %.4f)", result.baseline_score->mean);
      line += text;
    }
  }
  std::snprintf(text, sizeof(text), ", mean length %.1f tokens", result.length.mean);
  line += text;
  if (result.kl) {
    std::snprintf(text, sizeof(text), ", KL %.3f [%.3f, %.3f]", result.kl->mean, result.kl->interval.low,
                  result.kl->interval.high);
    line += text;
  }
  return line;
}

std::vector<double> sequence_logprobs(LlamaForCausalLM& model, const std::vector<std::vector<std::int64_t>>& prompts,
                                      const std::vector<std::vector<std::int64_t>>& responses, std::int64_t batch_size,
                                      std::int64_t pad_id) {
  if (prompts.size() != responses.size()) throw std::invalid_argument("sequence_logprobs: prompts and responses differ in size");
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<double> logprobs;
  logprobs.reserve(prompts.size());
  const auto step = static_cast<std::size_t>(std::max<std::int64_t>(1, batch_size));
  for (std::size_t begin = 0; begin < prompts.size(); begin += step) {
    const std::size_t end = std::min(prompts.size(), begin + step);
    std::vector<PromptResponse> rows;
    for (std::size_t i = begin; i < end; ++i) rows.push_back({&prompts[i], &responses[i]});
    const SequenceLogps result = sequence_logps(model, build_sequence_batch(rows, pad_id, model->device()));
    const torch::Tensor values = result.logps.to(torch::kCPU, torch::kFloat64).contiguous();
    const double* data = values.data_ptr<double>();
    logprobs.insert(logprobs.end(), data, data + (end - begin));
  }
  if (was_training) model->train();
  return logprobs;
}

std::vector<EvalPrompt> read_eval_prompts(const std::filesystem::path& file, std::int64_t max_prompts) {
  std::vector<EvalPrompt> prompts;
  for (const auto& [line, record] : read_jsonl(file)) {
    if (max_prompts > 0 && static_cast<std::int64_t>(prompts.size()) >= max_prompts) break;
    EvalPrompt prompt;
    prompt.messages = parse_prompt_record(record, file.string(), line);
    prompt.value = record.contains("prompt") ? record.at("prompt") : record.at("messages");
    prompts.push_back(std::move(prompt));
  }
  if (prompts.empty()) throw InputError(file.string() + ": no prompts");
  return prompts;
}

SamplingConfig eval_sampling(const SamplingConfig& generate, const EvalConfig& eval) {
  SamplingConfig sampling = generate;
  sampling.temperature = eval.temperature;
  sampling.num_samples = 1;
  if (eval.max_new_tokens > 0) sampling.max_new_tokens = eval.max_new_tokens;
  return sampling;
}

namespace {

std::vector<GenerationRecord> generate_prompts_to_file(LanguageModel& lm, const std::vector<EvalPrompt>& prompts,
                                                       const SamplingConfig& sampling, const std::filesystem::path& out,
                                                       const GenerationFileOptions& options) {
  const ChatFormatter& formatter = *lm.formatter;
  Generator generator = response_generator(lm, sampling);
  std::vector<std::vector<std::int64_t>> ids;
  std::vector<nlohmann::json> values;
  for (const auto& prompt : prompts) {
    ids.push_back(formatter.encode_prompt(prompt.messages));
    values.push_back(prompt.value);
  }
  generate_to_file(generator, formatter, ids, values, out, options);
  std::vector<GenerationRecord> records = read_generation_file(out);
  if (records.size() != prompts.size() * static_cast<std::size_t>(sampling.num_samples)) {
    throw std::runtime_error(out.string() + ": holds " + std::to_string(records.size()) + " records for " +
                             std::to_string(prompts.size()) + " prompts");
  }
  return records;
}

}  // namespace

std::vector<GenerationRecord> generate_eval_responses(LanguageModel& lm, const std::vector<EvalPrompt>& prompts,
                                                      const SamplingConfig& sampling, const std::filesystem::path& out,
                                                      const GenerationFileOptions& options) {
  SamplingConfig single = sampling;
  single.num_samples = 1;
  return generate_prompts_to_file(lm, prompts, single, out, options);
}

EvalResult evaluate_policy(LanguageModel& policy, const std::vector<EvalPrompt>& prompts,
                           const std::vector<GenerationRecord>& baseline, Judge& judge,
                           const EvaluationSettings& settings, const std::filesystem::path& out_dir,
                           const std::function<LanguageModel()>& load_reference) {
  if (baseline.size() != prompts.size()) {
    throw InputError("baseline: " + std::to_string(baseline.size()) + " responses for " + std::to_string(prompts.size()) +
                     " prompts");
  }
  std::filesystem::create_directories(out_dir);
  const auto file_options = [&settings](const std::string& label) {
    GenerationFileOptions options;
    options.label = label;
    options.parallel = settings.parallel;
    return options;
  };
  const std::vector<GenerationRecord> responses = generate_eval_responses(
      policy, prompts, settings.sampling, out_dir / run_files::kEvalGenerations, file_options(settings.label));

  std::vector<double> kl_values;
  if (settings.kl_samples > 0) {
    // KL(pi || ref) = E_{y ~ pi}[log pi(y) - log ref(y)], from samples of the untruncated policy
    // (temperature 1, no top-k/top-p, no stop strings); log pi(y) is the generation's own sum.
    SamplingConfig sampling = settings.sampling;
    sampling.temperature = 1.0;
    sampling.top_k = 0;
    sampling.top_p = 1.0;
    sampling.stop.clear();
    sampling.num_samples = settings.kl_samples;
    const std::vector<GenerationRecord> samples =
        generate_prompts_to_file(policy, prompts, sampling, out_dir / run_files::kEvalSamples,
                                 file_options(settings.label + " KL samples"));
    std::vector<std::vector<std::int64_t>> sample_prompts, sample_ids;
    std::vector<double> policy_logprobs;
    std::optional<LanguageModel> loaded_reference;
    if (!settings.reference_is_policy_without_adapters) loaded_reference.emplace(load_reference());
    LanguageModel& reference = loaded_reference ? *loaded_reference : policy;
    for (const auto& sample : samples) {
      if (sample.token_ids.empty()) continue;
      const auto& prompt = prompts[static_cast<std::size_t>(sample.prompt_index)];
      sample_prompts.push_back(reference.formatter->encode_prompt(prompt.messages));
      sample_ids.push_back(sample.token_ids);
      policy_logprobs.push_back(sample.logprob);
    }
    std::optional<AdaptersDisabled> base_weights_only;
    if (!loaded_reference) base_weights_only.emplace(*policy.model);
    const std::vector<double> reference_logprobs = sequence_logprobs(reference.model, sample_prompts, sample_ids,
                                                                     settings.logprob_batch_size, pad_id_of(reference));
    for (std::size_t i = 0; i < policy_logprobs.size(); ++i) kl_values.push_back(policy_logprobs[i] - reference_logprobs[i]);
  }

  std::vector<JudgeRequest> requests;
  std::vector<std::int64_t> policy_lengths, baseline_lengths;
  std::vector<EvalExample> examples;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    JudgeRequest request;
    request.id = std::to_string(i);
    request.prompt = prompt_text_for_judge(prompts[i].messages);
    request.candidates = {responses[i].response, baseline[i].response};
    policy_lengths.push_back(static_cast<std::int64_t>(responses[i].token_ids.size()));
    baseline_lengths.push_back(static_cast<std::int64_t>(baseline[i].token_ids.size()));
    if (static_cast<std::int64_t>(examples.size()) < settings.num_examples) {
      examples.push_back({request.prompt, responses[i].response, baseline[i].response});
    }
    requests.push_back(std::move(request));
  }
  JudgeFileOptions judge_options;
  judge_options.batch_size = settings.judge_batch_size;
  judge_options.label = settings.label + " judge";
  judge_options.parallel = settings.parallel;
  const std::vector<Judgment> judgments =
      judge_to_file(judge, requests, out_dir / run_files::kEvalJudgments, judge_options);
  return summarize_evaluation(judgments, policy_lengths, baseline_lengths, kl_values, std::move(examples));
}

}  // namespace selm
