// Batched generation: batch independence, returned log-probs, EOS and stop strings, truncation,
// progress and statistics, input errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <torch/torch.h>

#include "selm/generate/generator.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using Ids = std::vector<std::int64_t>;

LlamaForCausalLM tiny_model(std::uint64_t seed = 77) {
  LlamaConfig config;
  config.vocab_size = 97;
  config.hidden_size = 64;
  config.intermediate_size = 96;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.initializer_range = 0.2;
  torch::manual_seed(seed);
  return LlamaForCausalLM(config);
}

std::vector<Ids> make_prompts(int count, std::uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<Ids> prompts;
  for (int i = 0; i < count; ++i) {
    const auto length = torch::randint(1, 9, {1}).item<std::int64_t>();
    const auto t = torch::randint(3, 97, {length}, torch::kLong);
    Ids prompt = {1};  // BOS
    prompt.insert(prompt.end(), t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + length);
    prompts.push_back(prompt);
  }
  return prompts;
}

SamplingConfig sampling(double temperature, std::int64_t batch_size, std::int64_t max_new_tokens = 6) {
  SamplingConfig config;
  config.temperature = temperature;
  config.top_k = 20;
  config.top_p = 0.9;
  config.batch_size = batch_size;
  config.max_new_tokens = max_new_tokens;
  config.seed = 1234;
  return config;
}

std::vector<Ids> token_lists(const std::vector<GeneratedSequence>& sequences) {
  std::vector<Ids> lists;
  for (const auto& sequence : sequences) lists.push_back(sequence.token_ids);
  return lists;
}

// log softmax of each generated id under a plain full forward over prompt + generated ids.
std::vector<double> full_forward_logprobs(LlamaForCausalLM& model, const Ids& prompt, const Ids& generated) {
  Ids all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor(all, torch::kLong).unsqueeze(0);
  const auto log_probs = model->forward(ids, torch::ones_like(ids)).squeeze(0).log_softmax(-1);
  std::vector<double> result;
  for (std::size_t i = 0; i < generated.size(); ++i) {
    result.push_back(log_probs[static_cast<std::int64_t>(prompt.size() + i) - 1][generated[i]].item<double>());
  }
  return result;
}

TEST(GenerateGenerator, GreedyBatchEqualsEachPromptAloneAndAPlainLoop) {
  auto model = tiny_model();
  const auto prompts = make_prompts(7, 3);
  Generator batched(model, sampling(0.0, 8), {});
  const auto together = batched.generate(prompts);
  ASSERT_EQ(together.size(), prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    Generator single(model, sampling(0.0, 1), {});
    const auto alone = single.generate({prompts[i]});
    EXPECT_EQ(alone[0].token_ids, together[i].token_ids) << "prompt " << i;
    EXPECT_EQ(together[i].prompt_index, static_cast<std::int64_t>(i));
    EXPECT_EQ(together[i].finish_reason, "length");
    EXPECT_EQ(together[i].token_ids.size(), 6u);
  }
  // Greedy by hand with full forwards (no cache, no batching) for one prompt.
  Ids sequence = prompts[2];
  torch::NoGradGuard no_grad;
  for (int step = 0; step < 6; ++step) {
    const auto ids = torch::tensor(sequence, torch::kLong).unsqueeze(0);
    sequence.push_back(model->forward(ids, torch::ones_like(ids))[0][-1].argmax().item<std::int64_t>());
  }
  EXPECT_EQ(Ids(sequence.begin() + static_cast<std::ptrdiff_t>(prompts[2].size()), sequence.end()), together[2].token_ids);
}

