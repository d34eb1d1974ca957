// Training checkpoints: everything a run needs to continue bit-exactly after a stop or a crash.
//
// Layout of OUTPUT_DIR/checkpoint/ (kCheckpointDirName):
//   model/              the model as a Hugging Face directory (written by the caller's callback)
//   optimizer.pt        AdamW state (save_optimizer_state)
//   rng_state.pt        the torch CPU generator state
//   config.yaml         the resolved config of the run, as the caller gave it
//   trainer_state.json  TrainerState, written last: format_version, step, epoch, position, ...
//
// Crash safety: a checkpoint is built in OUTPUT_DIR/checkpoint.tmp-<pid>/, every file fsynced,
// then swapped in with two renames: checkpoint/ -> checkpoint.prev/, checkpoint.tmp-<pid>/ ->
// checkpoint/, after which checkpoint.prev/ is removed. A complete checkpoint therefore exists
// at every instant after the first save: checkpoint/ whenever it exists, else checkpoint.prev/
// (only between the two renames). find_checkpoint applies exactly this rule, and stale
// temporaries are deleted by remove_stale_checkpoint_temporaries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "selm/run/run_paths.hpp"

namespace torch::optim {
class AdamW;
}

namespace selm {

namespace fs = std::filesystem;

inline constexpr int kCheckpointFormatVersion = 1;
inline constexpr const char* kCheckpointDirName = run_files::kCheckpointDir;
inline constexpr const char* kPreviousCheckpointDirName = "checkpoint.prev";
inline constexpr const char* kCheckpointModelDir = "model";
inline constexpr const char* kCheckpointOptimizerFile = "optimizer.pt";
inline constexpr const char* kCheckpointRngFile = "rng_state.pt";
inline constexpr const char* kCheckpointConfigFile = "config.yaml";
inline constexpr const char* kTrainerStateFile = "trainer_state.json";

// Writes the model as a Hugging Face directory into the given (existing, empty) directory.
using SaveModelFunction = std::function<void(const fs::path& model_dir)>;
// Loads the model's weights from a directory written by the matching SaveModelFunction.
using LoadModelFunction = std::function<void(const fs::path& model_dir)>;

// Progress of a run and the facts that fix its data order; stored as trainer_state.json.
struct TrainerState {
  int format_version = kCheckpointFormatVersion;
  std::int64_t global_step = 0;             // optimiser steps completed (the schedule position)
  std::int64_t epoch = 0;                   // epoch (0-based) that the next optimiser step belongs to
  std::int64_t step_in_epoch = 0;           // optimiser steps of `epoch` already completed
  std::int64_t examples_done_in_epoch = 0;  // position in the epoch's example order
  std::int64_t total_steps = 0;             // optimiser steps of the whole run
  std::int64_t num_examples = 0;            // size of the training set
  std::int64_t batch_size = 0;             // per rank
  std::int64_t world_size = 1;             // ranks of the data-parallel job (global batch = batch_size x this)
  bool shard_optimizer_state = false;      // ZeRO-1: rank R's optimiser state is optimizer_shard_file(R)
  std::int64_t gradient_accumulation_steps = 0;
  std::int64_t epochs = 0;
  std::int64_t seed = 0;
  bool shuffle = true;
  std::int64_t torch_threads = 0;           // intra-op threads of the saving process (bit-exact resume needs the same)
  double elapsed_seconds = 0.0;             // training time summed over every process of the run
  std::string config_hash;                  // config_hash() of config.yaml
};

// Stable 64-bit FNV-1a hash of the resolved config text, as 16 hex digits.
std::string config_hash(const std::string& config_yaml);

// The directory holding the latest complete checkpoint of `output_dir`, if any (see above).
std::optional<fs::path> find_checkpoint(const fs::path& output_dir);

// Deletes OUTPUT_DIR/checkpoint.tmp-* left by a process killed while saving, and a
// checkpoint.prev/ that a later checkpoint/ supersedes.
void remove_stale_checkpoint_temporaries(const fs::path& output_dir);

// Writes a new checkpoint of the run into OUTPUT_DIR/checkpoint/ atomically (see above).
// `save_model` writes the model directory; `config_yaml` is stored verbatim and its hash is set
// in the stored state. Environment failures throw std::runtime_error; the previous checkpoint
// then stays in place.
// `extra_files` (the other ranks' optimiser shards) are moved into the checkpoint before it is
// made current.
void save_checkpoint(const fs::path& output_dir, const TrainerState& state, const SaveModelFunction& save_model,
                     const torch::optim::AdamW& optimizer, const std::string& config_yaml,
                     const std::vector<fs::path>& extra_files = {});

// The optimiser state file of rank `rank` in a checkpoint whose optimiser state is sharded:
// kCheckpointOptimizerFile for rank 0 (it saves its own shard there), "optimizer.rank-R.pt" else.
std::string optimizer_shard_file(int rank);

// Reads CHECKPOINT_DIR/trainer_state.json. A missing file, invalid JSON, a missing key or a
// format_version other than kCheckpointFormatVersion is an InputError naming the file.
TrainerState read_trainer_state(const fs::path& checkpoint_dir);

// Restores a checkpoint: checks that every file is present (InputError naming the first one
// missing), reads the state, loads the model through `load_model`, the optimiser state and the
// torch CPU generator state. Returns the stored state.
// `optimizer_file` names the optimiser state to load (a rank's shard under ZeRO-1).
TrainerState load_checkpoint(const fs::path& checkpoint_dir, const LoadModelFunction& load_model,
                             torch::optim::AdamW& optimizer, const std::string& optimizer_file = kCheckpointOptimizerFile);

}  // namespace selm
