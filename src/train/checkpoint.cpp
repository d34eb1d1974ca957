#include "selm/train/checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "selm/train/optimizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

constexpr const char* kTemporaryPrefix = "checkpoint.tmp-";

// Flushes a file or directory to stable storage. Without this a power loss after the rename
// could expose a checkpoint directory whose files are still empty.
void fsync_path(const fs::path& path, bool is_directory) {
  const int fd = ::open(path.c_str(), is_directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) {
    if (is_directory) return;  // some filesystems refuse directory descriptors: best effort
    throw std::runtime_error(path.string() + ": cannot open to flush: " + std::strerror(errno));
  }
  const int result = ::fsync(fd);
  ::close(fd);
  if (result != 0 && !is_directory) {
    throw std::runtime_error(path.string() + ": cannot flush: " + std::strerror(errno));
  }
}

void fsync_tree(const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) fsync_path(entry.path(), false);
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_directory()) fsync_path(entry.path(), true);
  }
  fsync_path(dir, true);
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + from.string() + " to " + to.string() + ": " + std::strerror(errno));
  }
}

void save_rng_state(const fs::path& file) {
  torch::Tensor cpu_state;
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    cpu_state = generator.get_state();
  }
  torch::serialize::OutputArchive archive;
  archive.write("cpu", cpu_state);
  archive.save_to(file.string());
}

void load_rng_state(const fs::path& file) {
  torch::serialize::InputArchive archive;
  torch::Tensor cpu_state;
  try {
    archive.load_from(file.string());
    if (!archive.try_read("cpu", cpu_state)) throw InputError(file.string() + ": missing entry 'cpu'");
  } catch (const c10::Error& error) {
    throw InputError(file.string() + ": not a readable RNG state: " + error.what_without_backtrace());
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  try {
    generator.set_state(cpu_state);
  } catch (const c10::Error& error) {
    throw InputError(file.string() + ": invalid CPU generator state: " + error.what_without_backtrace());
  }
}

nlohmann::json state_to_json(const TrainerState& state) {
  return nlohmann::json{{"format_version", state.format_version},
                        {"global_step", state.global_step},
                        {"epoch", state.epoch},
                        {"step_in_epoch", state.step_in_epoch},
                        {"examples_done_in_epoch", state.examples_done_in_epoch},
                        {"total_steps", state.total_steps},
                        {"num_examples", state.num_examples},
                        {"batch_size", state.batch_size},
                        {"world_size", state.world_size},
                        {"shard_optimizer_state", state.shard_optimizer_state},
                        {"gradient_accumulation_steps", state.gradient_accumulation_steps},
                        {"epochs", state.epochs},
                        {"seed", state.seed},
                        {"shuffle", state.shuffle},
                        {"torch_threads", state.torch_threads},
                        {"elapsed_seconds", state.elapsed_seconds},
                        {"config_hash", state.config_hash}};
}

}  // namespace

std::string config_hash(const std::string& config_yaml) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char byte : config_yaml) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::optional<fs::path> find_checkpoint(const fs::path& output_dir) {
  const fs::path current = output_dir / kCheckpointDirName;
  if (fs::is_directory(current)) return current;
  const fs::path previous = output_dir / kPreviousCheckpointDirName;
  if (fs::is_directory(previous)) return previous;
  return std::nullopt;
}

void remove_stale_checkpoint_temporaries(const fs::path& output_dir) {
  if (!fs::is_directory(output_dir)) return;
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    if (entry.path().filename().string().rfind(kTemporaryPrefix, 0) == 0) fs::remove_all(entry.path());
  }
  if (fs::is_directory(output_dir / kCheckpointDirName)) fs::remove_all(output_dir / kPreviousCheckpointDirName);
}

