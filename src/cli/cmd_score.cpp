// `selm score`: per-example policy and reference log-probs, implicit rewards and loss of a
// preferences file (the paper's implicit-reward analysis as a tool).
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.hpp"
#include "selm/model/language_model.hpp"
#include "selm/train/losses.hpp"
#include "selm/train/sequence_logps.hpp"
#include "selm/util/error.hpp"

namespace selm::cli {

namespace {

struct ScoreArgs {
  ConfigArgs config;
  std::string policy;
  std::string reference;
  std::string data;
  std::string loss = "selm";
  double beta = 0.01;
  double alpha = 0.001;
  double label_smoothing = 0.0;
  std::int64_t batch_size = 8;
  bool with_tokens = false;
};

// Log-probs of each example's chosen, rejected and (when present) y_ref under one model.
struct ModelLogps {
  std::vector<double> chosen, rejected;
  std::vector<std::optional<double>> y_ref;
};

// One batch of `batch_size` examples per forward pass; under data parallelism batch k is scored
// by rank k mod N and every rank then gathers all the values, so that the printed lines equal
// one process's (the batches, and so their padding, are the same).
ModelLogps score_model(LlamaForCausalLM& model, const std::vector<TokenizedPreference>& examples,
                       std::int64_t batch_size, std::int64_t pad_id, bool average, const ParallelContext& parallel) {
  torch::NoGradGuard no_grad;
  model->eval();
  const auto n = static_cast<std::int64_t>(examples.size());
  // Per example: chosen, rejected, y_ref log-probs, and whether it has a y_ref.
  constexpr std::int64_t kColumns = 4;
  torch::Tensor mine = torch::zeros({n, kColumns}, torch::kFloat64);  // [n, 4]; rows of this rank's batches
  auto rows_of_mine = mine.accessor<double, 2>();
  for (std::int64_t begin = 0, batch = 0; begin < n; begin += batch_size, ++batch) {
    if (!parallel.owns(batch)) continue;
    const std::int64_t end = std::min(n, begin + batch_size);
    const auto example = [&examples](std::int64_t i) -> const TokenizedPreference& {
      return examples[static_cast<std::size_t>(i)];
    };
    // One forward per batch: chosen rows, rejected rows, then y_ref rows of the examples with one.
    std::vector<PromptResponse> rows;
    for (std::int64_t i = begin; i < end; ++i) rows.push_back({&example(i).prompt, &example(i).chosen});
    for (std::int64_t i = begin; i < end; ++i) rows.push_back({&example(i).prompt, &example(i).rejected});
    std::vector<std::int64_t> with_y_ref;
    for (std::int64_t i = begin; i < end; ++i) {
      if (!example(i).reference_response.empty()) {
        with_y_ref.push_back(i);
        rows.push_back({&example(i).prompt, &example(i).reference_response});
      }
    }
    const torch::Tensor logps = sequence_logps(model, build_sequence_batch(rows, pad_id, model->device()), average)
                                    .logps.to(torch::kCPU, torch::kFloat64)
                                    .contiguous();
    const double* values = logps.data_ptr<double>();
    const std::int64_t count = end - begin;
    for (std::int64_t k = 0; k < count; ++k) {
      rows_of_mine[begin + k][0] = values[k];
      rows_of_mine[begin + k][1] = values[count + k];
    }
    for (std::size_t k = 0; k < with_y_ref.size(); ++k) {
      rows_of_mine[with_y_ref[k]][2] = values[2 * count + static_cast<std::int64_t>(k)];
      rows_of_mine[with_y_ref[k]][3] = 1.0;
    }
  }
  torch::Tensor all = mine;  // [world_size, n, 4]: every rank's rows
  if (parallel.is_distributed()) {
    all = torch::zeros({parallel.world_size, n, kColumns}, torch::kFloat64);
    parallel.communicator->all_gather(all, mine, "score: gathering the log-probs");
  }
  all = all.reshape({parallel.world_size, n, kColumns});
  const auto gathered = all.accessor<double, 3>();
  ModelLogps out;
  out.y_ref.resize(examples.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t owner = (i / batch_size) % parallel.world_size;
    out.chosen.push_back(gathered[owner][i][0]);
    out.rejected.push_back(gathered[owner][i][1]);
    if (gathered[owner][i][3] != 0.0) out.y_ref[static_cast<std::size_t>(i)] = gathered[owner][i][2];
  }
  return out;
}

nlohmann::json optional_number(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

void run_score(const ScoreArgs& args) {
  Config config = resolve_config(args.config);
  PreferenceLossOptions options;
  options.type = parse_enum<PreferenceLossType>(args.loss, "--loss");
  options.beta = args.beta;
  options.alpha = args.alpha;
  options.label_smoothing = args.label_smoothing;
  if (!(args.beta > 0)) throw InputError("--beta: must be positive");
  if (args.batch_size < 1) throw InputError("--batch-size: must be positive");
  const bool needs_y_ref = options.type == PreferenceLossType::selm && options.alpha != 0.0;
  const TrainConfig& train = config.train;
  const ParallelContext parallel = process_parallel_context(config);

  const std::vector<PreferenceRecord> records = read_preference_file(args.data);
  if (needs_y_ref) {
    for (const auto& record : records) {
      if (!record.reference_response) {
        throw_input_error(args.data, record.line, "key 'reference_response': missing (--loss selm with --alpha != 0 needs y_ref)");
      }
    }
  }
  // The policy's tokenizer and chat template tokenise every record; the reference must share them.
  LanguageModel policy = load_language_model(args.policy, config.model, config.tokenizer);
  const std::int64_t pad_id = policy.tokenizer->pad_id().value_or(std::max<std::int64_t>(0, policy.tokenizer->eos_id()));
  std::vector<TokenizedPreference> examples;
  for (const auto& record : records) {
    examples.push_back(tokenize_preference(record, *policy.formatter, train.max_length, train.max_prompt_length));
  }
  const ModelLogps policy_logps = score_model(policy.model, examples, args.batch_size, pad_id, train.average_logps, parallel);
  policy.model = LlamaForCausalLM{nullptr};  // one model resident at a time
  ModelSettings unadapted = config.model;  // model.adapter_path adapts the policy only
  unadapted.adapter_path.clear();
  LanguageModel reference = load_language_model(args.reference, unadapted, config.tokenizer);
  const ModelLogps reference_logps = score_model(reference.model, examples, args.batch_size, pad_id, train.average_logps, parallel);

  // The loss of every example at once, from the log-probs above.
  const auto tensor = [](const std::vector<double>& values) { return torch::tensor(values, torch::kFloat64); };
  PreferenceLogps logps;
  logps.policy_chosen = tensor(policy_logps.chosen);
  logps.policy_rejected = tensor(policy_logps.rejected);
  logps.reference_chosen = tensor(reference_logps.chosen);
  logps.reference_rejected = tensor(reference_logps.rejected);
  if (needs_y_ref) {
    std::vector<double> policy_y_ref, reference_y_ref;
    for (std::size_t i = 0; i < examples.size(); ++i) {
      policy_y_ref.push_back(*policy_logps.y_ref[i]);
      reference_y_ref.push_back(*reference_logps.y_ref[i]);
    }
    logps.policy_y_ref = tensor(policy_y_ref);
    logps.reference_y_ref = tensor(reference_y_ref);
  }
  const PreferenceLossResult loss = preference_loss(logps, options);
  if (!parallel.writes_shared_artifacts()) return;  // rank 0 prints what one process prints
  const auto per_example = loss.per_example_loss.contiguous();
  const auto chosen_rewards = loss.chosen_rewards.contiguous();
  const auto rejected_rewards = loss.rejected_rewards.contiguous();

  double loss_sum = 0, correct = 0, margin_sum = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto b = static_cast<std::int64_t>(i);
    const double chosen_reward = chosen_rewards[b].item<double>();
    const double rejected_reward = rejected_rewards[b].item<double>();
    const double example_loss = per_example[b].item<double>();
    nlohmann::json line = {
        {"index", i},
        {"line", records[i].line},
        {"policy_logps", {{"chosen", policy_logps.chosen[i]}, {"rejected", policy_logps.rejected[i]},
                          {"reference_response", optional_number(policy_logps.y_ref[i])}}},
        {"reference_logps", {{"chosen", reference_logps.chosen[i]}, {"rejected", reference_logps.rejected[i]},
                             {"reference_response", optional_number(reference_logps.y_ref[i])}}},
        {"rewards", {{"chosen", chosen_reward}, {"rejected", rejected_reward}, {"margin", chosen_reward - rejected_reward}}},
        {"loss", example_loss}};
    if (policy_logps.y_ref[i]) {
      line["rewards"]["reference_response"] = options.beta * (*policy_logps.y_ref[i] - *reference_logps.y_ref[i]);
    }
    if (args.with_tokens) {
      line["token_ids"] = {{"prompt", examples[i].prompt},
                           {"chosen", examples[i].chosen},
                           {"rejected", examples[i].rejected}};
      if (!examples[i].reference_response.empty()) line["token_ids"]["reference_response"] = examples[i].reference_response;
    }
    std::cout << line.dump() << "\n";
    loss_sum += example_loss;
    correct += chosen_reward > rejected_reward ? 1.0 : 0.0;
    margin_sum += chosen_reward - rejected_reward;
  }
  const double n = static_cast<double>(records.size());
  nlohmann::json summary = {{"summary", true},
                            {"examples", records.size()},
                            {"loss", enum_name(options.type)},
                            {"beta", options.beta},
                            {"alpha", options.alpha},
                            {"mean_loss", loss_sum / n},
                            {"reward_accuracy", correct / n},
                            {"mean_margin", margin_sum / n}};
  std::cout << summary.dump() << std::endl;
}

}  // namespace

void register_score_command(CLI::App& app) {
  auto* command = app.add_subcommand("score", "Per-example log-probs, implicit rewards and loss of a policy against its reference");
  auto args = std::make_shared<ScoreArgs>();
  add_config_args(*command, args->config, /*config_required=*/false);
  command->add_option("--policy", args->policy, "Policy model directory")->required()->check(CLI::ExistingDirectory);
  command->add_option("--reference", args->reference, "Reference model directory")->required()->check(CLI::ExistingDirectory);
  command->add_option("--data", args->data, "Preferences JSONL")->required()->check(CLI::ExistingFile);
  command->add_option("--loss", args->loss, "Loss: selm, dpo, ipo or hinge")->capture_default_str();
  command->add_option("--beta", args->beta, "Implicit reward scale beta")->capture_default_str();
  command->add_option("--alpha", args->alpha, "SELM optimism coefficient")->capture_default_str();
  command->add_option("--label-smoothing", args->label_smoothing, "Conservative DPO label smoothing")->capture_default_str();
  command->add_option("--batch-size", args->batch_size, "Records per forward pass")->capture_default_str();
  command->add_flag("--with-tokens", args->with_tokens, "Also print the token ids used (after truncation)");
  command->footer(
      "Prints one JSON line per record (policy and reference log-probs of chosen, rejected and reference_response,\n"
      "implicit rewards beta*(pi - ref), the record's loss) and a final summary line (mean loss, reward accuracy,\n"
      "mean margin). Truncation and averaging follow train.max_length, train.max_prompt_length, train.average_logps.\n"
      "Under `selm launch`, srun or torchrun, the ranks share the batches out and rank 0 prints one process's lines.");
  command->callback([args] { run_score(*args); });
}

}  // namespace selm::cli
