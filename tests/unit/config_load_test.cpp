#include <gtest/gtest.h>

#include "selm/config/config.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::TempDir;
using test::write_text;

// Expects an InputError whose message contains every fragment.
template <class Fn>
void expect_input_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    for (const auto& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << "message '" << e.what() << "' lacks '" << fragment << "'";
    }
  }
}

TEST(ConfigLoad, DefaultsWithoutFiles) {
  Config config = load_config({}, {});
  EXPECT_EQ(config.generate.max_new_tokens, 128);
  EXPECT_EQ(config.model.device.text(), "cpu");
  EXPECT_DOUBLE_EQ(config.architecture.rope_theta, 10000.0);
}

TEST(ConfigLoad, FileValuesOverrideDefaults) {
  TempDir dir;
  write_text(dir / "a.yaml", "generate:\n  top_p: 0.9\n  stop: [\"\\n\\n\", \"END\"]\narchitecture:\n  pad_token_id: 0\n");
  Config config = load_config({(dir / "a.yaml").string()}, {});
  EXPECT_DOUBLE_EQ(config.generate.top_p, 0.9);
  ASSERT_EQ(config.generate.stop.size(), 2u);
  EXPECT_EQ(config.generate.stop[0], "\n\n");
  EXPECT_EQ(config.generate.stop[1], "END");
  ASSERT_TRUE(config.architecture.pad_token_id.has_value());
  EXPECT_EQ(*config.architecture.pad_token_id, 0);
}

TEST(ConfigLoad, LaterFilesAndThenOverridesWin) {
  TempDir dir;
  write_text(dir / "a.yaml", "generate:\n  top_k: 5\n  top_p: 0.5\n");
  write_text(dir / "b.yaml", "generate:\n  top_k: 7\n");
  Config config = load_config({(dir / "a.yaml").string(), (dir / "b.yaml").string()}, {"generate.top_p=0.25"});
  EXPECT_EQ(config.generate.top_k, 7);
  EXPECT_DOUBLE_EQ(config.generate.top_p, 0.25);
}

TEST(ConfigLoad, JsonFilesLoadToo) {
  TempDir dir;
  write_text(dir / "c.json", "{\n  \"run\": {\"name\": \"json-run\", \"seed\": 7},\n  \"generate\": {\"temperature\": 0}\n}\n");
  Config config = load_config({(dir / "c.json").string()}, {});
  EXPECT_EQ(config.run.name, "json-run");
  EXPECT_EQ(config.run.seed, 7);
  EXPECT_DOUBLE_EQ(config.generate.temperature, 0.0);
}

TEST(ConfigLoad, UnknownKeyNamesKeyFileAndLine) {
  TempDir dir;
  const std::string path = (dir / "bad.yaml").string();
  write_text(path, "run:\n  name: x\ngenerate:\n  max_new_tokens: 3\n  top_q: 0.9\n");
  expect_input_error([&] { load_config({path}, {}); }, {path + ":5", "unknown key 'generate.top_q'"});
}

TEST(ConfigLoad, UnknownSectionIsRejected) {
  TempDir dir;
  const std::string path = (dir / "bad.yaml").string();
  write_text(path, "trainer:\n  lr: 1\n");
  expect_input_error([&] { load_config({path}, {}); }, {path + ":1", "unknown key 'trainer'"});
}

TEST(ConfigLoad, WrongTypeNamesKeyAndLine) {
  TempDir dir;
  const std::string path = (dir / "bad.yaml").string();
  write_text(path, "generate:\n  batch_size: many\n");
  expect_input_error([&] { load_config({path}, {}); }, {path + ":2", "generate.batch_size", "integer", "'many'"});
  write_text(path, "architecture:\n  tie_word_embeddings: 3\n");
  expect_input_error([&] { load_config({path}, {}); }, {"architecture.tie_word_embeddings", "boolean"});
  write_text(path, "generate:\n  stop: \"END\"\n");
  expect_input_error([&] { load_config({path}, {}); }, {"generate.stop", "list"});
  write_text(path, "generate: 3\n");
  expect_input_error([&] { load_config({path}, {}); }, {"generate", "mapping"});
}

TEST(ConfigLoad, OverrideErrorsNameTheOverride) {
  expect_input_error([] { load_config({}, {"generate.top_k=1.5"}); }, {"generate.top_k=1.5", "integer"});
  expect_input_error([] { load_config({}, {"generate.nope=1"}); }, {"unknown key 'generate.nope'"});
  expect_input_error([] { load_config({}, {"no_equals_sign"}); }, {"key.path=value"});
}

