// Hyper-parameters of a Llama-family decoder: the fields of a Hugging Face `config.json` for
// LlamaForCausalLM / MistralForCausalLM, under the same names. They are saved with the weights;
// run-time options (device, sampling, training) live elsewhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "selm/config/field_checker.hpp"

namespace selm {

struct LlamaConfig {
  std::string model_type = "llama";         // "llama" or "mistral" (written to config.json)
  std::int64_t vocab_size = 0;              // 0 = take it from the tokenizer (selm init)
  std::int64_t hidden_size = 256;           // model width C
  std::int64_t intermediate_size = 688;     // SwiGLU inner width
  std::int64_t num_hidden_layers = 4;       // decoder blocks
  std::int64_t num_attention_heads = 4;     // query heads H
  std::int64_t num_key_value_heads = 4;     // key/value heads (grouped-query attention when < H)
  std::int64_t head_dim = 0;                // 0 = hidden_size / num_attention_heads
  std::int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;         // lm_head shares embed_tokens' weight
  std::int64_t sliding_window = 0;          // Mistral's attention window; 0 = full attention
  double initializer_range = 0.02;          // std of the random init (selm init)
  std::int64_t bos_token_id = 1;
  std::int64_t eos_token_id = 2;
  std::optional<std::int64_t> pad_token_id;  // unset in most Llama checkpoints
  std::string torch_dtype = "float32";      // dtype of the stored weights

  std::int64_t resolved_head_dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("model_type", model_type, "Architecture family: llama or mistral");
    v.field("vocab_size", vocab_size, "Vocabulary size; 0 takes it from the tokenizer");
    v.field("hidden_size", hidden_size, "Model width");
    v.field("intermediate_size", intermediate_size, "Inner width of the SwiGLU MLP");
    v.field("num_hidden_layers", num_hidden_layers, "Number of decoder blocks");
    v.field("num_attention_heads", num_attention_heads, "Number of query heads");
    v.field("num_key_value_heads", num_key_value_heads, "Number of key/value heads (grouped-query attention when fewer than query heads)");
    v.field("head_dim", head_dim, "Per-head width; 0 means hidden_size / num_attention_heads");
    v.field("max_position_embeddings", max_position_embeddings, "Longest sequence the model is meant for");
    v.field("rms_norm_eps", rms_norm_eps, "Epsilon of RMSNorm");
    v.field("rope_theta", rope_theta, "Base of the rotary position embedding frequencies");
    v.field("tie_word_embeddings", tie_word_embeddings, "Share the LM head with the token embedding");
    v.field("sliding_window", sliding_window, "Attention window in tokens (Mistral); 0 means full causal attention");
    v.field("initializer_range", initializer_range, "Standard deviation of the random initialisation");
    v.field("bos_token_id", bos_token_id, "Beginning-of-sequence token id");
    v.field("eos_token_id", eos_token_id, "End-of-sequence token id");
    v.field("pad_token_id", pad_token_id, "Padding token id (null when the checkpoint has none)");
    v.field("torch_dtype", torch_dtype, "Dtype of the stored weights: float32, bfloat16 or float16");
  }

  // Throws InputError naming the key for inconsistent values (heads not dividing the width, ...).
  void validate(const FieldChecker& check) const;
};

// Hugging Face config.json <-> LlamaConfig. `source` names the file in error messages.
// Unsupported features (rope_scaling, attention_bias, non-silu activations) are InputErrors.
LlamaConfig llama_config_from_hf_json(const nlohmann::json& json, const std::string& source);
nlohmann::json llama_config_to_hf_json(const LlamaConfig& config);

// The text of a Hugging Face JSON file (config.json, generation_config.json, ...) as JSON:
// InputError "SOURCE: invalid JSON at byte N", or naming the nesting when it is too deep.
nlohmann::json parse_hf_json_text(std::string_view text, const std::string& source);

// The end-of-sequence ids that eos_token_id of a config.json or generation_config.json names (a
// number or a list: Llama-3 lists <|end_of_text|> and <|eot_id|>), in order without repeats;
// none when the document is not an object or the key is absent or null. Any other value is an
// InputError "SOURCE: key 'eos_token_id': ...".
std::vector<std::int64_t> hf_end_token_ids(const nlohmann::json& json, const std::string& source);

}  // namespace selm
