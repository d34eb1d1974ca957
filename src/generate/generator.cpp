#include "selm/generate/generator.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

#include <c10/core/InferenceMode.h>

#include "selm/generate/sampler.hpp"
#include "selm/util/cpu_threads.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// The fed id of a finished row; any valid id works since its mask column is 0.
constexpr std::int64_t kPadFeedId = 0;

}  // namespace

Generator::Generator(LlamaForCausalLM model, SamplingConfig config, std::vector<std::int64_t> stop_token_ids,
                     DecodeFunction decode)
    : model_(std::move(model)),
      config_(std::move(config)),
      stop_token_ids_(std::move(stop_token_ids)),
      decode_(std::move(decode)) {
  config_.validate(FieldChecker("generate.", nullptr));
  for (const auto& parameter : model_->parameters()) parameters_ += parameter.numel();
}

std::vector<GeneratedSequence> Generator::generate(const std::vector<std::vector<std::int64_t>>& prompts,
                                                   const std::vector<std::int64_t>& prompt_indices) {
  const auto call_start = Clock::now();
  stats_ = GenerationStats{};
  if (!prompt_indices.empty() && prompt_indices.size() != prompts.size()) {
    throw std::invalid_argument("Generator::generate: prompt_indices must be empty or one per prompt");
  }
  const std::int64_t vocab = model_->config().vocab_size;
  std::vector<std::vector<std::int64_t>> truncated(prompts.size());
  std::vector<std::int64_t> indices(prompts.size());
  for (std::size_t position = 0; position < prompts.size(); ++position) {
    const auto& prompt = prompts[position];
    indices[position] = prompt_indices.empty() ? static_cast<std::int64_t>(position) : prompt_indices[position];
    if (prompt.empty()) throw InputError("prompt " + std::to_string(indices[position]) + ": no tokens");
    for (const auto id : prompt) {
      if (id < 0 || id >= vocab) {
        throw InputError("prompt " + std::to_string(indices[position]) + ": token id " + std::to_string(id) +
                         " outside the vocabulary [0, " + std::to_string(vocab) + ")");
      }
    }
    const auto keep = std::min<std::size_t>(prompt.size(), static_cast<std::size_t>(config_.max_prompt_length));
    truncated[position].assign(prompt.end() - static_cast<std::ptrdiff_t>(keep), prompt.end());
  }

  std::vector<WorkItem> work;
  for (std::size_t position = 0; position < prompts.size(); ++position) {
    for (std::int64_t sample = 0; sample < config_.num_samples; ++sample) work.push_back({position, sample});
  }
  // Longest first: similar lengths share a batch, and a too-long batch fails at the start.
  std::stable_sort(work.begin(), work.end(), [&](const WorkItem& a, const WorkItem& b) {
    return truncated[a.prompt_position].size() > truncated[b.prompt_position].size();
  });

  std::vector<GeneratedSequence> results(work.size());
  std::vector<std::int64_t> samples_left(prompts.size(), config_.num_samples);
  GenerationProgress progress;
  progress.prompts_total = static_cast<std::int64_t>(prompts.size());
  progress.sequences_total = static_cast<std::int64_t>(work.size());

  c10::InferenceMode inference_mode;
  const auto batch_size = static_cast<std::size_t>(config_.batch_size);
  for (std::size_t begin = 0; begin < work.size(); begin += batch_size) {
    const std::vector<WorkItem> batch(work.begin() + static_cast<std::ptrdiff_t>(begin),
                                      work.begin() + static_cast<std::ptrdiff_t>(std::min(begin + batch_size, work.size())));
    generate_batch(truncated, indices, batch, results);
    for (const auto& item : batch) {
      const auto& sequence = results[item.prompt_position * static_cast<std::size_t>(config_.num_samples) +
                                     static_cast<std::size_t>(item.sample_index)];
      progress.tokens_generated += static_cast<std::int64_t>(sequence.token_ids.size());
      if (--samples_left[item.prompt_position] == 0) ++progress.prompts_done;
    }
    progress.sequences_done += static_cast<std::int64_t>(batch.size());
    progress.elapsed_seconds = seconds_between(call_start, Clock::now());
    if (progress_) progress_(progress);
  }
  stats_.generated_tokens = progress.tokens_generated;
  stats_.total_seconds = seconds_between(call_start, Clock::now());
  return results;
}

