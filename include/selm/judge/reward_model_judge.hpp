// The reward-model judge: a scalar-head Llama (Hugging Face LlamaForSequenceClassification, one
// label) scores each prompt + response; candidates are ranked by score, ties sharing a rank.
//
// Input of one candidate, as the policy sees it during training (DESIGN.md "Tokenisation"):
//   prompt ids   = the chat template of one user message with the generation prompt (+ BOS)
//   response ids = encode(response) + end-of-turn id
// cut to max_length by reward_model_input_ids. Candidates of a whole batch of requests are
// scored together, longest first, batch_size per forward pass with left padding; identical
// token sequences are scored once, so identical candidates always tie.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "selm/judge/judge.hpp"
#include "selm/judge/judge_config.hpp"

namespace selm {

// prompt_ids + response_ids cut to at most `max_length` tokens. The prompt loses tokens from
// its start, keeping its first token when that is `bos_id` (pass -1 for none); a response that
// alone exceeds the room left keeps its first tokens (and loses its end-of-turn id).
std::vector<std::int64_t> reward_model_input_ids(const std::vector<std::int64_t>& prompt_ids,
                                                 const std::vector<std::int64_t>& response_ids,
                                                 std::int64_t max_length, std::int64_t bos_id);

class RewardModelJudge : public Judge {
 public:
  // Loads the model, tokenizer and chat template of config.path. Bad input is an InputError
  // naming the key (judge.reward_model.path, .device, .dtype, .chat_template) or the file.
  explicit RewardModelJudge(const RewardModelJudgeConfig& config);
  ~RewardModelJudge() override;

  // "reward_model:<directory name>".
  std::string id() const override { return id_; }
  // Over the model's content (config.json, the weight files' headers, sizes and sampled bytes),
  // the tokenizer files, the resolved chat template, max_length and dtype; not over the path,
  // so a copied model keeps its cache.
  std::string config_hash() const override { return config_hash_; }

  // The token ids scored for `response` to `prompt`.
  std::vector<std::int64_t> input_ids(const std::string& prompt, const std::string& response) const;
  // Scores of `responses` to `prompt` (higher = better), from the float32 head output.
  std::vector<double> score(const std::string& prompt, const std::vector<std::string>& responses);

 protected:
  std::vector<Judgment> rank_batch(const std::vector<JudgeRequest>& batch) override;

 private:
  struct Backend;  // model, tokenizer and formatter (keeps LibTorch out of this header)

  // One score per sequence, in order; batch_size sequences per forward pass.
  std::vector<double> score_sequences(const std::vector<std::vector<std::int64_t>>& sequences);

  RewardModelJudgeConfig config_;
  std::unique_ptr<Backend> backend_;
  std::string id_;
  std::string config_hash_;
};

}  // namespace selm
