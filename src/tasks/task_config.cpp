#include "selm/tasks/task_config.hpp"

namespace selm {

void TaskConfig::validate(const FieldChecker& check) const {
  check.require(name.empty() || name == "fortunes", "name", "unknown task '" + name + "' (known: fortunes)");
  check.require(!cache_dir.empty(), "cache_dir", "must not be empty");
  check.require(!fortunes_dir.empty(), "fortunes_dir", "must not be empty");
  check.require(min_chars >= 1, "min_chars", "must be at least 1");
  check.require(max_chars >= min_chars, "max_chars", "must be at least min_chars");
  check.require(eval_fraction > 0.0 && eval_fraction < 1.0, "eval_fraction", "must be in (0, 1)");
  check.require(prompt_words >= 1, "prompt_words", "must be at least 1");
  check.require(eval_prompts >= 1, "eval_prompts", "must be at least 1");
  check.require(seed >= 0, "seed", "must not be negative");
  // 256 byte pieces and <unk>, <s>, </s> are always there; fewer than ~40 learned pieces would
  // make every word several tokens long.
  check.require(vocab_size >= 300, "vocab_size", "must be at least 300 (256 byte pieces + 3 specials + learned pieces)");
  check.require(hidden_size >= 1, "hidden_size", "must be positive");
  check.require(intermediate_size >= 1, "intermediate_size", "must be positive");
  check.require(num_hidden_layers >= 1, "num_hidden_layers", "must be positive");
  check.require(num_attention_heads >= 1 && hidden_size % num_attention_heads == 0, "num_attention_heads",
                "must be positive and divide hidden_size");
  check.require(num_key_value_heads >= 1 && num_attention_heads % num_key_value_heads == 0, "num_key_value_heads",
                "must be positive and divide num_attention_heads");
  check.require(max_position_embeddings >= sft_max_length, "max_position_embeddings", "must be at least sft_max_length");
  check.require(sft_epochs >= 1, "sft_epochs", "must be at least 1");
  check.require(sft_batch_size >= 1, "sft_batch_size", "must be at least 1");
  check.require(sft_learning_rate > 0.0, "sft_learning_rate", "must be positive");
  check.require(sft_warmup_ratio >= 0.0 && sft_warmup_ratio < 1.0, "sft_warmup_ratio", "must be in [0, 1)");
  check.require(sft_max_length >= 8, "sft_max_length", "must be at least 8");
}

LlamaConfig TaskConfig::model_architecture() const {
  LlamaConfig architecture;
  architecture.hidden_size = hidden_size;
  architecture.intermediate_size = intermediate_size;
  architecture.num_hidden_layers = num_hidden_layers;
  architecture.num_attention_heads = num_attention_heads;
  architecture.num_key_value_heads = num_key_value_heads;
  architecture.max_position_embeddings = max_position_embeddings;
  return architecture;
}

}  // namespace selm
