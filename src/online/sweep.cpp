#include "selm/online/sweep.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

// Grid points beyond this are almost certainly a mistake in the sweep file (and would write that
// many config files).
constexpr std::size_t kMaxSweepRuns = 100000;

// Collects every field key of the config ("train.alpha"), so that grid keys are checked against
// the config's own field list instead of a copy of it.
class ConfigKeyCollector {
 public:
  ConfigKeyCollector(std::string prefix, std::set<std::string>& keys) : prefix_(std::move(prefix)), keys_(keys) {}

  template <class T>
  void field(const char* name, T&, const char*, FieldRole = {}) {
    keys_.insert(prefix_ + name);
  }

  template <class Section>
  void section(const char* name, Section& value, const char*) {
    ConfigKeyCollector nested(prefix_ + name + ".", keys_);
    value.visit_fields(nested);
  }

 private:
  std::string prefix_;
  std::set<std::string>& keys_;
};

const std::set<std::string>& config_keys() {
  static const std::set<std::string> keys = [] {
    std::set<std::string> collected;
    Config defaults;
    ConfigKeyCollector collector("", collected);
    defaults.visit_fields(collector);
    return collected;
  }();
  return keys;
}

std::size_t line_of(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line >= 0 ? static_cast<std::size_t>(line) + 1 : 0;
}

bool is_plain_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '_' || c == '-';
    if (!allowed) return false;
  }
  return true;
}

std::string safe_file_name(const std::string& text) {
  std::string safe = text;
  for (char& c : safe) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '_' || c == '-' || c == '=' || c == '+' || c == ',';
    if (!allowed) c = '_';
  }
  return safe;
}

// Shortest decimal text that reads back as `value`: 1.0e-3 -> 0.001, 5e-7 -> 5e-07.
std::string shortest_decimal(double value) {
  char buffer[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

// How a scalar appears in a run name: numbers in a canonical form, other text as written.
std::string scalar_label(const std::string& text) {
  if (text.empty()) return "empty";
  char* end = nullptr;
  errno = 0;
  const long long integer = std::strtoll(text.c_str(), &end, 10);
  if (errno == 0 && end == text.c_str() + text.size()) return std::to_string(integer);
  errno = 0;
  const double number = std::strtod(text.c_str(), &end);
  if (errno == 0 && end == text.c_str() + text.size() && text.find_first_of("xXnN") == std::string::npos) {
    return shortest_decimal(number);
  }
  return text;
}

std::string value_label(const YAML::Node& node) {
  if (node.IsScalar()) return scalar_label(node.Scalar());
  if (node.IsNull()) return "null";
  if (node.IsSequence()) {
    std::string joined;
    for (std::size_t i = 0; i < node.size(); ++i) joined += (i ? "," : "") + value_label(node[i]);
    return joined;
  }
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::string flow_yaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::string double_quoted(const std::string& text) {
  YAML::Emitter out;
  out << YAML::DoubleQuoted << text;
  return out.c_str();
}

std::string shell_single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += "'\\''";
    else quoted += c;
  }
  return quoted + "'";
}

std::string expect_string(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsScalar()) throw_input_error(file, line_of(node), "key '" + key + "': expected a string");
  return node.Scalar();
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

std::string elapsed_text(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  return buffer;
}

}  // namespace