void save_checkpoint(const fs::path& output_dir, const TrainerState& state, const SaveModelFunction& save_model,
                     const torch::optim::AdamW& optimizer, const std::string& config_yaml,
                     const std::vector<fs::path>& extra_files) {
  fs::create_directories(output_dir);
  const fs::path temporary = output_dir / (kTemporaryPrefix + std::to_string(::getpid()));
  fs::remove_all(temporary);
  try {
    fs::create_directories(temporary / kCheckpointModelDir);
    save_model(temporary / kCheckpointModelDir);
    save_optimizer_state(optimizer, temporary / kCheckpointOptimizerFile);
    save_rng_state(temporary / kCheckpointRngFile);
    write_file_atomic(temporary / kCheckpointConfigFile, config_yaml);
    TrainerState stored = state;
    stored.format_version = kCheckpointFormatVersion;
    stored.config_hash = config_hash(config_yaml);
    write_file_atomic(temporary / kTrainerStateFile, state_to_json(stored).dump(2) + "\n");
    for (const fs::path& file : extra_files) rename_or_throw(file, temporary / file.filename());
    fsync_tree(temporary);
  } catch (const InputError&) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    throw;
  } catch (const std::exception& error) {
    // LibTorch's serializer reports a failed write ("file write failed") without the file or the
    // reason; the message names the checkpoint, and says so when the disk is full.
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    std::string what = error.what();
    what = what.substr(0, what.find('\n'));
    const fs::space_info space = fs::space(output_dir, ignored);
    if (!ignored && space.available < (std::uintmax_t{1} << 20)) {
      what += " (the file system has only " + std::to_string(space.available) + " bytes free)";
    }
    throw std::runtime_error(temporary.string() + ": cannot write the checkpoint: " + what);
  }
  const fs::path current = output_dir / kCheckpointDirName;
  const fs::path previous = output_dir / kPreviousCheckpointDirName;
  if (fs::is_directory(current)) {
    // checkpoint/ is complete while the old checkpoint.prev/ is deleted, so a crash here is safe.
    fs::remove_all(previous);
    rename_or_throw(current, previous);
  }
  // From here until the next rename, checkpoint.prev/ is the complete checkpoint.
  rename_or_throw(temporary, current);
  fsync_path(output_dir, true);
  fs::remove_all(previous);
}

TrainerState read_trainer_state(const fs::path& checkpoint_dir) {
  const fs::path file = checkpoint_dir / kTrainerStateFile;
  const std::string where = file.string() + ": ";
  if (!fs::is_regular_file(file)) throw InputError(where + "file is missing (not a complete checkpoint)");
  const nlohmann::json json = nlohmann::json::parse(read_file(file), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) throw InputError(where + "invalid JSON");
  auto get = [&](const char* key, auto& value) {
    const auto found = json.find(key);
    if (found == json.end()) throw InputError(where + "key '" + key + "' is missing");
    try {
      found->get_to(value);
    } catch (const nlohmann::json::exception&) {
      throw InputError(where + "key '" + key + "' has the wrong type");
    }
  };
  TrainerState state;
  get("format_version", state.format_version);
  if (state.format_version != kCheckpointFormatVersion) {
    throw InputError(where + "key 'format_version': checkpoint format " + std::to_string(state.format_version) +
                     " is not supported (this build reads format " + std::to_string(kCheckpointFormatVersion) + ")");
  }
  get("global_step", state.global_step);
  get("epoch", state.epoch);
  get("step_in_epoch", state.step_in_epoch);
  get("examples_done_in_epoch", state.examples_done_in_epoch);
  get("total_steps", state.total_steps);
  get("num_examples", state.num_examples);
  get("batch_size", state.batch_size);
  if (json.contains("world_size")) get("world_size", state.world_size);  // absent before data parallelism: 1
  if (json.contains("shard_optimizer_state")) get("shard_optimizer_state", state.shard_optimizer_state);
  get("gradient_accumulation_steps", state.gradient_accumulation_steps);
  get("epochs", state.epochs);
  get("seed", state.seed);
  get("shuffle", state.shuffle);
  get("torch_threads", state.torch_threads);
  get("elapsed_seconds", state.elapsed_seconds);
  get("config_hash", state.config_hash);
  return state;
}

std::string optimizer_shard_file(int rank) {
  return rank == 0 ? std::string(kCheckpointOptimizerFile) : "optimizer.rank-" + std::to_string(rank) + ".pt";
}

TrainerState load_checkpoint(const fs::path& checkpoint_dir, const LoadModelFunction& load_model,
                             torch::optim::AdamW& optimizer, const std::string& optimizer_file) {
  for (const std::string& name : {std::string(kTrainerStateFile), std::string(kCheckpointConfigFile), optimizer_file,
                                  std::string(kCheckpointRngFile)}) {
    if (!fs::is_regular_file(checkpoint_dir / name)) {
      throw InputError((checkpoint_dir / name).string() + ": file is missing (not a complete checkpoint)");
    }
  }
  if (!fs::is_directory(checkpoint_dir / kCheckpointModelDir)) {
    throw InputError((checkpoint_dir / kCheckpointModelDir).string() + ": model directory is missing");
  }
  TrainerState state = read_trainer_state(checkpoint_dir);
  load_model(checkpoint_dir / kCheckpointModelDir);
  load_optimizer_state(optimizer, checkpoint_dir / optimizer_file);
  load_rng_state(checkpoint_dir / kCheckpointRngFile);
  return state;
}

}  // namespace selm
