#include "selm/sweep/sweep_plan.hpp"

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <map>
#include <string>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

// Grid points beyond this are almost certainly a mistake in the sweep file (and would write that
// many config files).
constexpr std::size_t kMaxSweepRuns = 100000;

std::string safe_file_name(const std::string& text) {
  std::string safe = text;
  for (char& c : safe) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '_' || c == '-' || c == '=' || c == '+' || c == ',';
    if (!allowed) c = '_';
  }
  return safe;
}

std::string double_quoted(const std::string& text) {
  YAML::Emitter out;
  out << YAML::DoubleQuoted << text;
  return out.c_str();
}

// One override text and where it came from, to name the sweep file's line when the config
// system rejects it.
struct OverrideOrigin {
  std::string text;
  std::string where;  // "FILE:LINE: grid key 'train.alpha' = 0.1" or "FILE:LINE: override"
};

// Rethrows a load_config error with the sweep file's line of the override that caused it. The
// config system names overrides as "command-line override 'TEXT'", which is the wrong place to
// look for a sweep's user.
[[noreturn]] void rethrow_located(const InputError& error, const std::vector<OverrideOrigin>& origins,
                                  const std::string& fallback_prefix) {
  std::string message = error.what();
  for (const OverrideOrigin& origin : origins) {
    const std::string marker = "command-line override '" + origin.text + "'";
    const std::size_t at = message.find(marker);
    if (at == std::string::npos) continue;
    std::size_t end = at + marker.size();
    if (message.compare(end, 2, ": ") == 0) end += 2;
    message.erase(at, end - at);
    throw InputError(origin.where + ": " + message);
  }
  throw InputError(fallback_prefix + message);
}

}  // namespace

std::string sweep_run_name(const std::string& sweep_name, const std::vector<std::string>& short_keys,
                           const std::vector<std::string>& labels) {
  std::string name = sweep_name;
  for (std::size_t i = 0; i < short_keys.size() && i < labels.size(); ++i) {
    name += "-" + short_keys[i] + "=" + labels[i];
  }
  return safe_file_name(name);
}

SweepPlan expand_sweep(const SweepSpec& spec, const std::string& output_dir_override) {
  const std::string file_name = spec.file.string();
  std::vector<OverrideOrigin> common_origins;
  for (std::size_t i = 0; i < spec.overrides.size(); ++i) {
    common_origins.push_back(
        {spec.overrides[i], location_prefix(file_name, spec.override_lines[i]) + "override '" + spec.overrides[i] + "'"});
  }
  Config base_config;
  try {
    base_config = load_config(spec.base_files, spec.overrides);
  } catch (const InputError& error) {
    rethrow_located(error, common_origins, location_prefix(file_name) + "base config: ");
  }

  SweepPlan plan;
  plan.name = spec.name;
  const std::string output_dir =
      !output_dir_override.empty() ? output_dir_override : !spec.output_dir.empty() ? spec.output_dir : base_config.run.output_dir;
  plan.directory = std::filesystem::path(output_dir) / spec.name;
  const std::filesystem::path configs_dir = std::filesystem::absolute(plan.directory / "configs").lexically_normal();

  std::size_t total = 1;
  for (const SweepAxis& axis : spec.grid) {
    total *= axis.values.size();
    if (total > kMaxSweepRuns) {
      throw_input_error(file_name, axis.line, "key 'grid': more than " + std::to_string(kMaxSweepRuns) + " runs");
    }
  }
  std::vector<std::string> short_keys;
  for (const SweepAxis& axis : spec.grid) short_keys.push_back(axis.short_key);

  std::map<std::string, std::size_t> index_of_name;
  for (std::size_t index = 0; index < total; ++index) {
    // Mixed-radix digits of `index`, the last axis varying fastest.
    std::vector<std::size_t> choice(spec.grid.size());
    std::size_t rest = index;
    for (std::size_t a = spec.grid.size(); a-- > 0;) {
      choice[a] = rest % spec.grid[a].values.size();
      rest /= spec.grid[a].values.size();
    }
    SweepRun run;
    std::vector<std::string> labels;
    std::vector<OverrideOrigin> origins;
    for (std::size_t a = 0; a < spec.grid.size(); ++a) {
      const SweepAxis& axis = spec.grid[a];
      const SweepValue& value = axis.values[choice[a]];
      run.grid_overrides.push_back(axis.key + "=" + value.yaml_text);
      labels.push_back(value.label);
      origins.push_back({run.grid_overrides.back(),
                         location_prefix(file_name, value.line) + "grid key '" + axis.key + "' = " + value.yaml_text});
    }
    origins.insert(origins.end(), common_origins.begin(), common_origins.end());
    run.name = sweep_run_name(spec.name, short_keys, labels);

    const auto [previous, inserted] = index_of_name.emplace(run.name, index);
    if (!inserted) {
      throw_input_error(file_name, spec.grid.front().line,
                        "key 'grid': runs " + std::to_string(previous->second + 1) + " and " + std::to_string(index + 1) +
                            " get the same name '" + run.name + "' (two values with the same label?)");
    }

    std::vector<std::string> overrides = spec.overrides;
    overrides.insert(overrides.end(), run.grid_overrides.begin(), run.grid_overrides.end());
    overrides.push_back("run.name=" + double_quoted(run.name));
    overrides.push_back("run.output_dir=" + double_quoted(plan.directory.string()));
    try {
      run.config = load_config(spec.base_files, overrides);
    } catch (const InputError& error) {
      rethrow_located(error, origins, location_prefix(file_name) + "run '" + run.name + "': ");
    }
    run.config_path = configs_dir / (run.name + ".yaml");
    plan.runs.push_back(std::move(run));
  }
  return plan;
}

std::filesystem::path write_sweep_configs(const SweepPlan& plan) {
  std::string listing;
  for (std::size_t i = 0; i < plan.runs.size(); ++i) {
    const SweepRun& run = plan.runs[i];
    std::string header = "# Sweep '" + plan.name + "', run " + std::to_string(i + 1) + " of " +
                         std::to_string(plan.runs.size()) + ":";
    for (const std::string& value : run.grid_overrides) header += " " + value;
    write_file_atomic(run.config_path, header + "\n" + dump_config_yaml(run.config));
    listing += run.config_path.string() + "\n";
  }
  const std::filesystem::path runs_file = plan.directory / "runs.txt";
  write_file_atomic(runs_file, listing);
  return runs_file;
}

}  // namespace selm
