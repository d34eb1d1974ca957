// Response log-probs of (prompt, response) token sequences under a causal language model, and
// the frozen reference's log-probs of preference records, computed once.
//
// Tokenisation and truncation (TrainConfig max_length / max_prompt_length):
//   - the prompt keeps its LAST min(max_prompt_length, max_length - 1) ids (left truncation),
//     so that at least one response token always fits;
//   - each response keeps its first max_length - |prompt| ids.
// y_ref uses its generated ids (reference_response_token_ids) when the record has them, else
// ChatFormatter::encode_response of its text.
//
// Batching: sequences are right-padded; row b holds prompt_b followed by response_b. The
// log-prob of the response token at position t is read from the logits at t - 1. Only the
// response positions are projected to the vocabulary, so no (B, T, V) tensor is materialised
// and no log_softmax copy of it is made either.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "selm/data/records.hpp"
#include "selm/model/llama.hpp"
#include "selm/parallel/parallel_context.hpp"
#include "selm/text/chat_format.hpp"

namespace selm {

// A preference record's token ids after truncation.
struct TokenizedPreference {
  std::vector<std::int64_t> prompt;
  std::vector<std::int64_t> chosen;
  std::vector<std::int64_t> rejected;
  std::vector<std::int64_t> reference_response;  // empty when the record has no y_ref
  bool reference_response_truncated = false;      // y_ref lost ids to max_length
};

// (prompt, response) truncated as described above. max_length >= 2 and max_prompt_length >= 1.
void truncate_prompt_response(std::vector<std::int64_t>& prompt, std::vector<std::int64_t>& response,
                              std::int64_t max_length, std::int64_t max_prompt_length);

TokenizedPreference tokenize_preference(const PreferenceRecord& record, const ChatFormatter& formatter,
                                        std::int64_t max_length, std::int64_t max_prompt_length);

struct PromptResponse {
  const std::vector<std::int64_t>* prompt = nullptr;    // not owned
  const std::vector<std::int64_t>* response = nullptr;  // not owned; at least one id
};

struct SequenceBatch {
  torch::Tensor input_ids;       // (B, T) int64, right-padded with pad_id
  torch::Tensor attention_mask;  // (B, T) int64, 1 on real tokens
  torch::Tensor response_mask;   // (B, T) bool, true where the token belongs to the response
};

// Right-padded batch of the given rows, on `device`.
SequenceBatch build_sequence_batch(const std::vector<PromptResponse>& rows, std::int64_t pad_id,
                                   const torch::Device& device = torch::kCPU);

struct SequenceLogps {
  torch::Tensor logps;         // (B) float32: summed (or averaged) response token log-probs
  torch::Tensor token_counts;  // (B) float32: response tokens per row
};

// Log-probs of the response tokens of each row of `batch`, which may be left- or right-padded
// (position ids follow the attention mask). A response token at position 0 has no prediction
// and is not counted. With `average`, logps = sum / token_counts. Differentiable unless called
// under a NoGradGuard.
SequenceLogps sequence_logps(LlamaForCausalLM& model, const SequenceBatch& batch, bool average = false);

// The rows of one forward pass over `examples`: all chosen, then all rejected, then (when
// `with_reference_response`) all y_ref, so one forward gives every log-prob of the loss.
std::vector<PromptResponse> preference_rows(const std::vector<const TokenizedPreference*>& examples,
                                            bool with_reference_response);

// Stores the reference model's log-probs of chosen, rejected and (when `with_reference_response`
// and the record has one) y_ref into every record's reference_logps, in batches of `batch_size`
// records under a NoGradGuard. Values already present are kept: a record that carries
// reference_logps is not recomputed, and `generation_y_ref_logps[i]`, when given and set, is
// used as ref(y_ref) of record i. That is how a log-prob recorded at generation time is reused:
// `selm generate` writes the summed log-prob of its token ids as "logprob"; a preference record
// may carry it as "reference_response_logprob" (read by read_generation_y_ref_logps), valid when
// the generating model is the round's reference and y_ref was not truncated; with
// `average` it is divided by the y_ref token count. `examples[i]` is records[i] tokenised.
// The ranks of a job (`parallel`) each score a share of the batches, and all get every value.
void compute_reference_logps(LlamaForCausalLM& reference_model, std::vector<PreferenceRecord>& records,
                             const std::vector<TokenizedPreference>& examples, std::int64_t batch_size,
                             std::int64_t pad_id, bool average, bool with_reference_response,
                             const std::vector<std::optional<double>>& generation_y_ref_logps = {},
                             const ParallelContext& parallel = {});

// Preference records of a JSONL file (read_preference_file's validation and errors) together
// with each record's optional "reference_response_logprob" (a number; InputError
// "FILE:LINE: key 'reference_response_logprob': ..." otherwise).
struct PreferenceFile {
  std::vector<PreferenceRecord> records;
  std::vector<std::optional<double>> generation_y_ref_logps;
};
PreferenceFile read_preference_file_with_generation_logps(const fs::path& path);

}  // namespace selm
