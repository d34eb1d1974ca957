// Fuzzing the Hugging Face config.json and generation_config.json readers, seeded with the
// committed checkpoints' files. An accepted config.json must also survive its own round trip
// (written back as selm writes it and read again), since selm saves what it loaded.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_harness.hpp"
#include "selm/model/llama_config.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

// The files named `file_name` under tests/data/hf, in a fixed order.
std::vector<std::string> committed_files(const std::string& file_name) {
  std::vector<fs::path> paths;
  for (const auto& entry : fs::recursive_directory_iterator(test::test_data_dir() / "hf")) {
    if (entry.path().filename() == file_name) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> texts;
  for (const fs::path& path : paths) texts.push_back(test::read_text(path));
  return texts;
}

void parse_config(const std::string& bytes) {
  const LlamaConfig config = llama_config_from_hf_json(parse_hf_json_text(bytes, "config.json"), "config.json");
  const std::string written = llama_config_to_hf_json(config).dump();
  try {
    llama_config_from_hf_json(parse_hf_json_text(written, "written config.json"), "written config.json");
  } catch (const InputError& error) {
    throw std::logic_error(std::string("an accepted config does not read back: ") + error.what());
  }
}

TEST(FuzzHfConfig, ConfigJson) {
  std::vector<std::string> corpus = committed_files("config.json");
  ASSERT_GE(corpus.size(), 5u);
  const std::vector<std::string> dictionary = {
      "\"vocab_size\"", "\"hidden_size\"", "\"intermediate_size\"", "\"num_hidden_layers\"",
      "\"num_attention_heads\"", "\"num_key_value_heads\"", "\"head_dim\"", "\"max_position_embeddings\"",
      "\"rms_norm_eps\"", "\"rope_theta\"", "\"rope_scaling\"", "\"rope_parameters\"", "\"rope_type\"",
      "\"tie_word_embeddings\"", "\"sliding_window\"", "\"eos_token_id\"", "\"pad_token_id\"", "\"bos_token_id\"",
      "\"torch_dtype\"", "\"dtype\"", "\"model_type\"", "\"mistral\"", "\"architectures\"", "\"MistralForCausalLM\"",
      "\"hidden_act\"", "\"attention_bias\"", "1099511627776", "1e300", "[128001, 128009]", "[]",
  };
  const fuzz::FuzzReport report = fuzz::run_fuzz("hf_config_json", corpus, parse_config, 5000, 20261202, dictionary);
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

void parse_generation_config(const std::string& bytes) {
  const std::vector<std::int64_t> ids =
      hf_end_token_ids(parse_hf_json_text(bytes, "generation_config.json"), "generation_config.json");
  for (const std::int64_t id : ids) {
    if (id < 0) throw std::logic_error("accepted a negative end token id");
  }
}

TEST(FuzzHfConfig, GenerationConfigJson) {
  std::vector<std::string> corpus = committed_files("generation_config.json");
  ASSERT_GE(corpus.size(), 5u);
  corpus.push_back(R"({"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": true})");
  corpus.push_back(R"({"eos_token_id": null, "pad_token_id": 0})");
  const std::vector<std::string> dictionary = {"\"eos_token_id\"", "\"bos_token_id\"", "\"pad_token_id\"",
                                               "[1, 2]", "[[1]]", "[-1]", "18446744073709551615"};
  const fuzz::FuzzReport report =
      fuzz::run_fuzz("generation_config_json", corpus, parse_generation_config, 4000, 20261202, dictionary);
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