void Generator::generate_batch(const std::vector<std::vector<std::int64_t>>& prompts,
                               const std::vector<std::int64_t>& prompt_indices, const std::vector<WorkItem>& batch,
                               std::vector<GeneratedSequence>& results) {
  const auto batch_start = Clock::now();
  const auto rows = static_cast<std::int64_t>(batch.size());
  const std::int64_t max_new = config_.max_new_tokens;
  std::int64_t prompt_width = 0;
  for (const auto& item : batch) {
    prompt_width = std::max(prompt_width, static_cast<std::int64_t>(prompts[item.prompt_position].size()));
  }
  const std::int64_t capacity = prompt_width + max_new;

  torch::Tensor host_ids, host_mask;
  left_pad_prompts(prompts, batch, prompt_width, capacity, host_ids, host_mask);
  const auto device = model_->device();
  const auto input_ids = host_ids.to(device);
  auto full_mask = host_mask.to(device);  // (B, capacity); column P + s is set when step s is fed
  KVCache cache = model_->make_kv_cache(rows, capacity);

  // Only the last prompt position's logits are needed: project that one, not all P.
  const auto hidden = model_->model->forward(input_ids, full_mask.narrow(1, 0, prompt_width), torch::Tensor(), &cache);
  auto logits = model_->logits_from_hidden(hidden.select(1, prompt_width - 1));  // (B, V)

  const SamplerSettings settings{config_.temperature, config_.top_k, config_.top_p};
  const bool sampling = config_.temperature > 0.0;
  const bool check_stop_strings = decode_ && !config_.stop.empty();
  std::vector<GeneratedSequence> sequences(batch.size());
  for (std::size_t row = 0; row < batch.size(); ++row) {
    sequences[row].prompt_index = prompt_indices[batch[row].prompt_position];
    sequences[row].sample_index = batch[row].sample_index;
    sequences[row].prompt_tokens = static_cast<std::int64_t>(prompts[batch[row].prompt_position].size());
    sequences[row].token_ids.reserve(static_cast<std::size_t>(max_new));
    sequences[row].token_logprobs.reserve(static_cast<std::size_t>(max_new));
  }
  // The tensors' rows are slots; slot_rows[slot] is the batch row (sequence) a slot decodes.
  // Finished rows stay in their slots, fed a pad that their mask hides, until enough of them
  // have finished to make compacting the cache worth its copy; then only live rows remain.
  std::vector<std::size_t> slot_rows(batch.size());
  std::iota(slot_rows.begin(), slot_rows.end(), std::size_t{0});
  std::vector<bool> slot_alive(batch.size(), true);

  // A decode step of a small model is a few hundred ops of microseconds each, where joining
  // a second thread per op costs more than it saves (measured: a 0.9M-parameter model decodes
  // one sequence 10-15% faster on one thread, a 34M one 1.6x faster on two). Steps below this
  // many multiply-adds run on one thread; the prefill above keeps every thread.
  constexpr std::int64_t kParallelStepMultiplyAdds = 8'000'000;
  const SingleThreadScope single_thread(parameters_ * rows < kParallelStepMultiplyAdds);

  auto decode_start = Clock::now();
  for (std::int64_t step = 0; step < max_new; ++step) {
    const torch::Tensor uniforms = sampling ? step_uniforms(sequences, slot_rows, step) : torch::Tensor();
    const auto next_tokens = sample_next_tokens(logits, uniforms, settings);  // (slots) on device
    const auto next_logprobs =
        torch::log_softmax(logits.to(torch::kFloat), -1).gather(1, next_tokens.unsqueeze(1)).squeeze(1);  // (slots)
    const auto host_tokens = next_tokens.to(torch::kCPU);
    const auto host_logprobs = next_logprobs.to(torch::kCPU);
    if (step == 0) {
      decode_start = Clock::now();
      stats_.prefill_seconds += seconds_between(batch_start, decode_start);
    }
    const std::int64_t alive_count = append_step_tokens(host_tokens.data_ptr<std::int64_t>(),
                                                        host_logprobs.data_ptr<float>(), check_stop_strings,
                                                        slot_rows, sequences, slot_alive);
    if (alive_count == 0) break;

    auto feed = next_tokens;
    const auto slots = static_cast<std::int64_t>(slot_rows.size());
    if (alive_count * 4 <= slots * 3) {
      // A quarter or more of the slots are finished: keep only the live ones.
      std::vector<std::int64_t> keep;
      std::vector<std::size_t> kept_rows;
      for (std::int64_t slot = 0; slot < slots; ++slot) {
        if (!slot_alive[static_cast<std::size_t>(slot)]) continue;
        keep.push_back(slot);
        kept_rows.push_back(slot_rows[static_cast<std::size_t>(slot)]);
      }
      const auto keep_on_device = torch::tensor(keep, torch::kLong).to(device);
      cache.select_rows(keep_on_device);
      full_mask = full_mask.index_select(0, keep_on_device);
      feed = feed.index_select(0, keep_on_device);
      slot_rows = std::move(kept_rows);
      slot_alive.assign(slot_rows.size(), true);
    }
    // Column P + step holds the token fed now: real for live slots, hidden (and fed a pad) for
    // finished ones.
    const std::int64_t column = prompt_width + step;
    if (alive_count == static_cast<std::int64_t>(slot_rows.size())) {
      full_mask.select(1, column).fill_(1);
    } else {
      auto host_alive = torch::empty({static_cast<std::int64_t>(slot_rows.size())}, torch::kLong);
      std::copy(slot_alive.begin(), slot_alive.end(), host_alive.data_ptr<std::int64_t>());
      const auto alive_on_device = host_alive.to(device);
      feed = feed.masked_fill(alive_on_device.eq(0), kPadFeedId);
      full_mask.select(1, column).copy_(alive_on_device);
    }
    logits = model_->forward(feed.unsqueeze(1), full_mask.narrow(1, 0, column + 1), torch::Tensor(), &cache).squeeze(1);
    ++stats_.decode_steps;
  }

  store_sequences(batch, sequences, results);
  stats_.decode_seconds += seconds_between(decode_start, Clock::now());
  stats_.batches += 1;
  stats_.sequences += rows;
}

