#include "selm/train/sequence_logps.hpp"

#include <algorithm>
#include <stdexcept>

#include <torch/torch.h>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

void truncate_prompt_response(std::vector<std::int64_t>& prompt, std::vector<std::int64_t>& response,
                              std::int64_t max_length, std::int64_t max_prompt_length) {
  if (max_length < 2 || max_prompt_length < 1) {
    throw std::invalid_argument("truncate_prompt_response: max_length must be >= 2 and max_prompt_length >= 1");
  }
  const auto prompt_limit = static_cast<std::size_t>(std::min(max_prompt_length, max_length - 1));
  if (prompt.size() > prompt_limit) prompt.erase(prompt.begin(), prompt.end() - static_cast<std::ptrdiff_t>(prompt_limit));
  const auto response_limit = static_cast<std::size_t>(max_length) - prompt.size();
  if (response.size() > response_limit) response.resize(response_limit);
}

TokenizedPreference tokenize_preference(const PreferenceRecord& record, const ChatFormatter& formatter,
                                        std::int64_t max_length, std::int64_t max_prompt_length) {
  TokenizedPreference out;
  out.prompt = formatter.encode_prompt(record.prompt);
  // The prompt is truncated once; the dummy copy only fixes its length for the responses.
  std::vector<std::int64_t> no_response;
  truncate_prompt_response(out.prompt, no_response, max_length, max_prompt_length);
  auto fit = [&](const std::string& text) {
    std::vector<std::int64_t> ids = formatter.encode_response(text);
    truncate_prompt_response(out.prompt, ids, max_length, max_prompt_length);
    return ids;
  };
  out.chosen = fit(record.chosen);
  out.rejected = fit(record.rejected);
  if (record.reference_response) {
    std::vector<std::int64_t> ids = record.reference_response_ids ? *record.reference_response_ids
                                                                  : formatter.encode_response(*record.reference_response);
    const std::size_t full = ids.size();
    truncate_prompt_response(out.prompt, ids, max_length, max_prompt_length);
    out.reference_response_truncated = ids.size() < full;
    out.reference_response = std::move(ids);
  }
  return out;
}

SequenceBatch build_sequence_batch(const std::vector<PromptResponse>& rows, std::int64_t pad_id,
                                   const torch::Device& device) {
  const auto batch = static_cast<std::int64_t>(rows.size());
  std::int64_t length = 1;
  for (const auto& row : rows) {
    if (row.response == nullptr || row.response->empty()) throw std::invalid_argument("build_sequence_batch: empty response");
    length = std::max<std::int64_t>(length, static_cast<std::int64_t>(row.prompt->size() + row.response->size()));
  }
  auto input_ids = torch::full({batch, length}, pad_id, torch::kInt64);
  auto attention_mask = torch::zeros({batch, length}, torch::kInt64);
  auto response_mask = torch::zeros({batch, length}, torch::kBool);
  auto ids = input_ids.accessor<std::int64_t, 2>();
  auto attention = attention_mask.accessor<std::int64_t, 2>();
  auto response = response_mask.accessor<bool, 2>();
  for (std::int64_t b = 0; b < batch; ++b) {
    std::int64_t t = 0;
    for (std::int64_t id : *rows[b].prompt) {
      ids[b][t] = id;
      attention[b][t++] = 1;
    }
    for (std::int64_t id : *rows[b].response) {
      ids[b][t] = id;
      attention[b][t] = 1;
      response[b][t++] = true;
    }
  }
  return {input_ids.to(device), attention_mask.to(device), response_mask.to(device)};
}

SequenceLogps sequence_logps(LlamaForCausalLM& model, const SequenceBatch& batch, bool average) {
  const std::int64_t batch_size = batch.input_ids.size(0);
  const std::int64_t length = batch.input_ids.size(1);
  const torch::Tensor hidden = model->model->forward(batch.input_ids, batch.attention_mask);  // (B, T, C)
  // Token t is predicted from position t - 1: select the predicting positions only.
  const torch::Tensor predicted = batch.response_mask.slice(1, 1, length);               // (B, T-1)
  const torch::Tensor selected = hidden.slice(1, 0, length - 1).index({predicted});      // (N, C)
  const torch::Tensor logits = model->logits_from_hidden(selected).to(torch::kFloat32);  // (N, V)
  const torch::Tensor targets = batch.input_ids.slice(1, 1, length).index({predicted});  // (N)
  const torch::Tensor token_logps =
      logits.gather(1, targets.unsqueeze(1)).squeeze(1) - torch::logsumexp(logits, 1);   // (N)
  const torch::Tensor rows = torch::arange(batch_size, batch.input_ids.options())
                                 .unsqueeze(1)
                                 .expand({batch_size, length - 1})
                                 .index({predicted});                                    // (N)
  torch::Tensor sums = torch::zeros({batch_size}, token_logps.options()).index_add(0, rows, token_logps);
  const torch::Tensor counts = predicted.sum(1).to(torch::kFloat32);
  if (average) sums = sums / counts.clamp_min(1.0);
  return {sums, counts};
}

