// online.round_overrides: one mapping per round (dotted keys, nested sections, values with
// spaces), the older "key=value key=value" strings, the dump, and errors that name the key and
// the line the override was written on.
#include <gtest/gtest.h>

#include <functional>

#include <yaml-cpp/yaml.h>

#include "selm/config/config.hpp"
#include "selm/online/online_trainer.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::input_error_of;
using test::TempDir;
using test::write_text;

// How the string form's list entered a config's fingerprint before the mapping form existed: the
// dumped list of strings, loaded and written again in flow style.
std::string string_form_fingerprint_text(const std::string& dumped_list) {
  YAML::Emitter emitter;
  emitter << YAML::Flow << YAML::Load(dumped_list);
  return emitter.c_str();
}

constexpr const char* kRounds =
    "online:\n"
    "  round_overrides:\n"
    "    - {train.learning_rate: 1.0e-7}\n"                 // line 3
    "    - train: {learning_rate: 5.0e-8, beta: 0.1}\n"     // line 4
    "      tokenizer.system_prompt: \"Be brief: really.\"\n"  // line 5
    "    - \"train.learning_rate=2e-7 train.beta=0.2\"\n"   // line 6
    "    - {}\n";

TEST(ConfigRoundOverrides, MappingsAndStringsBecomeKeyOverrides) {
  TempDir dir;
  const std::string path = (dir / "rounds.yaml").string();
  write_text(path, kRounds);
  const Config config = load_config({path}, {});
  const auto& rounds = config.online.round_overrides;
  ASSERT_EQ(rounds.size(), 4u);
  ASSERT_EQ(rounds[0].size(), 1u);
  EXPECT_EQ(rounds[0][0].key, "train.learning_rate");
  EXPECT_EQ(rounds[0][0].value, "1.0e-7");
  EXPECT_EQ(rounds[0][0].origin, path + ":3");
  ASSERT_EQ(rounds[1].size(), 3u);
  EXPECT_EQ(rounds[1][0].key, "train.learning_rate");
  EXPECT_EQ(rounds[1][1].key, "train.beta");
  EXPECT_EQ(rounds[1][2].key, "tokenizer.system_prompt");
  EXPECT_EQ(rounds[1][2].origin, path + ":5");
  ASSERT_EQ(rounds[2].size(), 2u);
  EXPECT_EQ(rounds[2][1].key, "train.beta");
  EXPECT_EQ(rounds[2][1].value, "0.2");
  EXPECT_EQ(rounds[2][1].origin, path + ":6");
  EXPECT_TRUE(rounds[3].empty());

  const Config second = load_config({}, {}, rounds[1]);
  EXPECT_DOUBLE_EQ(second.train.learning_rate, 5.0e-8);
  EXPECT_DOUBLE_EQ(second.train.beta, 0.1);
  EXPECT_EQ(second.tokenizer.system_prompt, "Be brief: really.");
  const Config third = load_config({}, {"train.beta=0.5"}, rounds[2]);  // the round's overrides come last
  EXPECT_DOUBLE_EQ(third.train.learning_rate, 2e-7);
  EXPECT_DOUBLE_EQ(third.train.beta, 0.2);
}

TEST(ConfigRoundOverrides, TheDumpWritesMappingsThatReload) {
  TempDir dir;
  write_text(dir / "rounds.yaml", kRounds);
  const Config config = load_config({(dir / "rounds.yaml").string()}, {});
  const std::string dump = dump_config_yaml(config);
  EXPECT_NE(dump.find("  round_overrides: [{train.learning_rate: 1.0e-7}, {train.learning_rate: 5.0e-8, train.beta: "
                      "0.1, tokenizer.system_prompt: \"Be brief: really.\"}, {train.learning_rate: 2e-7, train.beta: "
                      "0.2}, {}]  #"),
            std::string::npos)
      << dump;
  write_text(dir / "dump.yaml", dump);
  const Config reloaded = load_config({(dir / "dump.yaml").string()}, {});
  EXPECT_EQ(dump_config_yaml(reloaded), dump);
  ASSERT_EQ(reloaded.online.round_overrides.size(), 4u);
  EXPECT_EQ(load_config({}, {}, reloaded.online.round_overrides[1]).tokenizer.system_prompt, "Be brief: really.");
}

TEST(ConfigRoundOverrides, CommandLineListsOfStringsStillWork) {
  const Config config = load_config({}, {"online.round_overrides=[\"train.learning_rate=0.002\", \"train.beta=0.3\"]"});
  ASSERT_EQ(config.online.round_overrides.size(), 2u);
  EXPECT_DOUBLE_EQ(load_config({}, {}, config.online.round_overrides[0]).train.learning_rate, 0.002);
  EXPECT_DOUBLE_EQ(load_config({}, {}, config.online.round_overrides[1]).train.beta, 0.3);
}

