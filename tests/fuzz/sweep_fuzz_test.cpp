// Sweep files under mutation: each loads and expands into run configs, or fails with an
// InputError naming the sweep file.
#include <gtest/gtest.h>

#include <filesystem>

#include "fuzz/fuzz_harness.hpp"
#include "selm/sweep/sweep_plan.hpp"
#include "selm/sweep/sweep_spec.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

// Expanding resolves one config per run: past this many runs a case costs seconds without
// reaching other code (the run count limit itself is checked before any run is resolved).
constexpr std::size_t kExpandedRunsLimit = 64;

TEST(FuzzSweep, SweepFiles) {
  test::TempDir dir;
  test::write_text(dir / "base.yaml", "run:\n  output_dir: " + (dir / "runs").string() + "\ntrain:\n  beta: 0.2\n");
  test::write_text(dir / "other.yaml", "generate:\n  top_k: 5\n");
  const std::vector<std::string> corpus = {
      "name: alpha\nbase: [base.yaml]\noverrides: [\"online.rounds=3\"]\ngrid:\n  train.alpha: [0, 1.0e-4, 1.0e-3, 1.0e-2]\n"
      "  run.seed: [1, 2, 3]\n",
      "name: mixed\nbase:\n  - base.yaml\n  - other.yaml\noverrides:\n  - online.rounds=2\n  - train.loss=dpo\ngrid:\n"
      "  train.beta:\n    - 0.1\n    - 0.5\n  generate.stop: [[\"\\n\"], [END, STOP]]\noutput_dir: " +
          (dir / "sweeps").string() + "\n",
      "base: [base.yaml]\ngrid:\n  train.loss: [dpo, selm]\n  tokenizer.system_prompt: [\"Be brief: really.\", null]\n",
  };
  const std::vector<std::string> dictionary = {"name: ", "base: ", "overrides: ", "grid: ", "output_dir: ", "\n  ",
                                               "base.yaml", "other.yaml", "train.alpha", "run.seed", "run.name",
                                               "train.beta", "online.rounds", "[", "]", ", ", "- ", "../", "/"};
  const fs::path path = dir / "sweep.yaml";
  const auto report = fuzz::run_fuzz(
      "sweep_spec", corpus,
      [&](const std::string& bytes) {
        test::write_text(path, bytes);
        const SweepSpec spec = load_sweep_spec(path);
        std::size_t runs = 1;
        for (const SweepAxis& axis : spec.grid) runs = std::min(runs * axis.values.size(), kExpandedRunsLimit + 1);
        if (runs <= kExpandedRunsLimit) expand_sweep(spec);
      },
      2000, 20261202, dictionary);
  EXPECT_EQ(report.other, 0u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
