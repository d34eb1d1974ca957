// Trains the toy regression model of train_toy.hpp in its own process, resuming from the
// output directory's checkpoint when there is one, so that tests can kill it with SIGKILL at
// any moment. Usage: selm_train_loop_helper OUTPUT_DIR STEP_DELAY_MS [KILL_IN_SAVE_NUMBER]
// With KILL_IN_SAVE_NUMBER = k, the process SIGKILLs itself in the middle of its k-th checkpoint
// write (model written, optimiser state and trainer_state.json not yet), a deterministic crash.
// Writes OUTPUT_DIR/final_model/ when training is complete and prints "finished at step N".
#include <chrono>
#include <cstdlib>
#include <exception>
#include <csignal>
#include <iostream>
#include <thread>

#include "selm/model/hf_model_dir.hpp"
#include "support/train_loop_helper_config.hpp"
#include "support/train_toy.hpp"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: selm_train_loop_helper OUTPUT_DIR STEP_DELAY_MS [KILL_IN_SAVE_NUMBER]\n";
    return 2;
  }
  try {
    const std::filesystem::path output_dir = argv[1];
    const int step_delay_ms = std::atoi(argv[2]);
    const int kill_in_save_number = argc == 4 ? std::atoi(argv[3]) : 0;
    torch::set_num_threads(selm::test::kHelperThreads);
    torch::manual_seed(selm::test::kHelperModelSeed);
    selm::test::ToyRegression model;
    const auto data = selm::test::toy_regression_data(selm::test::kHelperExamples, selm::test::kHelperDataSeed);
    auto options = selm::test::toy_loop_options(model, output_dir, selm::test::kHelperExamples);
    const auto save_weights = options.save_model;
    options.save_model = [save_weights, kill_in_save_number, saves = 0](const std::filesystem::path& dir) mutable {
      save_weights(dir);
      if (++saves == kill_in_save_number) std::raise(SIGKILL);
    };
    options.on_step = [step_delay_ms](const selm::StepRecord&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(step_delay_ms));
    };
    const selm::TrainingResult result = selm::run_training_loop(
        *model, selm::test::helper_train_config(), options, selm::test::toy_step_function(model, data));
    selm::save_module_weights(*model, output_dir / "final_model");
    std::cout << "finished at step " << result.completed_steps << " (resumed from step " << result.resumed_from_step
              << ")\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  }
}
