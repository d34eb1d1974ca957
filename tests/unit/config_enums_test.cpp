// Enum-valued settings: parsed once by the config system from files and overrides, dumped by
// name, documented with their names, and rejected with the allowed names, the key and the place.
#include <gtest/gtest.h>

#include <functional>

#include "selm/config/config.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::input_error_of;
using test::TempDir;
using test::write_text;

TEST(ConfigEnums, NamesTablesGiveNamesValuesAndChoices) {
  EXPECT_EQ(enum_name(PreferenceLossType::hinge), "hinge");
  EXPECT_EQ(enum_from_name<PairingStrategy>("best_worst"), PairingStrategy::best_worst);
  EXPECT_EQ(enum_from_name<PairingStrategy>("best"), std::nullopt);
  EXPECT_EQ(enum_names_text<PromptSelection>(), "slices, all or shuffle");
  EXPECT_EQ(enum_names_text<JudgeType>(", "), "lexicon, http, command, reward_model");
  EXPECT_EQ(enum_error_text<LogLevel>("loud"), "must be debug, info, warn or error, got 'loud'");
  EXPECT_EQ(enum_error_text<LrScheduleType>("linear"), "unknown schedule 'linear' (known: cosine, constant)");
  EXPECT_EQ(input_error_of([] { parse_enum<ComputeDtype>("fp8", "--dtype"); }),
            "key '--dtype': must be float32, bfloat16 or float16, got 'fp8'");
}

TEST(ConfigEnums, DeviceSpecKeepsItsTextForm) {
  for (const char* text : {"cpu", "cuda", "cuda:0", "cuda:12"}) {
    const std::optional<DeviceSpec> device = DeviceSpec::parse(text);
    ASSERT_TRUE(device.has_value()) << text;
    EXPECT_EQ(device->text(), text);
  }
  EXPECT_EQ(DeviceSpec::parse("cuda:3")->kind, DeviceKind::cuda);
  EXPECT_EQ(DeviceSpec::parse("cuda:3")->index, 3);
  EXPECT_EQ(DeviceSpec::parse("cuda")->index, std::nullopt);
  EXPECT_EQ(DeviceSpec::parse("cpu")->kind, DeviceKind::cpu);
  for (const char* text : {"gpu", "cuda:", "cuda:x", "cuda:1234", "CPU", "cpu:0"}) {
    EXPECT_FALSE(DeviceSpec::parse(text).has_value()) << text;
  }
}

TEST(ConfigEnums, FilesAndOverridesSetEnums) {
  TempDir dir;
  const std::string path = (dir / "enums.yaml").string();
  write_text(path,
             "run:\n  log_level: warn\nmodel:\n  device: cuda:1\n  dtype: bfloat16\ntrain:\n  loss: ipo\n"
             "  lr_schedule: constant\njudge:\n  type: command\n  command:\n    argv: [judge]\n"
             "  reward_model:\n    device: cuda\n    dtype: float16\nonline:\n  pairing: best_worst\n"
             "  prompt_selection: shuffle\n");
  const Config config = load_config({path}, {"train.loss=hinge", "online.prompt_selection=all"});
  EXPECT_EQ(config.run.log_level, LogLevel::warn);
  EXPECT_EQ(config.model.device.kind, DeviceKind::cuda);
  EXPECT_EQ(config.model.device.index, 1);
  EXPECT_EQ(config.model.dtype, ComputeDtype::bfloat16);
  EXPECT_EQ(config.train.loss, PreferenceLossType::hinge);
  EXPECT_EQ(config.train.lr_schedule, LrScheduleType::constant);
  EXPECT_EQ(config.judge.type, JudgeType::command);
  EXPECT_EQ(config.judge.reward_model.device.text(), "cuda");
  EXPECT_EQ(config.judge.reward_model.dtype, ComputeDtype::float16);
  EXPECT_EQ(config.online.pairing, PairingStrategy::best_worst);
  EXPECT_EQ(config.online.prompt_selection, PromptSelection::all);

  const Config defaults = load_config({}, {});
  EXPECT_EQ(defaults.train.loss, PreferenceLossType::selm);
  EXPECT_EQ(defaults.judge.type, JudgeType::lexicon);
  EXPECT_EQ(defaults.model.device.kind, DeviceKind::cpu);
  EXPECT_EQ(defaults.online.prompt_selection, PromptSelection::slices);
}

