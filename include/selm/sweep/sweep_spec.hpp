// The sweep file: a grid of config values over base configs, parsed and checked for shape.
//
// Sweep file (YAML):
//   name: alpha                       # sweep name (default: the file's stem)
//   base: [configs/quickstart.yaml]   # config files, relative to the sweep file's folder or absolute
//   overrides: ["online.rounds=3"]    # optional key.path=value overrides of every run
//   grid:                             # cartesian product in the order written, last key fastest
//     train.alpha: [0, 1.0e-4]
//     run.seed: [1, 2, 3]
//   output_dir: runs/sweeps           # optional parent of the sweep folder (default: run.output_dir)
//
// sweep_plan.hpp expands it into one resolved run config per grid point; slurm_script.hpp and
// local_runner.hpp run them.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace selm {

// One value of a grid axis as written in the sweep file.
struct SweepValue {
  std::string yaml_text;  // the value as flow YAML, used as the override's value
  std::string label;      // how the value appears in run names (0.001, 2, dpo)
  std::size_t line = 0;   // line in the sweep file (1-based)
};

// One key of the grid with its values.
struct SweepAxis {
  std::string key;         // full config key, e.g. train.alpha
  std::string short_key;   // name used in run names: the last component unless that is ambiguous
  std::size_t line = 0;    // line of the key in the sweep file
  std::vector<SweepValue> values;
};

// The sweep file, parsed and checked for shape (keys exist, lists non-empty, bases exist).
struct SweepSpec {
  std::filesystem::path file;                   // the sweep file as given
  std::string name;                             // sweep name: a plain file name
  std::vector<std::string> base_files;          // config files, resolved against the sweep file's folder
  std::vector<std::string> overrides;           // key.path=value applied to every run
  std::vector<std::size_t> override_lines;      // line of each override
  std::vector<SweepAxis> grid;                  // in the order written
  std::string output_dir;                       // empty = the base config's run.output_dir
};

// Parses and checks a sweep file. Throws InputError naming the key and FILE:LINE.
SweepSpec load_sweep_spec(const std::filesystem::path& file);

}  // namespace selm
