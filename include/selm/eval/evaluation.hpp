// Judged evaluation of a policy against a baseline on held-out prompts: each prompt's two
// responses are ranked by the judge as candidates [policy, baseline]; win rate (ties count
// half), mean judge scores, response lengths and an estimate of KL(policy || reference).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "selm/eval/eval_config.hpp"
#include "selm/eval/statistics.hpp"
#include "selm/generate/generation_file.hpp"
#include "selm/generate/sampling_config.hpp"
#include "selm/judge/judge.hpp"
#include "selm/judge/judgment.hpp"
#include "selm/model/language_model.hpp"
#include "selm/parallel/parallel_context.hpp"
#include "selm/text/chat_template.hpp"

namespace selm {

// The prompt as the judge reads it: a lone user message is its text; a conversation is
// "role: content" paragraphs.
std::string prompt_text_for_judge(const std::vector<ChatMessage>& messages);

// Policy-vs-baseline outcome of an ok judgment of candidates [policy, baseline].
Outcome outcome_of(const Judgment& judgment);

struct EvalExample {
  std::string prompt;
  std::string response;
  std::string baseline;
};

struct EvalResult {
  std::int64_t prompts = 0;
  WinRate win;                                   // over ok judgments
  std::int64_t abstained = 0;
  std::int64_t failed = 0;
  std::vector<std::optional<double>> scores;     // policy score per prompt, when the judge scored it
  std::vector<std::optional<double>> baseline_scores;
  std::optional<MeanEstimate> score;             // over the scored prompts; empty when none
  std::optional<MeanEstimate> baseline_score;
  MeanEstimate length;                           // policy response tokens
  MeanEstimate baseline_length;
  std::optional<MeanEstimate> kl;                // over KL samples; empty when not estimated
  std::vector<EvalExample> examples;
};

// `judgments[i]` ranks [policy response i, baseline response i]; lengths are in tokens.
// `kl_values` are per-sample log pi(y) - log ref(y) (may be empty).
EvalResult summarize_evaluation(const std::vector<Judgment>& judgments, const std::vector<std::int64_t>& policy_lengths,
                                const std::vector<std::int64_t>& baseline_lengths, const std::vector<double>& kl_values,
                                std::vector<EvalExample> examples);

// The eval.json fields of a result (see README "Run directory"): counts, win_rate(_ci),
// mean_score(_ci), baseline_mean_score(_ci), scores, baseline_scores, mean_length,
// baseline_mean_length, kl(_ci), kl_samples, examples. Absent values are null.
nlohmann::json eval_result_to_json(const EvalResult& result);

// One line: "win rate 0.550 [0.45, 0.65] vs baseline (W/T/L 50/10/40), mean score ..., KL ...".
std::string describe_eval_result(const EvalResult& result);

// Summed log-probs under `model` of each (prompt ids, response ids) pair, in batches, without
// gradients. prompts[i]: ids with BOS; responses[i]: at least one id.
std::vector<double> sequence_logprobs(LlamaForCausalLM& model, const std::vector<std::vector<std::int64_t>>& prompts,
                                      const std::vector<std::vector<std::int64_t>>& responses, std::int64_t batch_size,
                                      std::int64_t pad_id);

// One held-out prompt.
struct EvalPrompt {
  std::vector<ChatMessage> messages;
  nlohmann::json value;  // stored as the generation records' "prompt"
};

// Prompts JSONL ({"prompt"} or {"messages"}), the first `max_prompts` (0 = all). InputError
// naming FILE:LINE for a malformed record, and for a file without prompts.
std::vector<EvalPrompt> read_eval_prompts(const std::filesystem::path& file, std::int64_t max_prompts = 0);

// Sampling of evaluated responses: the generate section with eval's temperature and token
// limit, one response per prompt.
SamplingConfig eval_sampling(const SamplingConfig& generate, const EvalConfig& eval);

// Responses of `lm` to `prompts` in `out` (appendable, resumed), one per prompt in prompt order;
// options.resume must be true.
std::vector<GenerationRecord> generate_eval_responses(LanguageModel& lm, const std::vector<EvalPrompt>& prompts,
                                                      const SamplingConfig& sampling, const std::filesystem::path& out,
                                                      const GenerationFileOptions& options);

struct EvaluationSettings {
  SamplingConfig sampling;             // of the evaluated responses (eval_sampling)
  std::int64_t kl_samples = 0;         // samples per prompt for KL(policy || reference); 0 = skip
  std::int64_t num_examples = 3;       // examples kept in the result
  std::int64_t judge_batch_size = 32;
  std::int64_t logprob_batch_size = 8; // rows per forward when scoring samples under the reference
  std::string label = "eval";
  ParallelContext parallel;            // the writing rank appends the generation and judgment files
  // LoRA: the reference is the policy itself with its adapters off (lora.hpp), so no second
  // model is loaded and `load_reference` is not called.
  bool reference_is_policy_without_adapters = false;
};

// Evaluates `policy` against `baseline` (one response per prompt, in prompt order) in `out_dir`:
// eval_generations.jsonl, eval_samples.jsonl (KL) and eval_judgments.jsonl, each resumed when
// present. `load_reference` is called (once, only when kl_samples > 0 and the reference is not the
// policy without its adapters) for the reference model of the KL estimate; it is freed before
// returning.
EvalResult evaluate_policy(LanguageModel& policy, const std::vector<EvalPrompt>& prompts,
                           const std::vector<GenerationRecord>& baseline, Judge& judge,
                           const EvaluationSettings& settings, const std::filesystem::path& out_dir,
                           const std::function<LanguageModel()>& load_reference);

}  // namespace selm