TEST(ConfigLoad, ValidationNamesKeyAndOrigin) {
  TempDir dir;
  const std::string path = (dir / "bad.yaml").string();
  write_text(path, "model:\n  device: tpu\n");
  expect_input_error([&] { load_config({path}, {}); }, {path + ":2", "model.device", "tpu"});
  expect_input_error([] { load_config({}, {"tokenizer.chat_template=jinja"}); }, {"tokenizer.chat_template", "jinja"});
}

TEST(ConfigLoad, MalformedYamlNamesLine) {
  TempDir dir;
  const std::string path = (dir / "bad.yaml").string();
  write_text(path, "run:\n  name: [unclosed\n");
  expect_input_error([&] { load_config({path}, {}); }, {path + ":", "cannot parse"});
}

TEST(ConfigDump, ReloadingTheDumpGivesTheSameConfig) {
  TempDir dir;
  std::vector<std::string> overrides = {
      "generate.top_p=0.123456789012345", "generate.stop=[\"a: b\", \"#x\", \"quote\\\"d\"]",
      "run.name=dump-test", "architecture.rms_norm_eps=1e-06", "architecture.pad_token_id=3",
      "generate.temperature=0.7", "tokenizer.system_prompt=Be brief: really."};
  Config original = load_config({}, overrides);
  const std::string dump = dump_config_yaml(original);
  write_text(dir / "dump.yaml", dump);
  Config reloaded = load_config({(dir / "dump.yaml").string()}, {});
  EXPECT_EQ(dump_config_yaml(reloaded), dump);
  EXPECT_DOUBLE_EQ(reloaded.generate.top_p, 0.123456789012345);
  EXPECT_EQ(reloaded.generate.stop, original.generate.stop);
  EXPECT_EQ(reloaded.tokenizer.system_prompt, "Be brief: really.");
  EXPECT_EQ(reloaded.architecture.pad_token_id, std::optional<std::int64_t>(3));
  EXPECT_DOUBLE_EQ(reloaded.architecture.rms_norm_eps, 1e-6);
}

TEST(ConfigOrigins, RecordWhereEachKeyWasSet) {
  TempDir dir;
  const std::string path = (dir / "a.yaml").string();
  write_text(path, "run:\n  seed: 3\n");
  KeyOrigins origins;
  load_config({path}, {"run.name=x"}, &origins);
  EXPECT_EQ(origins.at("run.seed"), path + ":2");
  EXPECT_NE(origins.at("run.name").find("run.name=x"), std::string::npos);
  EXPECT_EQ(origins.count("run.threads"), 0u);
}

TEST(ConfigReference, ListsEveryKeyWithDefault) {
  const std::string reference = config_reference_markdown();
  EXPECT_NE(reference.find("| `generate.top_p` | float | `1.0` |"), std::string::npos) << reference;
  EXPECT_NE(reference.find("| `architecture.pad_token_id` | int or null | `null` |"), std::string::npos);
}

TEST(ConfigCommand, ExitCodesAndOverrides) {
  TempDir dir;
  write_text(dir / "a.yaml", "generate:\n  top_k: 5\n");
  auto ok = test::run_selm({"config", "-c", (dir / "a.yaml").string(), "generate.top_k=9"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("top_k: 9"), std::string::npos) << ok.output;

  write_text(dir / "bad.yaml", "generate:\n  top_kk: 5\n");
  auto bad = test::run_selm({"config", "-c", (dir / "bad.yaml").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("generate.top_kk"), std::string::npos) << bad.output;

  auto missing = test::run_selm({"config", "-c", (dir / "missing.yaml").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("missing.yaml"), std::string::npos) << missing.output;

  auto unknown_flag = test::run_selm({"config", "--frobnicate"});
  EXPECT_EQ(unknown_flag.exit_code, 2);
  auto help = test::run_selm({"config", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("overrides"), std::string::npos);
}

}  // namespace
}  // namespace selm

namespace selm {
namespace SELM_UNITY_ID {

// docs/config-reference.md is generated by `selm config --reference`; this keeps it in sync.
TEST(ConfigReference, CommittedReferenceMatchesTheStructs) {
  const std::string committed = test::read_text(std::filesystem::path(SELM_SOURCE_DIR) / "docs" / "config-reference.md");
  EXPECT_EQ(committed, config_reference_markdown())
      << "docs/config-reference.md is stale: regenerate it with `selm config --reference > docs/config-reference.md`";
}

}  // namespace
}  // namespace selm
