#include "selm/train/sft_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

namespace selm {

namespace {

// Prompt ids cut from the left to `max_prompt_length`, keeping a leading BOS so that the model
// still sees the start-of-sequence id it was trained with.
std::vector<std::int64_t> truncate_prompt(std::vector<std::int64_t> prompt_ids, std::int64_t max_prompt_length,
                                          std::int64_t bos_id) {
  const auto limit = static_cast<std::size_t>(max_prompt_length);
  if (prompt_ids.size() <= limit) return prompt_ids;
  const bool keep_bos = bos_id >= 0 && prompt_ids.front() == bos_id && limit >= 2;
  std::vector<std::int64_t> kept;
  kept.reserve(limit);
  if (keep_bos) kept.push_back(bos_id);
  kept.insert(kept.end(), prompt_ids.end() - static_cast<std::ptrdiff_t>(limit - kept.size()), prompt_ids.end());
  return kept;
}

}  // namespace

SftExample make_sft_example(const SftRecord& record, const ChatFormatter& formatter, std::int64_t max_length,
                            std::int64_t max_prompt_length) {
  if (max_prompt_length < 1 || max_length <= max_prompt_length) {
    throw std::invalid_argument("make_sft_example: need max_length > max_prompt_length >= 1");
  }
  const Tokenizer& tokenizer = formatter.tokenizer();
  const auto limit = static_cast<std::size_t>(max_length);
  SftExample example;
  example.line = record.line;
  if (record.is_text) {
    if (tokenizer.bos_id() >= 0) example.input_ids.push_back(tokenizer.bos_id());
    const std::vector<std::int64_t> text_ids = tokenizer.encode(record.response);
    example.input_ids.insert(example.input_ids.end(), text_ids.begin(), text_ids.end());
    if (tokenizer.eos_id() >= 0) example.input_ids.push_back(tokenizer.eos_id());
    if (example.input_ids.size() > limit) example.input_ids.resize(limit);
    example.loss_mask.assign(example.input_ids.size(), 1);
    // The first id is never predicted (nothing precedes it).
    example.loss_mask.front() = 0;
    return example;
  }
  const std::vector<std::int64_t> prompt_ids =
      truncate_prompt(formatter.encode_prompt(record.prompt), max_prompt_length, tokenizer.bos_id());
  std::vector<std::int64_t> response_ids = formatter.encode_response(record.response);
  const std::size_t response_room = limit - prompt_ids.size();  // >= 1: max_length > max_prompt_length
  if (response_ids.size() > response_room) response_ids.resize(response_room);
  example.input_ids = prompt_ids;
  example.input_ids.insert(example.input_ids.end(), response_ids.begin(), response_ids.end());
  example.loss_mask.assign(prompt_ids.size(), 0);
  example.loss_mask.resize(example.input_ids.size(), 1);
  if (prompt_ids.empty()) example.loss_mask.front() = 0;
  return example;
}

std::vector<SftExample> make_sft_examples(const std::vector<SftRecord>& records, const ChatFormatter& formatter,
                                          std::int64_t max_length, std::int64_t max_prompt_length) {
  std::vector<SftExample> examples;
  examples.reserve(records.size());
  for (const SftRecord& record : records) {
    examples.push_back(make_sft_example(record, formatter, max_length, max_prompt_length));
  }
  return examples;
}

std::vector<SftExample> pack_sft_examples(const std::vector<SftExample>& examples, std::int64_t row_length) {
  if (row_length < 1) throw std::invalid_argument("pack_sft_examples: row_length must be positive");
  const auto limit = static_cast<std::size_t>(row_length);
  std::vector<SftExample> rows;
  for (const SftExample& example : examples) {
    if (example.input_ids.empty()) continue;
    if (example.input_ids.size() > limit) {
      throw std::invalid_argument("pack_sft_examples: an example is longer than the row length");
    }
    if (rows.empty() || rows.back().input_ids.size() + example.input_ids.size() > limit) {
      rows.emplace_back();
      rows.back().line = example.line;
    }
    SftExample& row = rows.back();
    const std::size_t start = row.input_ids.size();
    row.input_ids.insert(row.input_ids.end(), example.input_ids.begin(), example.input_ids.end());
    row.loss_mask.insert(row.loss_mask.end(), example.loss_mask.begin(), example.loss_mask.end());
    // Predicting an example's first id from the end of the previous one teaches nothing.
    row.loss_mask[start] = 0;
  }
  return rows;
}

SftBatch collate_sft_batch(const std::vector<const SftExample*>& examples, std::int64_t pad_id) {
  if (examples.empty()) throw std::invalid_argument("collate_sft_batch: no examples");
  std::size_t width = 1;
  for (const SftExample* example : examples) width = std::max(width, example->input_ids.size());
  const auto rows = static_cast<std::int64_t>(examples.size());
  const auto columns = static_cast<std::int64_t>(width);
  SftBatch batch;
  batch.input_ids = torch::full({rows, columns}, pad_id, torch::kInt64);
  batch.attention_mask = torch::zeros({rows, columns}, torch::kInt64);
  batch.labels = torch::full({rows, columns}, kIgnoreLabel, torch::kInt64);
  auto ids = batch.input_ids.accessor<std::int64_t, 2>();
  auto mask = batch.attention_mask.accessor<std::int64_t, 2>();
  auto labels = batch.labels.accessor<std::int64_t, 2>();
  for (std::int64_t row = 0; row < rows; ++row) {
    const SftExample& example = *examples[static_cast<std::size_t>(row)];
    const auto length = static_cast<std::int64_t>(example.input_ids.size());
    for (std::int64_t t = 0; t < length; ++t) {
      ids[row][t] = example.input_ids[static_cast<std::size_t>(t)];
      mask[row][t] = 1;
      if (t + 1 < length && example.loss_mask[static_cast<std::size_t>(t + 1)] != 0) {
        labels[row][t] = example.input_ids[static_cast<std::size_t>(t + 1)];
        ++batch.num_loss_tokens;
      }
    }
    batch.num_tokens += length;
  }
  return batch;
}

SftLoss sft_loss(LlamaForCausalLM& model, const SftBatch& batch) {
  const torch::Device device = model->device();
  const torch::Tensor input_ids = batch.input_ids.to(device);
  const torch::Tensor attention_mask = batch.attention_mask.to(device);
  const torch::Tensor hidden = model->model->forward(input_ids, attention_mask);  // (B, T, C)
  const std::int64_t width = hidden.size(-1);
  const torch::Tensor flat_labels = batch.labels.reshape({-1}).to(device);       // (B*T)
  const torch::Tensor positions = flat_labels.ne(kIgnoreLabel).nonzero().squeeze(1);  // (N)
  SftLoss result;
  result.num_loss_tokens = positions.size(0);
  if (result.num_loss_tokens == 0) {
    result.sum_nll = hidden.sum() * 0.0;  // keeps the graph so that backward() still works
    result.mean_nll = result.sum_nll;
    return result;
  }
  const torch::Tensor selected_hidden = hidden.reshape({-1, width}).index_select(0, positions);  // (N, C)
  const torch::Tensor logits = model->logits_from_hidden(selected_hidden);                        // (N, V)
  const torch::Tensor targets = flat_labels.index_select(0, positions);                           // (N)
  // The NLL is accumulated in float32 whatever the model's dtype.
  result.sum_nll = torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat32), targets,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  result.mean_nll = result.sum_nll / static_cast<double>(result.num_loss_tokens);
  return result;
}

