// Built-in tasks: a task prepares (and caches) everything a run needs from data on the machine,
// so that the quickstart downloads nothing.
//
// fortunes: the English, non-offensive fortune cookies of Debian's `fortunes` package
// (/usr/share/games/fortunes) become a training / held-out split, a SentencePiece tokenizer, a
// tiny Llama fine-tuned on the training fortunes (SFT), preference prompts (the first words of a
// training fortune) and held-out eval prompts. Every setting below except `name` and
// `cache_dir` decides what is prepared and so enters the cache key (src/tasks/task.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"
#include "selm/model/llama_config.hpp"

namespace selm {

struct TaskConfig {
  std::string name;                        // "" (none) or "fortunes"
  std::string cache_dir = "runs/cache";    // prepared data, tokenizer and SFT model, reused by later runs

  // Corpus.
  std::string fortunes_dir = "/usr/share/games/fortunes";  // strfile files; sub-folders (off/) are not read
  std::vector<std::string> exclude_files = {"ascii-art", "translate-me"};  // pictures and non-English text
  std::int64_t min_chars = 20;             // shorter cleaned fortunes are dropped
  std::int64_t max_chars = 120;            // longer cleaned fortunes are dropped (keeps responses ~20-40 tokens)
  double eval_fraction = 0.05;             // share of fortunes held out (SFT perplexity, eval prompts)
  std::int64_t prompt_words = 4;           // the prompt is a fortune's first words; the rest is its continuation
  std::int64_t eval_prompts = 200;         // held-out prompts written to eval_prompts.jsonl (at most)
  std::int64_t seed = 42;                  // split, rejected-continuation draw, model init and SFT shuffling

  // Tokenizer.
  std::int64_t vocab_size = 1024;          // SentencePiece pieces, including 256 byte pieces and 3 specials

  // Tiny Llama (Hugging Face names).
  std::int64_t hidden_size = 128;
  std::int64_t intermediate_size = 352;
  std::int64_t num_hidden_layers = 4;
  std::int64_t num_attention_heads = 4;
  std::int64_t num_key_value_heads = 4;
  std::int64_t max_position_embeddings = 512;

  // Supervised fine-tuning on the training fortunes ({"text"} records, loss on every token).
  std::int64_t sft_epochs = 2;
  std::int64_t sft_batch_size = 32;
  double sft_learning_rate = 3e-3;
  double sft_warmup_ratio = 0.05;
  std::int64_t sft_max_length = 64;        // tokens of one example (BOS + fortune + EOS), cut beyond
  bool sft_packing = true;                 // rows of sft_max_length hold several fortunes: no padding

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("name", name, "Built-in task that prepares data and the initial model: empty (none) or fortunes");
    v.field("cache_dir", cache_dir, "Folder of the task's prepared data, tokenizer and SFT model, reused by later runs");
    v.field("fortunes_dir", fortunes_dir,
            "Folder of fortune files in strfile format (entries separated by lines holding only %); only its own "
            "files are read, not sub-folders such as off/");
    v.field("exclude_files", exclude_files, "Fortune files (names in fortunes_dir) that are not read");
    v.field("min_chars", min_chars, "Cleaned fortunes shorter than this many characters are dropped");
    v.field("max_chars", max_chars, "Cleaned fortunes longer than this many characters are dropped");
    v.field("eval_fraction", eval_fraction, "Share of the fortunes held out for the SFT perplexity and the eval prompts");
    v.field("prompt_words", prompt_words, "Words of a fortune that make its prompt; the rest is the continuation");
    v.field("eval_prompts", eval_prompts, "Maximum number of held-out prompts written to eval_prompts.jsonl");
    v.field("seed", seed, "Seed of the split, the rejected-continuation draw, the model initialisation and SFT shuffling",
            field_role::run_identity);
    v.field("vocab_size", vocab_size, "SentencePiece vocabulary size of the task's tokenizer (256 byte pieces and 3 specials included)");
    v.field("hidden_size", hidden_size, "Width of the task's tiny Llama");
    v.field("intermediate_size", intermediate_size, "SwiGLU inner width of the task's tiny Llama");
    v.field("num_hidden_layers", num_hidden_layers, "Decoder blocks of the task's tiny Llama");
    v.field("num_attention_heads", num_attention_heads, "Query heads of the task's tiny Llama");
    v.field("num_key_value_heads", num_key_value_heads, "Key/value heads of the task's tiny Llama");
    v.field("max_position_embeddings", max_position_embeddings, "Longest sequence the task's tiny Llama is meant for");
    v.field("sft_epochs", sft_epochs, "Passes of supervised fine-tuning over the training fortunes");
    v.field("sft_batch_size", sft_batch_size, "Fortunes per SFT optimiser step");
    v.field("sft_learning_rate", sft_learning_rate, "Peak learning rate of SFT (cosine schedule after warmup)");
    v.field("sft_warmup_ratio", sft_warmup_ratio, "Fraction of the SFT steps spent warming up");
    v.field("sft_max_length", sft_max_length, "Tokens of one SFT example (BOS + fortune + EOS); longer ones are cut");
    v.field("sft_packing", sft_packing,
            "Pack whole fortunes into rows of sft_max_length tokens instead of padding each one (fewer, fuller steps: about 1.4x faster)");
  }
  void validate(const FieldChecker& check) const;

  // The tiny Llama these settings describe, before its vocabulary and special ids are fitted to
  // the task's tokenizer (vocab_size 0: the tokenizer's).
  LlamaConfig model_architecture() const;
};

}  // namespace selm
