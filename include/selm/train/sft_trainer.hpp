// Supervised fine-tuning: SFT records -> token examples with a loss mask -> padded or packed
// batches -> mean token NLL over the masked tokens, trained with run_training_loop.
//
// Examples (DESIGN.md "Tokenisation"):
//   prompt/response and messages records: ids = encode_prompt(prompt) (BOS and chat template)
//     + encode_response(response) (ends with the end-of-turn id); loss on the response ids only.
//   text records: ids = [BOS] + encode(text) + [EOS]; loss on every id after BOS.
// Truncation to train.max_length: the prompt is cut from the left to train.max_prompt_length
//   (its BOS is kept), then the response is cut from the right so that the whole fits; text
//   examples keep their first max_length ids.
//
// Batching:
//   padding: one example per row, right-padded to the longest row of the micro-batch.
//   packing: whole examples are concatenated, in file order, into rows of at most max_length
//     ids (an example that does not fit starts a new row; none is split). As in common
//     pretraining practice, attention is NOT blocked at example boundaries and positions run on
//     through the row; no loss is taken on predicting an example's first id from the previous
//     example. The training loop's "examples" are then the packed rows.
//
// Loss of a micro-batch: mean over its loss tokens of -log p(token | preceding ids). The
// training loop weights micro-batches by rows, so with accumulation or a short last batch the
// step loss is the row-weighted mean of the micro-batch means.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "selm/data/records.hpp"
#include "selm/model/llama.hpp"
#include "selm/text/chat_format.hpp"
#include "selm/train/training_loop.hpp"

namespace selm {

// Label of a position that contributes no loss (PyTorch's cross-entropy convention).
inline constexpr std::int64_t kIgnoreLabel = -100;

// One tokenised training example.
struct SftExample {
  std::vector<std::int64_t> input_ids;  // prompt + response, or BOS + text + EOS
  std::vector<std::uint8_t> loss_mask;  // per id of input_ids: 1 = trained to predict this id
  std::size_t line = 0;                 // source line, for messages
};

// The example of one record, truncated as described above. `max_length` > `max_prompt_length`
// >= 1. The tokenizer is the formatter's.
SftExample make_sft_example(const SftRecord& record, const ChatFormatter& formatter, std::int64_t max_length,
                            std::int64_t max_prompt_length);

// make_sft_example over a file's records.
std::vector<SftExample> make_sft_examples(const std::vector<SftRecord>& records, const ChatFormatter& formatter,
                                          std::int64_t max_length, std::int64_t max_prompt_length);

// Packs whole examples, in order, into rows of at most `row_length` ids (see above). Each row's
// loss mask is the concatenation of its examples' masks with the first id of every example off.
std::vector<SftExample> pack_sft_examples(const std::vector<SftExample>& examples, std::int64_t row_length);

struct SftBatch {
  torch::Tensor input_ids;       // (B, T) int64, right-padded with the pad id
  torch::Tensor attention_mask;  // (B, T) int64: 1 real, 0 pad
  torch::Tensor labels;          // (B, T) int64: the id that position t predicts (input_ids[t + 1]) when
                                 // loss_mask[t + 1] is on, else kIgnoreLabel (also the last position and pads)
  std::int64_t num_tokens = 0;       // real ids in the batch
  std::int64_t num_loss_tokens = 0;  // labels other than kIgnoreLabel
};

// Right-pads `examples` (at least one) into a batch as wide as the longest.
SftBatch collate_sft_batch(const std::vector<const SftExample*>& examples, std::int64_t pad_id);

struct SftLoss {
  torch::Tensor mean_nll;  // () mean NLL over the loss tokens, differentiable (0 when there are none)
  torch::Tensor sum_nll;   // () summed NLL over the loss tokens
  std::int64_t num_loss_tokens = 0;
};

// One forward pass of `model` over the batch. Only the positions that carry a label go through
// the output projection, so no (B, T, V) logits tensor is ever built.
SftLoss sft_loss(LlamaForCausalLM& model, const SftBatch& batch);

struct SftEvaluation {
  double mean_nll = 0;    // summed NLL / loss tokens over the whole set
  double perplexity = 0;  // exp(mean_nll)
  std::int64_t num_loss_tokens = 0;
  std::int64_t num_examples = 0;
};

// Token-weighted NLL and perplexity of `model` on `examples` (padded batches of `batch_size`,
// no gradients).
SftEvaluation evaluate_sft(LlamaForCausalLM& model, const std::vector<SftExample>& examples, std::int64_t batch_size,
                           std::int64_t pad_id);

// Trains `model` on `examples` with run_training_loop: the rows are the examples (padding) or
// pack_sft_examples(examples, config.max_length) (packing). `options.num_examples` is set here.
// Step metrics: loss (mean token NLL), perplexity (its exp) and tokens (loss tokens).
TrainingResult train_sft(LlamaForCausalLM& model, const std::vector<SftExample>& examples, const TrainConfig& config,
                         bool packing, std::int64_t pad_id, TrainingLoopOptions options);

// The id used to pad batches: the tokenizer's pad id, else EOS, else 0 (padding is masked).
std::int64_t sft_pad_id(const Tokenizer& tokenizer);

}  // namespace selm