SweepSpec load_sweep_spec(const std::filesystem::path& file) {
  const std::string file_name = file.string();
  const std::string text = read_file(file);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_input_error(file_name, static_cast<std::size_t>(e.mark.line + 1), "cannot parse the sweep file: " + e.msg);
  }
  if (!root.IsMap()) throw_input_error(file_name, line_of(root), "a sweep file must be a mapping (name, base, grid, ...)");

  SweepSpec spec;
  spec.file = file;
  spec.name = file.stem().string();
  const std::filesystem::path folder = file.parent_path();
  bool has_base = false;
  bool has_grid = false;
  std::set<std::string> seen;
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) throw_input_error(file_name, line_of(entry.first), "keys of a sweep file must be names");
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (!seen.insert(key).second) throw_input_error(file_name, line_of(entry.first), "key '" + key + "' appears twice");
    if (key == "name") {
      spec.name = expect_string(value, file_name, key);
      if (!is_plain_name(spec.name)) {
        throw_input_error(file_name, line_of(value),
                          "key 'name': '" + spec.name + "' must be a folder name made of letters, digits, '.', '_' and '-'");
      }
    } else if (key == "base") {
      has_base = true;
      std::vector<YAML::Node> items;
      if (value.IsScalar()) items.push_back(value);
      else if (value.IsSequence()) for (const auto& item : value) items.push_back(item);
      else throw_input_error(file_name, line_of(value), "key 'base': expected a config file or a list of them");
      if (items.empty()) throw_input_error(file_name, line_of(value), "key 'base': lists no config file");
      for (const YAML::Node& item : items) {
        const std::filesystem::path base = expect_string(item, file_name, "base");
        const std::filesystem::path resolved = base.is_absolute() ? base : folder / base;
        if (!std::filesystem::is_regular_file(resolved)) {
          throw_input_error(file_name, line_of(item),
                            "key 'base': config file '" + base.string() + "' not found (looked for " + resolved.string() + ")");
        }
        spec.base_files.push_back(resolved.string());
      }
    } else if (key == "overrides") {
      if (value.IsNull()) continue;
      if (!value.IsSequence()) throw_input_error(file_name, line_of(value), "key 'overrides': expected a list of key.path=value");
      for (const auto& item : value) {
        const std::string override_text = expect_string(item, file_name, "overrides");
        if (override_text.find('=') == std::string::npos || override_text[0] == '=') {
          throw_input_error(file_name, line_of(item), "key 'overrides': '" + override_text + "' is not key.path=value");
        }
        spec.overrides.push_back(override_text);
        spec.override_lines.push_back(line_of(item));
      }
    } else if (key == "grid") {
      has_grid = true;
      if (!value.IsMap() || value.size() == 0) {
        throw_input_error(file_name, line_of(value), "key 'grid': expected a mapping of config keys to lists of values");
      }
      std::set<std::string> grid_keys;
      for (const auto& axis_entry : value) {
        if (!axis_entry.first.IsScalar()) {
          throw_input_error(file_name, line_of(axis_entry.first), "key 'grid': keys must be config keys such as train.alpha");
        }
        SweepAxis axis;
        axis.key = axis_entry.first.Scalar();
        axis.line = line_of(axis_entry.first);
        if (!grid_keys.insert(axis.key).second) {
          throw_input_error(file_name, axis.line, "grid key '" + axis.key + "' appears twice");
        }
        if (config_keys().count(axis.key) == 0) {
          throw_input_error(file_name, axis.line,
                            "grid key '" + axis.key + "' is not a config key (grid keys name one field, e.g. train.alpha; "
                            "`selm config --reference` lists them)");
        }
        if (axis.key == "run.name" || axis.key == "run.output_dir") {
          throw_input_error(file_name, axis.line,
                            "grid key '" + axis.key + "' is set by the sweep for each run (use 'name' and 'output_dir')");
        }
        const YAML::Node& values = axis_entry.second;
        if (!values.IsSequence()) {
          throw_input_error(file_name, line_of(values), "grid key '" + axis.key + "': expected a list of values, e.g. [1, 2]");
        }
        if (values.size() == 0) throw_input_error(file_name, line_of(values), "grid key '" + axis.key + "': the list is empty");
        for (const auto& item : values) {
          axis.values.push_back(SweepValue{flow_yaml(item), value_label(item), line_of(item)});
        }
        spec.grid.push_back(std::move(axis));
      }
    } else if (key == "output_dir") {
      spec.output_dir = expect_string(value, file_name, key);
      if (spec.output_dir.empty()) throw_input_error(file_name, line_of(value), "key 'output_dir': must not be empty");
    } else {
      throw_input_error(file_name, line_of(entry.first),
                        "unknown key '" + key + "' (known keys: name, base, overrides, grid, output_dir)");
    }
  }
  if (!has_base) throw_input_error(file_name, 0, "missing key 'base': the config file(s) every run starts from");
  if (!has_grid) throw_input_error(file_name, 0, "missing key 'grid': the config keys and values to sweep");

  // Short keys name the value in run names; two axes ending in the same component keep their
  // full keys so that names stay unambiguous.
  std::map<std::string, int> last_component_count;
  auto last_component = [](const std::string& key) { return key.substr(key.rfind('.') + 1); };
  for (const SweepAxis& axis : spec.grid) ++last_component_count[last_component(axis.key)];
  for (SweepAxis& axis : spec.grid) {
    axis.short_key = last_component_count[last_component(axis.key)] > 1 ? axis.key : last_component(axis.key);
  }
  return spec;
}

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

