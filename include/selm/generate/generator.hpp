// Batched generation with a Llama-family model and its KV cache.
//
// Work list: every prompt repeated num_samples times, sorted by (truncated) prompt length so
// that a batch holds prompts of similar length. Per batch of at most batch_size sequences:
// left-pad the prompts, prefill once, then decode one token per step for the whole batch. A
// sequence that finishes keeps occupying its row, fed a pad whose mask column is 0, until the
// batch ends (when every row has finished or max_new_tokens is reached).
//
// Per step only the B chosen token ids come back to the host (EOS and stop-string checks);
// uniforms (B doubles) and the alive flags (B bools) go to the device; the logprobs of the chosen
// tokens stay on the device until the batch ends.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "selm/generate/sampling_config.hpp"
#include "selm/model/llama.hpp"

namespace selm {

struct GeneratedSequence {
  std::int64_t prompt_index = 0;        // the prompt's index (as given to generate)
  std::int64_t sample_index = 0;        // 0 .. num_samples - 1
  std::int64_t prompt_tokens = 0;       // prompt length after left truncation to max_prompt_length
  std::vector<std::int64_t> token_ids;  // generated ids; the last is the stop token when finish_reason == "eos"
  // "eos": the last id is one of the stop token ids (kept in token_ids);
  // "stop": the decoded text of token_ids contains `stop_string`; token_ids is the shortest prefix
  //         whose decoded text contains it (the stop string's tokens are kept: cutting the text
  //         before the stop string is the caller's job);
  // "length": max_new_tokens reached.
  std::string finish_reason;
  std::string stop_string;              // the stop string found when finish_reason == "stop"
  double logprob = 0.0;                 // sum of token_logprobs
  // log softmax(raw logits) of each returned id: temperature 1, before top-k/top-p, under the
  // generating model (what a full forward over prompt + token_ids gives, up to rounding).
  std::vector<double> token_logprobs;
};

// Counters of one generate call (cumulative over its batches).
struct GenerationStats {
  std::int64_t batches = 0;
  std::int64_t sequences = 0;
  std::int64_t prompt_tokens = 0;       // real (unpadded) prompt tokens prefilled
  std::int64_t generated_tokens = 0;    // tokens returned (sum of token_ids sizes)
  std::int64_t decode_steps = 0;        // forward passes of one token per row (all batches)
  double prefill_seconds = 0.0;         // prompt forward + first token choice, to its host copy
  double decode_seconds = 0.0;          // the remaining steps
  double total_seconds = 0.0;           // whole call (prefill + decode + host bookkeeping)
};

// Passed to the progress callback after each finished batch.
struct GenerationProgress {
  std::int64_t prompts_done = 0;        // prompts whose num_samples sequences are all finished
  std::int64_t prompts_total = 0;
  std::int64_t sequences_done = 0;
  std::int64_t sequences_total = 0;
  std::int64_t tokens_generated = 0;    // so far in this call
  double elapsed_seconds = 0.0;         // since the call began
};

class Generator {
 public:
  using DecodeFunction = std::function<std::string(const std::vector<std::int64_t>&)>;
  using ProgressCallback = std::function<void(const GenerationProgress&)>;

  // `config` is validated (InputError naming generate.KEY). `stop_token_ids`: EOS and
  // end-of-turn ids; a sequence ends right after emitting one. `decode` (optional) turns
  // generated ids into text, needed only when config.stop is not empty (stop strings are
  // ignored without it). The model is used as it is (device, dtype); it is not modified.
  Generator(LlamaForCausalLM model, SamplingConfig config, std::vector<std::int64_t> stop_token_ids,
            DecodeFunction decode = nullptr);

  void set_progress_callback(ProgressCallback callback) { progress_ = std::move(callback); }

  // prompts: token ids with BOS, each non-empty (InputError otherwise). prompt_indices: the
  // index of each prompt in the whole dataset (it seeds the randomness, so that a shard or a
  // resumed run draws the same samples); empty means 0 .. prompts.size() - 1.
  // Returns prompts.size() * num_samples sequences ordered by (prompt position, sample index).
  std::vector<GeneratedSequence> generate(const std::vector<std::vector<std::int64_t>>& prompts,
                                          const std::vector<std::int64_t>& prompt_indices = {});

  // Counters of the last generate call.
  const GenerationStats& stats() const { return stats_; }
  const SamplingConfig& config() const { return config_; }

 private:
  struct WorkItem {
    std::size_t prompt_position = 0;  // index into the prompts vector
    std::int64_t sample_index = 0;
  };

  void generate_batch(const std::vector<std::vector<std::int64_t>>& prompts,
                      const std::vector<std::int64_t>& prompt_indices, const std::vector<WorkItem>& batch,
                      std::vector<GeneratedSequence>& results);
  // The batch's prompts left-padded to prompt_width: ids (B, prompt_width) and the attention
  // mask (B, capacity) with the prompt columns set, both on the CPU.
  void left_pad_prompts(const std::vector<std::vector<std::int64_t>>& prompts, const std::vector<WorkItem>& batch,
                        std::int64_t prompt_width, std::int64_t capacity, torch::Tensor& host_ids,
                        torch::Tensor& host_mask);
  // The counter-based uniform draw of decoding step `step` for the sequence of each slot:
  // (slots) double.
  torch::Tensor step_uniforms(const std::vector<GeneratedSequence>& sequences,
                              const std::vector<std::size_t>& slot_rows, std::int64_t step) const;
  // Appends step's chosen ids and their log-probs (one per slot, on the host) to the sequences
  // of the live slots and ends those that emitted a stop id, a stop string or their last token;
  // returns how many slots are still alive.
  std::int64_t append_step_tokens(const std::int64_t* chosen, const float* logprobs, bool check_stop_strings,
                                  const std::vector<std::size_t>& slot_rows, std::vector<GeneratedSequence>& sequences,
                                  std::vector<bool>& slot_alive) const;
  // Sums each sequence's log-probs and moves it into its slot of `results`.
  void store_sequences(const std::vector<WorkItem>& batch, std::vector<GeneratedSequence>& sequences,
                       std::vector<GeneratedSequence>& results) const;

  LlamaForCausalLM model_;
  SamplingConfig config_;
  std::vector<std::int64_t> stop_token_ids_;
  DecodeFunction decode_;
  std::int64_t parameters_ = 0;  // the model's, for sizing a decode step's work
  ProgressCallback progress_;
  GenerationStats stats_;
};

}  // namespace selm