TEST(GenerateGenerator, SamplesDoNotDependOnBatchSize) {
  auto model = tiny_model();
  const auto prompts = make_prompts(5, 4);
  std::vector<std::vector<Ids>> runs;
  for (const std::int64_t batch_size : {1, 3, 8}) {
    auto config = sampling(1.0, batch_size);
    config.num_samples = 3;
    Generator generator(model, config, {});
    runs.push_back(token_lists(generator.generate(prompts)));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
  // The samples of one prompt differ from each other.
  for (std::size_t prompt = 0; prompt < prompts.size(); ++prompt) {
    const auto& s0 = runs[0][prompt * 3];
    const auto& s1 = runs[0][prompt * 3 + 1];
    const auto& s2 = runs[0][prompt * 3 + 2];
    EXPECT_TRUE(s0 != s1 && s1 != s2 && s0 != s2) << "prompt " << prompt;
  }
  // A different seed gives different samples.
  auto reseeded = sampling(1.0, 8);
  reseeded.num_samples = 3;
  reseeded.seed = 99;
  EXPECT_NE(token_lists(Generator(model, reseeded, {}).generate(prompts)), runs[0]);
}

TEST(GenerateGenerator, PromptIndicesSeedTheSamples) {
  auto model = tiny_model();
  const auto prompts = make_prompts(4, 5);
  Generator generator(model, sampling(1.0, 4), {});
  const auto all = generator.generate(prompts);
  // A shard holding prompts 3 and 1 with their global indices draws the same samples.
  const auto shard = generator.generate({prompts[3], prompts[1]}, {3, 1});
  EXPECT_EQ(shard[0].token_ids, all[3].token_ids);
  EXPECT_EQ(shard[1].token_ids, all[1].token_ids);
  EXPECT_EQ(shard[0].prompt_index, 3);
}

TEST(GenerateGenerator, LogprobIsSumOfFullForwardLogSoftmax) {
  auto model = tiny_model();
  const auto prompts = make_prompts(4, 6);
  auto config = sampling(0.8, 3, 8);
  config.num_samples = 2;
  Generator generator(model, config, {});
  const auto sequences = generator.generate(prompts);
  ASSERT_EQ(sequences.size(), 8u);
  for (const auto& sequence : sequences) {
    const auto expected = full_forward_logprobs(model, prompts[static_cast<std::size_t>(sequence.prompt_index)], sequence.token_ids);
    ASSERT_EQ(sequence.token_logprobs.size(), expected.size());
    double total = 0.0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(sequence.token_logprobs[i], expected[i], 1e-4);
      total += expected[i];
    }
    EXPECT_NEAR(sequence.logprob, total, 1e-4);
    EXPECT_LT(sequence.logprob, 0.0);
  }
}

TEST(GenerateGenerator, StopsAtEosAndKeepsIt) {
  auto model = tiny_model();
  const auto prompts = make_prompts(6, 7);
  const auto free_run = Generator(model, sampling(1.0, 6, 8), {}).generate(prompts);
  // The stop id: the third token of prompt 0's free-running sample.
  const std::int64_t eos = free_run[0].token_ids[2];
  const auto stopped = Generator(model, sampling(1.0, 6, 8), {eos, 96}).generate(prompts);
  bool some_row_ran_on = false;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    // Each sequence is the free run cut right after its first stop id; rows that finished early
    // must not disturb the others.
    Ids expected;
    std::string reason = "length";
    for (const auto id : free_run[i].token_ids) {
      expected.push_back(id);
      if (id == eos || id == 96) {
        reason = "eos";
        break;
      }
    }
    EXPECT_EQ(stopped[i].token_ids, expected) << "prompt " << i;
    EXPECT_EQ(stopped[i].finish_reason, reason) << "prompt " << i;
    some_row_ran_on = some_row_ran_on || reason == "length";
    const auto logprobs = full_forward_logprobs(model, prompts[i], stopped[i].token_ids);
    double total = 0.0;
    for (const double value : logprobs) total += value;
    EXPECT_NEAR(stopped[i].logprob, total, 1e-4);
  }
  EXPECT_EQ(stopped[0].token_ids.size(), 3u);
  EXPECT_EQ(stopped[0].finish_reason, "eos");
  EXPECT_TRUE(some_row_ran_on);
}

TEST(GenerateGenerator, StopStringsKeepShortestMatchingPrefix) {
  auto model = tiny_model();
  const auto prompts = make_prompts(3, 8);
  const auto free_run = Generator(model, sampling(1.0, 3, 8), {}).generate(prompts);
  auto decode = [](const Ids& ids) {
    std::string text;
    for (const auto id : ids) text += "[" + std::to_string(id) + "]";
    return text;
  };
  // Stop at the 3rd..4th tokens of prompt 1's sample.
  const auto& reference = free_run[1].token_ids;
  const std::string stop = "[" + std::to_string(reference[2]) + "][" + std::to_string(reference[3]) + "]";
  auto config = sampling(1.0, 3, 8);
  config.stop = {"never-appears", stop};
  const auto stopped = Generator(model, config, {}, decode).generate(prompts);
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    Ids expected;
    std::string reason = "length";
    for (const auto id : free_run[i].token_ids) {
      expected.push_back(id);
      if (decode(expected).find(stop) != std::string::npos) {
        reason = "stop";
        break;
      }
    }
    EXPECT_EQ(stopped[i].token_ids, expected) << "prompt " << i;
    EXPECT_EQ(stopped[i].finish_reason, reason) << "prompt " << i;
    if (reason == "stop") {
      EXPECT_EQ(stopped[i].stop_string, stop);
    }
  }
  EXPECT_EQ(stopped[1].finish_reason, "stop");
  EXPECT_LE(stopped[1].token_ids.size(), 4u);
  // Without a decode function, stop strings cannot be checked and are ignored.
  EXPECT_EQ(token_lists(Generator(model, config, {}).generate(prompts)), token_lists(free_run));
}

