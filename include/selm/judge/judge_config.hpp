// Run-time options of the judges that rank candidate responses (`judge:` section).
//
// One sub-section per judge type; only the one named by `type` is used. Settings that change
// what a judge decides (model, prompt template, target, ...) enter its config hash and hence
// the cache key; settings that only change how it runs (timeouts, concurrency, retries) do not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "selm/config/enum_names.hpp"
#include "selm/config/field_checker.hpp"
#include "selm/config/fields.hpp"
#include "selm/model/placement_spec.hpp"

namespace selm {

enum class JudgeType { lexicon, http, command, reward_model };

template <>
struct EnumNames<JudgeType> {
  static constexpr EnumName<JudgeType> entries[] = {{JudgeType::lexicon, "lexicon"},
                                                     {JudgeType::http, "http"},
                                                     {JudgeType::command, "command"},
                                                     {JudgeType::reward_model, "reward_model"}};
  static constexpr const char* noun = "judge type";
};

// Which sentiment the lexicon judge prefers.
enum class SentimentTarget { positive, negative };

template <>
struct EnumNames<SentimentTarget> {
  static constexpr EnumName<SentimentTarget> entries[] = {{SentimentTarget::positive, "positive"},
                                                           {SentimentTarget::negative, "negative"}};
};

// The built-in sentiment judge (VADER lexicon).
struct LexiconJudgeConfig {
  std::string lexicon_path;             // VADER-format lexicon; empty = third_party/vader/vader_lexicon.txt
  SentimentTarget target = SentimentTarget::positive;  // positive: happier responses win; negative: gloomier ones
  bool negation = true;                 // a negator among the 3 previous tokens flips and damps a word
  bool intensifiers = true;             // "very", "slightly", ... just before a word scale it

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("lexicon_path", lexicon_path, "VADER-format lexicon (TOKEN<TAB>MEAN<TAB>...); empty uses the vendored third_party/vader/vader_lexicon.txt");
    v.field("target", target, "Sentiment that wins: positive or negative");
    v.field("negation", negation, "Flip and damp a word's valence when a negator (not, never, ...n't) is among the 3 previous tokens");
    v.field("intensifiers", intensifiers, "Scale a word's valence when the previous token is a booster (very) or dampener (slightly)");
  }
};

// LLM-as-judge over an OpenAI-compatible /v1/chat/completions endpoint (vLLM, llama.cpp's
// server, OpenAI), asked pairwise in both orders.
struct HttpJudgeConfig {
  std::string base_url;                 // e.g. http://127.0.0.1:8000/v1; /chat/completions is appended
  std::string model;                    // model name sent in the request body
  std::string api_key_env;              // NAME of the environment variable holding the key; empty = no key
  double temperature = 0.0;             // sampling temperature of the judge model
  std::int64_t max_tokens = 8;          // the verdict is one letter; a little room for "A." and spaces
  double timeout_seconds = 60.0;        // connect, send and receive limit of one request
  std::int64_t max_concurrent = 4;      // requests in flight at once (threads)
  std::int64_t max_retries = 4;         // retries of one request on timeouts, 429, 5xx, lost connections
  double backoff_initial_seconds = 1.0; // first retry delay; doubles per retry, jittered
  double backoff_max_seconds = 30.0;    // cap of the exponential backoff (Retry-After is honoured as sent)
  std::int64_t max_response_bytes = 1 << 20;  // a longer body is cut off and the exchange fails
  std::string system_prompt = "You are a careful, impartial judge of response quality.";
  std::string prompt_template =
      "Which response answers the user's prompt better?\n\n"
      "[Prompt]\n{prompt}\n\n[Response A]\n{response_a}\n\n[Response B]\n{response_b}\n\n"
      "Reply with exactly one letter: A or B.";

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("base_url", base_url, "Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 (/chat/completions is appended)");
    v.field("model", model, "Model name sent with each request");
    v.field("api_key_env", api_key_env, "Name of the environment variable that holds the API key (never the key itself); empty sends no key");
    v.field("temperature", temperature, "Sampling temperature of the judge model");
    v.field("max_tokens", max_tokens, "Maximum tokens of the judge's reply");
    v.field("timeout_seconds", timeout_seconds, "Connect, send and receive timeout of one request, in seconds",
            field_role::speed);
    v.field("max_concurrent", max_concurrent, "Maximum number of requests in flight at once", field_role::speed);
    v.field("max_retries", max_retries, "Retries of one request after a timeout, lost connection, 429 or 5xx",
            field_role::speed);
    v.field("backoff_initial_seconds", backoff_initial_seconds, "Delay before the first retry; doubles per retry, with jitter",
            field_role::speed);
    v.field("backoff_max_seconds", backoff_max_seconds,
            "Upper bound of the exponential backoff (a server's Retry-After is honoured as sent)", field_role::speed);
    v.field("max_response_bytes", max_response_bytes,
            "Largest response body accepted; a longer one is cut off while it arrives and that request fails",
            field_role::speed);
    v.field("system_prompt", system_prompt, "System message of each request; empty sends none");
    v.field("prompt_template", prompt_template, "User message asking which of two responses is better: must contain {prompt}, {response_a} and {response_b}; the reply must be A or B");
  }
  void validate(const FieldChecker& check) const;
};