SftEvaluation evaluate_sft(LlamaForCausalLM& model, const std::vector<SftExample>& examples, std::int64_t batch_size,
                           std::int64_t pad_id) {
  if (batch_size < 1) throw std::invalid_argument("evaluate_sft: batch_size must be positive");
  torch::NoGradGuard no_grad;
  SftEvaluation evaluation;
  double total_nll = 0;
  for (std::size_t begin = 0; begin < examples.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(examples.size(), begin + static_cast<std::size_t>(batch_size));
    std::vector<const SftExample*> members;
    for (std::size_t index = begin; index < end; ++index) members.push_back(&examples[index]);
    const SftLoss loss = sft_loss(model, collate_sft_batch(members, pad_id));
    total_nll += loss.sum_nll.item<double>();
    evaluation.num_loss_tokens += loss.num_loss_tokens;
  }
  evaluation.num_examples = static_cast<std::int64_t>(examples.size());
  evaluation.mean_nll = evaluation.num_loss_tokens > 0 ? total_nll / static_cast<double>(evaluation.num_loss_tokens) : 0.0;
  evaluation.perplexity = std::exp(evaluation.mean_nll);
  return evaluation;
}

TrainingResult train_sft(LlamaForCausalLM& model, const std::vector<SftExample>& examples, const TrainConfig& config,
                         bool packing, std::int64_t pad_id, TrainingLoopOptions options) {
  const std::vector<SftExample> rows = packing ? pack_sft_examples(examples, config.max_length) : examples;
  options.num_examples = static_cast<std::int64_t>(rows.size());
  model->train();
  const StepFunction step = [&](const std::vector<std::int64_t>& row_indices) {
    std::vector<const SftExample*> members;
    members.reserve(row_indices.size());
    for (std::int64_t index : row_indices) members.push_back(&rows.at(static_cast<std::size_t>(index)));
    const SftBatch batch = collate_sft_batch(members, pad_id);
    SftLoss loss = sft_loss(model, batch);
    const double mean_nll = loss.mean_nll.item<double>();
    StepOutput output;
    output.loss = loss.mean_nll;
    output.metrics = {{"loss", mean_nll},
                      {"perplexity", std::exp(mean_nll)},
                      {"tokens", static_cast<double>(loss.num_loss_tokens)}};
    output.num_tokens = batch.num_tokens;
    output.normalizer = static_cast<double>(loss.num_loss_tokens);
    return output;
  };
  return run_training_loop(*model, config, options, step);
}

std::int64_t sft_pad_id(const Tokenizer& tokenizer) {
  if (tokenizer.pad_id()) return *tokenizer.pad_id();
  if (tokenizer.eos_id() >= 0) return tokenizer.eos_id();
  return 0;
}

}  // namespace selm
