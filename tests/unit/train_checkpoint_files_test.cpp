#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/hf_model_dir.hpp"
#include "selm/train/checkpoint.hpp"
#include "selm/train/optimizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"
#include "support/train_toy.hpp"

namespace selm {
namespace SELM_UNITY_ID {

TrainerState sample_state() {
  TrainerState state;
  state.global_step = 7;
  state.epoch = 1;
  state.step_in_epoch = 3;
  state.examples_done_in_epoch = 24;
  state.total_steps = 16;
  state.num_examples = 30;
  state.batch_size = 4;
  state.gradient_accumulation_steps = 2;
  state.epochs = 4;
  state.seed = 42;
  state.shuffle = false;
  state.torch_threads = 3;
  state.elapsed_seconds = 12.5;
  return state;
}

struct Saved {
  test::ToyRegression model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
};

Saved save_sample(const fs::path& output_dir) {
  torch::manual_seed(4);
  Saved saved{test::ToyRegression(0.0), nullptr};
  saved.optimizer = make_adamw(*saved.model, TrainConfig{});
  const auto data = test::toy_regression_data(6, 2);
  (saved.model->forward(data.inputs) - data.targets).pow(2).mean().backward();
  saved.optimizer->step();
  auto model = saved.model;
  save_checkpoint(output_dir, sample_state(), [model](const fs::path& dir) mutable { save_module_weights(*model, dir); },
                  *saved.optimizer, "train:\n  beta: 0.01\n");
  return saved;
}

std::string input_error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

TEST(TrainCheckpointFiles, SaveAndLoadRoundTripEverything) {
  test::TempDir dir;
  Saved saved = save_sample(dir.path());
  const fs::path checkpoint = dir / "checkpoint";
  for (const char* name : {"model/model.safetensors", "optimizer.pt", "rng_state.pt", "config.yaml", "trainer_state.json"}) {
    EXPECT_TRUE(fs::is_regular_file(checkpoint / name)) << name;
  }
  EXPECT_EQ(test::read_text(checkpoint / "config.yaml"), "train:\n  beta: 0.01\n");
  const nlohmann::json json = nlohmann::json::parse(test::read_text(checkpoint / "trainer_state.json"));
  EXPECT_EQ(json.at("format_version"), kCheckpointFormatVersion);
  EXPECT_EQ(json.at("config_hash"), config_hash("train:\n  beta: 0.01\n"));
  EXPECT_EQ(config_hash(""), "cbf29ce484222325");  // FNV-1a 64 offset basis: the hash of nothing
  EXPECT_EQ(config_hash("a"), "af63dc4c8601ec8c");  // published FNV-1a 64 test vector

  // Random numbers drawn after the save repeat after the load: the RNG state was restored.
  const torch::Tensor draws = torch::rand({5});
  torch::manual_seed(5);  // another generator state, which loading must replace
  test::ToyRegression model(0.0);
  auto optimizer = make_adamw(*model, TrainConfig{});
  const TrainerState state = load_checkpoint(
      checkpoint, [&model](const fs::path& model_dir) { load_module_weights(*model, model_dir); }, *optimizer);
  EXPECT_TRUE(torch::equal(torch::rand({5}), draws));
  EXPECT_EQ(state.global_step, 7);
  EXPECT_EQ(state.epoch, 1);
  EXPECT_EQ(state.step_in_epoch, 3);
  EXPECT_EQ(state.examples_done_in_epoch, 24);
  EXPECT_EQ(state.total_steps, 16);
  EXPECT_EQ(state.num_examples, 30);
  EXPECT_EQ(state.gradient_accumulation_steps, 2);
  EXPECT_EQ(state.epochs, 4);
  EXPECT_EQ(state.seed, 42);
  EXPECT_FALSE(state.shuffle);
  EXPECT_EQ(state.torch_threads, 3);
  EXPECT_EQ(state.elapsed_seconds, 12.5);
  for (const auto& [name, value] : test::parameter_snapshot(*saved.model)) {
    EXPECT_TRUE(torch::equal(test::parameter_snapshot(*model).at(name), value)) << name;
  }
  EXPECT_EQ(optimizer->state().size(), 4u);
}

TEST(TrainCheckpointFiles, FormatVersionMismatchIsAnInputErrorNamingTheFile) {
  test::TempDir dir;
  save_sample(dir.path());
  const fs::path state_file = dir / "checkpoint" / "trainer_state.json";
  nlohmann::json json = nlohmann::json::parse(test::read_text(state_file));
  json["format_version"] = kCheckpointFormatVersion + 1;
  test::write_text(state_file, json.dump());
  const std::string message = input_error_message([&] { read_trainer_state(dir / "checkpoint"); });
  EXPECT_EQ(message.rfind(state_file.string() + ": key 'format_version'", 0), 0u) << message;

  json.erase("format_version");
  test::write_text(state_file, json.dump());
  EXPECT_NE(input_error_message([&] { read_trainer_state(dir / "checkpoint"); }).find("'format_version' is missing"),
            std::string::npos);
  test::write_text(state_file, "{not json");
  EXPECT_NE(input_error_message([&] { read_trainer_state(dir / "checkpoint"); }).find("invalid JSON"),
            std::string::npos);
}

TEST(TrainCheckpointFiles, MissingFileIsAnInputErrorNamingIt) {
  for (const char* name : {"optimizer.pt", "rng_state.pt", "config.yaml", "trainer_state.json"}) {
    test::TempDir dir;
    save_sample(dir.path());
    fs::remove(dir / "checkpoint" / name);
    test::ToyRegression model(0.0);
    auto optimizer = make_adamw(*model, TrainConfig{});
    const std::string message = input_error_message([&] {
      load_checkpoint(dir / "checkpoint", [](const fs::path&) {}, *optimizer);
    });
    EXPECT_NE(message.find((dir / "checkpoint" / name).string()), std::string::npos) << message;
  }
  test::TempDir dir;
  save_sample(dir.path());
  test::write_text(dir / "checkpoint" / "rng_state.pt", "garbage");
  test::ToyRegression model(0.0);
  auto optimizer = make_adamw(*model, TrainConfig{});
  EXPECT_NE(input_error_message([&] {
              load_checkpoint(dir / "checkpoint", [](const fs::path&) {}, *optimizer);
            }).find("rng_state.pt"),
            std::string::npos);
}

TEST(TrainCheckpointFiles, EveryCrashStateLeavesALoadableCheckpoint) {
  test::TempDir dir;
  EXPECT_FALSE(find_checkpoint(dir.path()).has_value());
  save_sample(dir.path());
  EXPECT_EQ(find_checkpoint(dir.path()), dir / "checkpoint");
  EXPECT_FALSE(fs::exists(dir / "checkpoint.prev"));

  // Killed while building the next checkpoint: checkpoint/ is intact, the temporary goes away.
  fs::create_directories(dir / "checkpoint.tmp-12345" / "model");
  test::write_text(dir / "checkpoint.tmp-12345" / "optimizer.pt", "half");
  EXPECT_EQ(find_checkpoint(dir.path()), dir / "checkpoint");
  remove_stale_checkpoint_temporaries(dir.path());
  EXPECT_FALSE(fs::exists(dir / "checkpoint.tmp-12345"));

  // Killed between the two renames: only checkpoint.prev/ (and a complete temporary) exist.
  fs::rename(dir / "checkpoint", dir / "checkpoint.prev");
  fs::create_directories(dir / "checkpoint.tmp-999");
  EXPECT_EQ(find_checkpoint(dir.path()), dir / "checkpoint.prev");
  remove_stale_checkpoint_temporaries(dir.path());
  EXPECT_TRUE(fs::exists(dir / "checkpoint.prev" / "trainer_state.json"));
  EXPECT_EQ(read_trainer_state(*find_checkpoint(dir.path())).global_step, 7);
  // The next save replaces it and clears the leftovers.
  save_sample(dir.path());
  EXPECT_EQ(find_checkpoint(dir.path()), dir / "checkpoint");
  EXPECT_FALSE(fs::exists(dir / "checkpoint.prev"));

  // Killed after the second rename, before checkpoint.prev/ was deleted.
  fs::create_directories(dir / "checkpoint.prev");
  EXPECT_EQ(find_checkpoint(dir.path()), dir / "checkpoint");
  remove_stale_checkpoint_temporaries(dir.path());
  EXPECT_FALSE(fs::exists(dir / "checkpoint.prev"));
}

TEST(TrainCheckpointFiles, FailedSaveKeepsThePreviousCheckpoint) {
  test::TempDir dir;
  save_sample(dir.path());
  test::ToyRegression model(0.0);
  auto optimizer = make_adamw(*model, TrainConfig{});
  TrainerState later = sample_state();
  later.global_step = 9;
  EXPECT_THROW(save_checkpoint(
                   dir.path(), later, [](const fs::path&) { throw std::runtime_error("disk full"); }, *optimizer, ""),
               std::runtime_error);
  EXPECT_EQ(read_trainer_state(dir / "checkpoint").global_step, 7);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "checkpoint") << entry.path();
  }
}

}  // namespace
}  // namespace selm
