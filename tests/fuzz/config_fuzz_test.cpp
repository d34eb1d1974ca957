// The config loader under mutated YAML and JSON files and `key=value` overrides: each input
// loads, or fails with an InputError; a loaded config's dump loads back to the same dump.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "fuzz/fuzz_harness.hpp"
#include "selm/config/config.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

std::vector<std::string> config_corpus() {
  std::vector<std::string> corpus;
  const fs::path configs = fs::path(SELM_SOURCE_DIR) / "configs";
  for (const char* name : {"quickstart.yaml", "quickstart-dpo.yaml", "quickstart-lora.yaml", "recipes/zephyr-7b-selm.yaml",
                           "recipes/llama3-8b-selm-lora.yaml", "demo/model.yaml"}) {
    if (fs::exists(configs / name)) corpus.push_back(test::read_text(configs / name));
  }
  corpus.push_back(dump_config_yaml(Config{}));  // every key once
  corpus.push_back(
      "online:\n  round_overrides:\n    - {train.learning_rate: 1.0e-7}\n    - train: {learning_rate: 5.0e-8, beta: 0.1}\n"
      "      tokenizer.system_prompt: \"Be brief: really.\"\n    - \"train.learning_rate=2e-7 train.beta=0.2\"\n    - {}\n");
  corpus.push_back(R"({"run": {"name": "json-run", "seed": 7, "threads": 2}, "generate": {"temperature": 0,
 "stop": ["\n\n", "END"], "top_p": 0.9}, "architecture": {"pad_token_id": null}, "judge": {"type": "http",
 "http": {"base_url": "http://127.0.0.1:8000/v1", "model": "m", "max_retries": 2}}, "train": {"beta": 0.1}})");
  return corpus;
}

const std::vector<std::string>& config_dictionary() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> keys;
    for (const std::string& key : config_keys()) {
      keys.push_back(key.substr(key.rfind('.') + 1));
      keys.push_back(key);
    }
    for (const char* token : {": ", "\n  ", "\n    - ", "[", "]", "{", "}", ", ", "- ", "'", "\"", "null", "~", "&a ", "*a",
                              "<<: *a", "!!str ", "!!int ", "? ", "|\n  ", ">\n  "}) {
      keys.push_back(token);
    }
    return keys;
  }();
  return words;
}

// A dump that does not load back, or loads to another config, breaks `selm config` and resume.
void expect_dump_round_trips(const Config& config, const fs::path& dump_path) {
  const std::string dump = dump_config_yaml(config);
  test::write_text(dump_path, dump);
  Config reloaded;
  try {
    reloaded = load_config({dump_path.string()}, {});
  } catch (const InputError& error) {
    throw std::logic_error(std::string("the dump of a loaded config does not load: ") + error.what());
  }
  if (dump_config_yaml(reloaded) != dump) throw std::logic_error("the dump of a loaded config reloads differently");
}

TEST(FuzzConfig, Files) {
  test::TempDir dir;
  const fs::path path = dir / "config.yaml";
  const auto report = fuzz::run_fuzz(
      "config_file", config_corpus(),
      [&](const std::string& bytes) {
        test::write_text(path, bytes);
        const Config config = load_config({path.string()}, {});
        expect_dump_round_trips(config, dir / "dump.yaml");
      },
      3000, 20261202, config_dictionary());
  EXPECT_EQ(report.other, 0u);
}

// Each line is one override, as `selm train -c FILE key=value ...` passes them.
TEST(FuzzConfig, Overrides) {
  test::TempDir dir;
  const std::vector<std::string> corpus = {
      "generate.top_p=0.9\ntrain.beta=0.1\nrun.name=fuzz",
      "generate.stop=[\"\\n\\n\", END]\narchitecture.pad_token_id=null",
      "tokenizer.system_prompt=Be brief: really.\ngenerate.top_k=5",
      "judge.type=http\njudge.http.base_url=http://127.0.0.1:1/v1\njudge.http.max_retries=0",
      "online.round_overrides=[{train.beta: 0.2}, \"train.learning_rate=2e-7\"]\nonline.rounds=2",
      "model.device=cpu\nrun.threads=1\ntrain.learning_rate=1e-6\ngenerate.temperature=0",
  };
  const auto report = fuzz::run_fuzz(
      "config_override", corpus,
      [&](const std::string& bytes) {
        std::vector<std::string> overrides;
        std::istringstream lines(bytes);
        for (std::string line; std::getline(lines, line);) overrides.push_back(line);
        const Config config = load_config({}, overrides);
        expect_dump_round_trips(config, dir / "dump.yaml");
      },
      3000, 20261202, config_dictionary());
  EXPECT_EQ(report.other, 0u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