TEST(ConfigEnums, BadNamesListTheChoicesAndNameKeyAndPlace) {
  TempDir dir;
  const std::string path = (dir / "bad.yaml").string();
  write_text(path, "run:\n  name: x\ntrain:\n  beta: 0.1\n  loss: kto\n");
  EXPECT_EQ(input_error_of([&] { load_config({path}, {}); }),
            path + ":5: key 'train.loss': unknown loss 'kto' (known: selm, dpo, ipo, hinge)");
  write_text(path, "judge:\n  reward_model:\n    dtype: fp16\n");
  EXPECT_EQ(input_error_of([&] { load_config({path}, {}); }),
            path + ":3: key 'judge.reward_model.dtype': must be float32, bfloat16 or float16, got 'fp16'");
  write_text(path, "model:\n  device: cuda:x\n");
  EXPECT_EQ(input_error_of([&] { load_config({path}, {}); }),
            path + ":2: key 'model.device': must be cpu, cuda or cuda:N, got 'cuda:x'");
  EXPECT_EQ(input_error_of([] { load_config({}, {"online.prompt_selection=random"}); }),
            "command-line override 'online.prompt_selection=random': key 'online.prompt_selection': must be slices, "
            "all or shuffle, got 'random'");
  EXPECT_EQ(input_error_of([] { load_config({}, {"judge.type=oracle"}); }),
            "command-line override 'judge.type=oracle': key 'judge.type': unknown judge type 'oracle' (known: lexicon, "
            "http, command, reward_model)");
  EXPECT_EQ(input_error_of([] { load_config({}, {"judge.lexicon.target=neutral"}); }),
            "command-line override 'judge.lexicon.target=neutral': key 'judge.lexicon.target': must be positive or "
            "negative, got 'neutral'");
  EXPECT_EQ(input_error_of([] { load_config({}, {"online.pairing=[selm]"}); }),
            "command-line override 'online.pairing=[selm]': key 'online.pairing': expected selm or best_worst, got a "
            "list");
}

TEST(ConfigEnums, DumpWritesNamesThatReload) {
  TempDir dir;
  const Config original = load_config({}, {"run.log_level=error", "model.device=cuda:2", "model.dtype=float16",
                                           "train.loss=dpo", "train.lr_schedule=constant", "online.pairing=best_worst"});
  const std::string dump = dump_config_yaml(original);
  for (const char* line : {"  log_level: \"error\"", "  device: \"cuda:2\"", "  dtype: \"float16\"", "  loss: \"dpo\"",
                           "  lr_schedule: \"constant\"", "  pairing: \"best_worst\"", "  type: \"lexicon\""}) {
    EXPECT_NE(dump.find(std::string("\n") + line + "  #"), std::string::npos) << line << "\n" << dump;
  }
  write_text(dir / "dump.yaml", dump);
  const Config reloaded = load_config({(dir / "dump.yaml").string()}, {});
  EXPECT_EQ(dump_config_yaml(reloaded), dump);
  EXPECT_EQ(reloaded.model.device.index, 2);
  EXPECT_EQ(reloaded.train.loss, PreferenceLossType::dpo);
  EXPECT_EQ(reloaded.online.pairing, PairingStrategy::best_worst);
}

TEST(ConfigEnums, ReferenceListsTheNames) {
  const std::string reference = config_reference_markdown();
  EXPECT_NE(reference.find("| `train.loss` | selm, dpo, ipo or hinge | `\"selm\"` |"), std::string::npos) << reference;
  EXPECT_NE(reference.find("| `model.device` | cpu, cuda or cuda:N | `\"cpu\"` |"), std::string::npos);
  EXPECT_NE(reference.find("| `online.prompt_selection` | slices, all or shuffle | `\"slices\"` |"), std::string::npos);
  EXPECT_NE(reference.find("| `judge.type` | lexicon, http, command or reward_model | `\"lexicon\"` |"),
            std::string::npos);
}

}  // namespace
}  // namespace selm