std::string slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                               const std::filesystem::path& working_dir) {
  const std::filesystem::path logs_dir = std::filesystem::absolute(plan.directory / "logs").lexically_normal();
  const std::size_t count = plan.runs.size();
  std::ostringstream out;
  out << "#!/bin/bash\n"
      << "# Slurm job array of the selm sweep '" << plan.name << "': " << count
      << " runs, one array task per run config.\n"
      << "# Written by `selm sweep --slurm`; submit it with `sbatch " << (plan.directory / "sweep.sbatch").string()
      << "`.\n"
      << "# A requeued task (preemption, node failure) reruns the same command, and `selm train` resumes\n"
      << "# its run directory at the first unfinished stage.\n"
      << "#\n"
      << "# Change for your cluster (or pass the same options to sbatch, which override these lines):\n"
      << "#   --partition      your GPU partition (sinfo -s lists them)\n"
      << "#   --gres           GPUs per run, e.g. gpu:1 or gpu:a100:1; selm train uses one device\n"
      << "#   --time           wall time of one run; a run that hits it can be requeued and resumes\n"
      << "#   --cpus-per-task  CPU threads of one run (run.threads = 0 uses them all)\n"
      << "#   --mem            host memory of one run\n"
      << "#   --array          append %K (e.g. --array=0-" << (count - 1) << "%4) to run at most K runs at once\n"
      << "#SBATCH --job-name=selm-" << plan.name << "\n"
      << "#SBATCH --array=0-" << (count - 1) << "\n"
      << "#SBATCH --requeue\n"
      << "#SBATCH --open-mode=append\n"
      << "#SBATCH --output=" << (logs_dir / "%x-%A_%a.out").string() << "\n"
      << "#SBATCH --partition=gpu\n"
      << "#SBATCH --gres=gpu:1\n"
      << "#SBATCH --time=24:00:00\n"
      << "#SBATCH --cpus-per-task=8\n"
      << "#SBATCH --mem=64G\n"
      << "\n"
      << "set -euo pipefail\n"
      << "\n"
      << "# Load what the selm binary needs on the compute nodes, for example:\n"
      << "# module load cuda/12.1\n"
      << "\n"
      << "# The selm binary that runs each config (set SELM in the environment to use another one).\n"
      << "SELM=\"${SELM:-" << executable.string() << "}\"\n"
      << "# Relative paths in the configs (model, data, run.output_dir) are relative to this folder.\n"
      << "cd " << shell_single_quoted(working_dir.string()) << "\n"
      << "\n"
      << "CONFIGS=(\n";
  for (const SweepRun& run : plan.runs) out << "  " << shell_single_quoted(run.config_path.string()) << "\n";
  out << ")\n"
      << "\n"
      << "if [[ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]]; then\n"
      << "  echo \"sweep.sbatch: SLURM_ARRAY_TASK_ID is not set; submit this script with sbatch\" >&2\n"
      << "  exit 2\n"
      << "fi\n"
      << "if (( SLURM_ARRAY_TASK_ID < 0 || SLURM_ARRAY_TASK_ID >= ${#CONFIGS[@]} )); then\n"
      << "  echo \"sweep.sbatch: array task $SLURM_ARRAY_TASK_ID is outside 0-$(( ${#CONFIGS[@]} - 1 ))\" >&2\n"
      << "  exit 2\n"
      << "fi\n"
      << "echo \"sweep " << plan.name << " task $SLURM_ARRAY_TASK_ID on ${HOSTNAME:-?}: ${CONFIGS[$SLURM_ARRAY_TASK_ID]}\"\n"
      << "srun \"$SELM\" train -c \"${CONFIGS[$SLURM_ARRAY_TASK_ID]}\"\n";
  return out.str();
}