// A persistent subprocess speaking JSON lines (e.g. scripts/judges/pairrm_judge.py).
struct CommandJudgeConfig {
  std::vector<std::string> argv;        // program and arguments, started without a shell
  double timeout_seconds = 60.0;        // limit for one reply
  std::int64_t max_restarts = 3;        // restarts after crashes or timeouts, over the judge's life

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("argv", argv, "Program and arguments of the judge process, run without a shell");
    v.field("timeout_seconds", timeout_seconds, "Seconds to wait for one reply before the process is killed",
            field_role::speed);
    v.field("max_restarts", max_restarts, "Restarts allowed after the process crashes or times out", field_role::speed);
  }
  void validate(const FieldChecker& check) const;
};

// A scalar-head reward model (Hugging Face LlamaForSequenceClassification layout, one label)
// scoring each prompt + response; higher = better.
struct RewardModelJudgeConfig {
  std::string path;                     // Hugging Face model directory (config.json, weights, tokenizer.model)
  DeviceSpec device;                    // cpu, cuda or cuda:N
  ComputeDtype dtype = ComputeDtype::float32;  // half types need a GPU
  std::int64_t batch_size = 16;         // candidates scored per forward pass
  std::int64_t max_length = 1024;       // prompt + response tokens; the prompt is cut from the left to fit
  std::string chat_template = "auto";   // how the prompt is rendered: auto, zephyr, llama2, chatml or plain

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("path", path, "Hugging Face model directory of the reward model (LlamaForSequenceClassification with one label, plus tokenizer.model)");
    v.field("device", device, "Device: cpu, cuda or cuda:N");
    v.field("dtype", dtype, "Compute dtype: float32, bfloat16 or float16 (half types need a GPU)");
    v.field("batch_size", batch_size, "Candidate responses scored per forward pass");
    v.field("max_length", max_length, "Maximum prompt + response tokens; the prompt is truncated from the left to fit");
    v.field("chat_template", chat_template, "Chat template of the prompt: auto (from the model's tokenizer_config.json), zephyr, llama2, chatml or plain");
  }
  void validate(const FieldChecker& check) const;
};

struct JudgeConfig {
  JudgeType type = JudgeType::lexicon;  // which judge ranks the candidates
  std::string cache_dir;                // folder of the judgment cache; empty = no cache
  std::int64_t batch_size = 32;         // prompts handed to the judge at once
  LexiconJudgeConfig lexicon;
  HttpJudgeConfig http;
  CommandJudgeConfig command;
  RewardModelJudgeConfig reward_model;

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("type", type, "Judge: lexicon, http, command or reward_model");
    v.field("cache_dir", cache_dir, "Folder of the append-only judgment cache; empty disables caching", field_role::speed);
    v.field("batch_size", batch_size,
            "Prompts handed to the judge at once (the http judge runs their requests concurrently)", field_role::speed);
    v.section("lexicon", lexicon, "Built-in sentiment judge over the VADER lexicon");
    v.section("http", http, "LLM-as-judge over an OpenAI-compatible chat completions API");
    v.section("command", command, "Judge subprocess speaking JSON lines");
    v.section("reward_model", reward_model, "Scalar-head reward model (LlamaForSequenceClassification) scoring each response");
  }
  void validate(const FieldChecker& check) const;
};

}  // namespace selm