// Values are kept as canonical YAML, so that the string form and the mapping form of the same
// change compare equal (a run dumped in one form resumes from a config in the other).
TEST(ConfigRoundOverrides, StringFormValuesAreKeptAsCanonicalYaml) {
  const Config config = load_config({}, {"online.round_overrides=[\"generate.stop=[a,b] run.name=x:y\"]"});
  ASSERT_EQ(config.online.round_overrides.size(), 1u);
  ASSERT_EQ(config.online.round_overrides[0].size(), 2u);
  EXPECT_EQ(config.online.round_overrides[0][0].value, "[a, b]");
  EXPECT_EQ(config.online.round_overrides[0][1].value, "x:y");
  const Config round = load_config({}, {}, config.online.round_overrides[0]);
  EXPECT_EQ(round.generate.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(round.run.name, "x:y");
  const Config mapping = load_config({}, {"online.round_overrides=[{generate.stop: [a, b], run.name: \"x:y\"}]"});
  EXPECT_TRUE(result_deciding_differences(config, mapping).empty());
}

TEST(ConfigRoundOverrides, ErrorsNameTheKeyAndTheLine) {
  TempDir dir;
  const std::string path = (dir / "rounds.yaml").string();
  write_text(path, "online:\n  round_overrides:\n    - {train.learning_rate: 1.0e-7}\n    - {train.bta: 0.1}\n");
  const Config unknown = load_config({path}, {});
  EXPECT_NE(input_error_of([&] { load_config({}, {}, unknown.online.round_overrides[1]); })
                .find(path + ":4: unknown key 'train.bta'"),
            std::string::npos);

  write_text(path, "online:\n  round_overrides:\n    - train:\n        beta: lots\n");
  const Config wrong_type = load_config({path}, {});
  EXPECT_EQ(input_error_of([&] { load_config({}, {}, wrong_type.online.round_overrides[0]); }),
            path + ":4: key 'train.beta': expected a number, got 'lots'");

  write_text(path, "online:\n  round_overrides:\n    - \"train.beta=-1\"\n");
  const Config out_of_range = load_config({path}, {});
  EXPECT_EQ(input_error_of([&] { load_config({}, {}, out_of_range.online.round_overrides[0]); }),
            path + ":3: key 'train.beta': must be positive");

  write_text(path, "online:\n  round_overrides:\n    - {train.loss: kto}\n");
  const Config bad_name = load_config({path}, {});
  EXPECT_EQ(input_error_of([&] { load_config({}, {}, bad_name.online.round_overrides[0]); }),
            path + ":3: key 'train.loss': unknown loss 'kto' (known: selm, dpo, ipo, hinge)");

  write_text(path, "online:\n  round_overrides:\n    - \"train.beta 0.1\"\n");
  EXPECT_EQ(input_error_of([&] { load_config({path}, {}); }),
            path + ":3: key 'online.round_overrides[0]': expected space-separated key.path=value items, got "
                   "'train.beta'");
  write_text(path, "online:\n  round_overrides:\n    - [train.beta, 0.1]\n");
  EXPECT_NE(input_error_of([&] { load_config({path}, {}); }).find(path + ":3: key 'online.round_overrides[0]'"),
            std::string::npos);
  write_text(path, "online:\n  round_overrides: {train.beta: 0.1}\n");
  EXPECT_NE(input_error_of([&] { load_config({path}, {}); }).find(path + ":2: key 'online.round_overrides'"),
            std::string::npos);
}

TEST(ConfigRoundOverrides, DecidingValuesKeepTheStringFormText) {
  TempDir dir;
  write_text(dir / "strings.yaml",
             "online:\n  round_overrides:\n    - \"train.learning_rate=5e-7\"\n    - \"train.learning_rate=1e-7 "
             "train.beta=0.2\"\n");
  write_text(dir / "mappings.yaml",
             "online:\n  round_overrides:\n    - {train.learning_rate: 5e-7}\n    - train:\n        learning_rate: "
             "1e-7\n        beta: 0.2\n");
  const Config strings = load_config({(dir / "strings.yaml").string()}, {});
  const Config mappings = load_config({(dir / "mappings.yaml").string()}, {});
  // The text the string form always had in the fingerprint: the list of strings in flow style.
  EXPECT_EQ(result_deciding_values(strings).at("online.round_overrides"),
            "[train.learning_rate=5e-7, train.learning_rate=1e-7 train.beta=0.2]");
  EXPECT_EQ(result_deciding_values(strings).at("online.round_overrides"),
            string_form_fingerprint_text("[\"train.learning_rate=5e-7\", \"train.learning_rate=1e-7 train.beta=0.2\"]"));
  EXPECT_EQ(config_fingerprint(strings), config_fingerprint(mappings));
  EXPECT_TRUE(result_deciding_differences(strings, mappings).empty());
  const Config other = load_config({}, {"online.round_overrides=[{train.beta: 0.3}]"});
  EXPECT_EQ(result_deciding_differences(strings, other),
            (std::vector<std::string>{"online.round_overrides: [train.learning_rate=5e-7, train.learning_rate=1e-7 "
                                      "train.beta=0.2] -> [train.beta=0.3]"}));
}

}  // namespace
}  // namespace selm
