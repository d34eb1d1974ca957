// `selm plan -c CONFIG`: the expected peak memory of a run per device, part by part, and whether
// it fits.
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "selm/online/run_memory_plan.hpp"
#include "selm/util/error.hpp"

namespace selm::cli {

namespace {

struct PlanArgs {
  ConfigArgs config;
  std::string gpu_memory;
  std::int64_t world_size = 1;
  bool json = false;
};

void run_plan(const PlanArgs& args) {
  const Config config = resolve_config(args.config);
  std::optional<std::int64_t> device_memory;
  if (!args.gpu_memory.empty()) device_memory = parse_memory_size(args.gpu_memory, "--gpu-memory");
  const RunMemoryPlan run_plan = plan_run_memory(config, device_memory, args.world_size);
  if (args.json) {
    std::cout << run_memory_plan_json(run_plan).dump(2) << "\n";
  } else {
    std::cout << render_run_memory_plan(run_plan);
  }
}

}  // namespace

void register_plan_command(CLI::App& app) {
  auto* command = app.add_subcommand("plan", "Expected peak memory per device of a run, part by part, and whether it fits");
  auto args = std::make_shared<PlanArgs>();
  add_config_args(*command, args->config, /*config_required=*/true);
  command->add_option("--gpu-memory", args->gpu_memory,
                      "Memory of one device, e.g. 80GiB or 40GB (default: the device's own, or the system's "
                      "available memory on cpu)");
  command->add_option("--world-size", args->world_size, "Data-parallel ranks; the figures stay per device")
      ->capture_default_str();
  command->add_flag("--json", args->json, "Print the plan as JSON (bytes)");
  command->footer(
      "Parts: weights, gradients, optimizer (AdamW moments, bf16 weight copies under bf16_mixed), activations\n"
      "(at train.batch_size rows of train.max_length tokens, with and without train.gradient_checkpointing),\n"
      "kv_cache (generate.batch_size x (generate.max_prompt_length + generate.max_new_tokens)), judge (a\n"
      "reward model on the same device) and runtime. The phases (generation, judging, training, evaluation)\n"
      "do not overlap; the peak is the largest. `selm train` checks the same estimate at start and refuses\n"
      "a run that does not fit unless --force. Exit 2 for a bad config or memory size.\n"
      "Example: selm plan -c configs/recipes/zephyr-7b-selm-lora.yaml --gpu-memory 80GiB");
  command->callback([args] { run_plan(*args); });
}

}  // namespace selm::cli