std::filesystem::path write_slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                                               const std::filesystem::path& working_dir) {
  // Slurm does not create the folder of --output; a missing one loses the task's log.
  std::filesystem::create_directories(plan.directory / "logs");
  const std::filesystem::path script = plan.directory / "sweep.sbatch";
  write_file_atomic(script, slurm_array_script(plan, executable, working_dir));
  std::filesystem::permissions(script, std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec,
                               std::filesystem::perm_options::add);
  return script;
}

std::vector<LocalRunResult> run_sweep_locally(const SweepPlan& plan, const std::filesystem::path& executable,
                                              std::ostream& report) {
  std::vector<LocalRunResult> results;
  const std::size_t count = plan.runs.size();
  for (std::size_t i = 0; i < count; ++i) {
    const SweepRun& run = plan.runs[i];
    report << "sweep run " << (i + 1) << "/" << count << ": " << run.name << std::endl;
    std::fflush(stdout);
    std::fflush(stderr);

    const std::string program = executable.string();
    const std::string config = run.config_path.string();
    std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>("train"),
                               const_cast<char*>("-c"), const_cast<char*>(config.c_str()), nullptr};
    // The child reports a failed exec through this close-on-exec pipe; a successful exec closes it.
    int exec_error_pipe[2] = {-1, -1};
    if (::pipe2(exec_error_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error(std::string("sweep: cannot create a pipe: ") + std::strerror(errno));
    }
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      ::execv(argv[0], argv.data());
      const int error = errno;
      (void)!::write(exec_error_pipe[1], &error, sizeof error);
      ::_exit(127);
    }
    const int fork_error = errno;
    ::close(exec_error_pipe[1]);
    if (pid < 0) {
      ::close(exec_error_pipe[0]);
      throw std::runtime_error(std::string("sweep: fork failed: ") + std::strerror(fork_error));
    }
    int exec_error = 0;
    ssize_t got = 0;
    do {
      got = ::read(exec_error_pipe[0], &exec_error, sizeof exec_error);
    } while (got < 0 && errno == EINTR);
    ::close(exec_error_pipe[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) throw std::runtime_error(std::string("sweep: waitpid failed: ") + std::strerror(errno));
    }
    if (got == static_cast<ssize_t>(sizeof exec_error)) {
      throw std::runtime_error("sweep: cannot run '" + program + "': " + std::strerror(exec_error));
    }

    LocalRunResult result;
    result.name = run.name;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    else result.exit_code = WEXITSTATUS(status);
    report << "sweep run " << (i + 1) << "/" << count << ": " << run.name << " "
           << (result.ok() ? std::string("ok")
               : result.signal != 0 ? "failed (killed by signal " + std::to_string(result.signal) + ")"
                                    : "failed (exit code " + std::to_string(result.exit_code) + ")")
           << " in " << elapsed_text(result.seconds) << std::endl;
    results.push_back(result);
  }
  return results;
}

}  // namespace selm