TEST(GenerateGenerator, TruncatesPromptsFromTheLeft) {
  auto model = tiny_model();
  const Ids long_prompt = {1, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  auto config = sampling(1.0, 2);
  config.max_prompt_length = 4;
  const auto truncated = Generator(model, config, {}).generate({long_prompt});
  config.max_prompt_length = 100;
  const auto explicit_tail = Generator(model, config, {}).generate({Ids{15, 16, 17, 18}});
  EXPECT_EQ(truncated[0].token_ids, explicit_tail[0].token_ids);
  EXPECT_EQ(truncated[0].prompt_tokens, 4);
}

TEST(GenerateGenerator, ReportsProgressAndStats) {
  auto model = tiny_model();
  const auto prompts = make_prompts(5, 9);
  auto config = sampling(1.0, 4, 5);
  config.num_samples = 2;
  Generator generator(model, config, {});
  std::vector<GenerationProgress> reports;
  generator.set_progress_callback([&](const GenerationProgress& progress) { reports.push_back(progress); });
  const auto sequences = generator.generate(prompts);
  ASSERT_EQ(reports.size(), 3u);  // 10 sequences in batches of 4
  EXPECT_EQ(reports.back().sequences_done, 10);
  EXPECT_EQ(reports.back().sequences_total, 10);
  EXPECT_EQ(reports.back().prompts_done, 5);
  EXPECT_EQ(reports.back().prompts_total, 5);
  EXPECT_LE(reports[0].sequences_done, reports[1].sequences_done);
  std::int64_t tokens = 0, prompt_tokens = 0;
  for (const auto& sequence : sequences) tokens += static_cast<std::int64_t>(sequence.token_ids.size());
  for (const auto& prompt : prompts) prompt_tokens += 2 * static_cast<std::int64_t>(prompt.size());
  EXPECT_EQ(reports.back().tokens_generated, tokens);
  const auto& stats = generator.stats();
  EXPECT_EQ(stats.generated_tokens, tokens);
  EXPECT_EQ(stats.prompt_tokens, prompt_tokens);
  EXPECT_EQ(stats.batches, 3);
  EXPECT_EQ(stats.sequences, 10);
  EXPECT_EQ(stats.decode_steps, 3 * 4);  // no stop ids: every batch runs max_new_tokens - 1 steps
  EXPECT_GT(stats.prefill_seconds, 0.0);
  EXPECT_GT(stats.decode_seconds, 0.0);
  EXPECT_GE(stats.total_seconds, stats.prefill_seconds + stats.decode_seconds);
}

TEST(GenerateGenerator, RejectsBadInput) {
  auto model = tiny_model();
  Generator generator(model, sampling(1.0, 2), {});
  EXPECT_THROW(generator.generate({Ids{}}), InputError);
  EXPECT_THROW(generator.generate({Ids{1, 97}}), InputError);
  auto bad = sampling(1.0, 2);
  bad.top_p = 0.0;
  EXPECT_THROW(Generator(model, bad, {}), InputError);
}

TEST(GenerateSamplingConfig, ValidateNamesTheKey) {
  const FieldChecker check("generate.", nullptr);
  SamplingConfig config;
  EXPECT_NO_THROW(config.validate(check));
  auto expect_key = [&](SamplingConfig bad, const std::string& key) {
    try {
      bad.validate(check);
      ADD_FAILURE() << "no error for " << key;
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find("'generate." + key + "'"), std::string::npos) << error.what();
    }
  };
  SamplingConfig bad = config;
  bad.temperature = -0.1;
  expect_key(bad, "temperature");
  bad = config;
  bad.top_k = -1;
  expect_key(bad, "top_k");
  bad = config;
  bad.top_p = 1.5;
  expect_key(bad, "top_p");
  bad = config;
  bad.num_samples = 0;
  expect_key(bad, "num_samples");
  bad = config;
  bad.batch_size = 0;
  expect_key(bad, "batch_size");
  bad = config;
  bad.max_new_tokens = 0;
  expect_key(bad, "max_new_tokens");
  bad = config;
  bad.max_prompt_length = 0;
  expect_key(bad, "max_prompt_length");
  bad = config;
  bad.temperature = 0.0;
  bad.top_p = 1.0;
  EXPECT_NO_THROW(bad.validate(check));
}

}  // namespace
}  // namespace selm