void Generator::left_pad_prompts(const std::vector<std::vector<std::int64_t>>& prompts,
                                 const std::vector<WorkItem>& batch, std::int64_t prompt_width, std::int64_t capacity,
                                 torch::Tensor& host_ids, torch::Tensor& host_mask) {
  const auto rows = static_cast<std::int64_t>(batch.size());
  // Left padding: the prompt ends at column prompt_width - 1 in every row, so the next token of
  // every row is read from the same position and written to the same cache slot.
  host_ids = torch::full({rows, prompt_width}, kPadFeedId, torch::kLong);
  host_mask = torch::zeros({rows, capacity}, torch::kLong);
  auto ids_access = host_ids.accessor<std::int64_t, 2>();
  auto mask_access = host_mask.accessor<std::int64_t, 2>();
  for (std::int64_t row = 0; row < rows; ++row) {
    const auto& prompt = prompts[batch[static_cast<std::size_t>(row)].prompt_position];
    const auto offset = prompt_width - static_cast<std::int64_t>(prompt.size());
    for (std::size_t i = 0; i < prompt.size(); ++i) {
      ids_access[row][offset + static_cast<std::int64_t>(i)] = prompt[i];
      mask_access[row][offset + static_cast<std::int64_t>(i)] = 1;
    }
    stats_.prompt_tokens += static_cast<std::int64_t>(prompt.size());
  }
}

torch::Tensor Generator::step_uniforms(const std::vector<GeneratedSequence>& sequences,
                                      const std::vector<std::size_t>& slot_rows, std::int64_t step) const {
  auto uniforms = torch::empty({static_cast<std::int64_t>(slot_rows.size())}, torch::kDouble);
  double* uniform = uniforms.data_ptr<double>();
  for (std::size_t slot = 0; slot < slot_rows.size(); ++slot) {
    const auto& sequence = sequences[slot_rows[slot]];
    uniform[slot] = counter_uniform(static_cast<std::uint64_t>(config_.seed),
                                    static_cast<std::uint64_t>(sequence.prompt_index),
                                    static_cast<std::uint64_t>(sequence.sample_index), static_cast<std::uint64_t>(step));
  }
  return uniforms;
}

std::int64_t Generator::append_step_tokens(const std::int64_t* chosen, const float* logprobs, bool check_stop_strings,
                                           const std::vector<std::size_t>& slot_rows,
                                           std::vector<GeneratedSequence>& sequences,
                                           std::vector<bool>& slot_alive) const {
  std::int64_t alive_count = 0;
  for (std::size_t slot = 0; slot < slot_rows.size(); ++slot) {
    if (!slot_alive[slot]) continue;
    auto& sequence = sequences[slot_rows[slot]];
    sequence.token_ids.push_back(chosen[slot]);
    sequence.token_logprobs.push_back(logprobs[slot]);
    if (std::find(stop_token_ids_.begin(), stop_token_ids_.end(), chosen[slot]) != stop_token_ids_.end()) {
      sequence.finish_reason = "eos";
    } else if (check_stop_strings) {
      const auto text = decode_(sequence.token_ids);
      for (const auto& stop_string : config_.stop) {
        if (text.find(stop_string) != std::string::npos) {
          sequence.finish_reason = "stop";
          sequence.stop_string = stop_string;
          break;
        }
      }
    }
    const auto generated = static_cast<std::int64_t>(sequence.token_ids.size());
    if (sequence.finish_reason.empty() && generated == config_.max_new_tokens) {
      sequence.finish_reason = "length";
    }
    slot_alive[slot] = sequence.finish_reason.empty();
    alive_count += slot_alive[slot] ? 1 : 0;
  }
  return alive_count;
}

void Generator::store_sequences(const std::vector<WorkItem>& batch, std::vector<GeneratedSequence>& sequences,
                                std::vector<GeneratedSequence>& results) const {
  for (std::size_t row = 0; row < batch.size(); ++row) {
    auto& sequence = sequences[row];
    sequence.logprob = 0.0;
    for (const double logprob : sequence.token_logprobs) sequence.logprob += logprob;
    const auto slot = batch[row].prompt_position * static_cast<std::size_t>(config_.num_samples) +
                      static_cast<std::size_t>(batch[row].sample_index);
    results[slot] = std::move(sequence);
  }
}

}  // namespace selm