std::vector<PromptResponse> preference_rows(const std::vector<const TokenizedPreference*>& examples,
                                            bool with_reference_response) {
  std::vector<PromptResponse> rows;
  for (const auto* example : examples) rows.push_back({&example->prompt, &example->chosen});
  for (const auto* example : examples) rows.push_back({&example->prompt, &example->rejected});
  if (with_reference_response) {
    for (const auto* example : examples) {
      if (example->reference_response.empty()) {
        throw std::invalid_argument("preference_rows: an example has no reference response");
      }
      rows.push_back({&example->prompt, &example->reference_response});
    }
  }
  return rows;
}

void compute_reference_logps(LlamaForCausalLM& reference_model, std::vector<PreferenceRecord>& records,
                             const std::vector<TokenizedPreference>& examples, std::int64_t batch_size,
                             std::int64_t pad_id, bool average, bool with_reference_response,
                             const std::vector<std::optional<double>>& generation_y_ref_logps,
                             const ParallelContext& parallel) {
  if (records.size() != examples.size()) throw std::invalid_argument("compute_reference_logps: records and examples differ in size");
  if (batch_size < 1) throw std::invalid_argument("compute_reference_logps: batch_size must be positive");
  torch::NoGradGuard no_grad;
  const bool was_training = reference_model->is_training();
  reference_model->eval();
  const torch::Device device = reference_model->device();

  // Reuse what is known: cached records, and y_ref log-probs recorded at generation time.
  std::vector<std::size_t> pair_pending;  // need chosen and rejected
  std::vector<std::size_t> y_ref_pending;
  for (std::size_t i = 0; i < records.size(); ++i) {
    PreferenceRecord& record = records[i];
    const bool wants_y_ref = with_reference_response && !examples[i].reference_response.empty();
    if (!record.reference_logps) {
      pair_pending.push_back(i);
    }
    if (wants_y_ref && !(record.reference_logps && record.reference_logps->reference_response)) {
      if (i < generation_y_ref_logps.size() && generation_y_ref_logps[i] && !examples[i].reference_response_truncated) {
        double value = *generation_y_ref_logps[i];
        if (average) value /= static_cast<double>(examples[i].reference_response.size());
        if (!record.reference_logps) record.reference_logps = ReferenceLogps{};
        record.reference_logps->reference_response = value;
      } else {
        y_ref_pending.push_back(i);
      }
    }
  }

  // With several ranks, batch k goes to rank k mod N (the batches one process makes, so the same
  // values), and a sum over the ranks gives every rank all of them.
  auto run = [&](const std::vector<std::size_t>& pending, bool pairs) {
    const std::size_t per_record = pairs ? 2 : 1;  // chosen and rejected, or y_ref
    std::vector<double> values(pending.size() * per_record, 0.0);
    for (std::size_t begin = 0; begin < pending.size(); begin += static_cast<std::size_t>(batch_size)) {
      if (!parallel.owns(static_cast<std::int64_t>(begin / static_cast<std::size_t>(batch_size)))) continue;
      const std::size_t end = std::min(pending.size(), begin + static_cast<std::size_t>(batch_size));
      std::vector<PromptResponse> rows;
      if (pairs) {
        for (std::size_t k = begin; k < end; ++k) rows.push_back({&examples[pending[k]].prompt, &examples[pending[k]].chosen});
        for (std::size_t k = begin; k < end; ++k) rows.push_back({&examples[pending[k]].prompt, &examples[pending[k]].rejected});
      } else {
        for (std::size_t k = begin; k < end; ++k) {
          rows.push_back({&examples[pending[k]].prompt, &examples[pending[k]].reference_response});
        }
      }
      const SequenceLogps result = sequence_logps(reference_model, build_sequence_batch(rows, pad_id, device), average);
      const torch::Tensor batch_values = result.logps.to(torch::kCPU, torch::kFloat64).contiguous();
      const double* data = batch_values.data_ptr<double>();
      const std::size_t count = end - begin;
      for (std::size_t k = 0; k < count; ++k) {
        values[(begin + k) * per_record] = data[k];
        if (pairs) values[(begin + k) * per_record + 1] = data[count + k];
      }
    }
    values = parallel.sum(std::move(values), pairs ? "reference log-probs" : "reference log-probs of y_ref");
    for (std::size_t k = 0; k < pending.size(); ++k) {
      PreferenceRecord& record = records[pending[k]];
      if (pairs) {
        const std::optional<double> kept = record.reference_logps ? record.reference_logps->reference_response
                                                                  : std::optional<double>{};
        record.reference_logps = ReferenceLogps{values[k * 2], values[k * 2 + 1], kept};
      } else {
        record.reference_logps->reference_response = values[k];
      }
    }
  };
  run(pair_pending, true);
  run(y_ref_pending, false);
  if (was_training) reference_model->train();
}

PreferenceFile read_preference_file_with_generation_logps(const fs::path& path) {
  PreferenceFile out;
  const std::string file = path.string();
  for (const auto& [line, value] : read_jsonl(path)) {
    out.records.push_back(parse_preference_record(value, file, line));
    std::optional<double> logp;
    if (value.contains("reference_response_logprob")) {
      const auto& number = value.at("reference_response_logprob");
      if (!number.is_number()) {
        throw_input_error(file, line, std::string("key 'reference_response_logprob': expected a number, got ") +
                                          number.type_name());
      }
      logp = number.get<double>();
    }
    out.generation_y_ref_logps.push_back(logp);
  }
  if (out.records.empty()) throw InputError(file + ": no records");
  return out;
}

}  // namespace selm
