#include "selm/sweep/slurm_script.hpp"

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string_view>

#include "selm/util/files.hpp"
#include "sweep_sbatch_template.hpp"

namespace selm {

namespace {

std::string shell_single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += "'\\''";
    else quoted += c;
  }
  return quoted + "'";
}

// `text` with every {{name}} replaced by values.at(name). The values are inserted as they are
// (never scanned for placeholders themselves). A placeholder without a value is a mistake in the
// embedded template, not in the user's input.
std::string fill_placeholders(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string filled;
  filled.reserve(text.size());
  std::size_t at = 0;
  while (true) {
    const std::size_t open = text.find("{{", at);
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) throw std::logic_error("sweep.sbatch template: unterminated '{{'");
    const std::string name(text.substr(open + 2, close - open - 2));
    const auto value = values.find(name);
    if (value == values.end()) throw std::logic_error("sweep.sbatch template: no value for '{{" + name + "}}'");
    filled.append(text.substr(at, open - at));
    filled += value->second;
    at = close + 2;
  }
  filled.append(text.substr(at));
  return filled;
}

}  // namespace

std::string slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                               const std::filesystem::path& working_dir, const SlurmResources& resources) {
  const std::filesystem::path logs_dir = std::filesystem::absolute(plan.directory / "logs").lexically_normal();
  const std::size_t count = plan.runs.size();
  std::string config_lines;
  for (const SweepRun& run : plan.runs) config_lines += "  " + shell_single_quoted(run.config_path.string()) + "\n";
  return fill_placeholders(sweep_sbatch_template(),
                           {{"sweep_name", plan.name},
                            {"run_count", std::to_string(count)},
                            {"last_task", std::to_string(count - 1)},
                            {"script_path", (plan.directory / "sweep.sbatch").string()},
                            {"log_pattern", (logs_dir / "%x-%A_%a.out").string()},
                            {"executable", executable.string()},
                            {"working_dir_quoted", shell_single_quoted(working_dir.string())},
                            {"config_lines", config_lines},
                            {"nodes", std::to_string(resources.nodes)},
                            {"gpus_per_node", std::to_string(resources.gpus_per_node)}});
}

std::filesystem::path write_slurm_array_script(const SweepPlan& plan, const std::filesystem::path& executable,
                                               const std::filesystem::path& working_dir,
                                               const SlurmResources& resources) {
  // Slurm does not create the folder of --output; a missing one loses the task's log.
  std::filesystem::create_directories(plan.directory / "logs");
  const std::filesystem::path script = plan.directory / "sweep.sbatch";
  write_file_atomic(script, slurm_array_script(plan, executable, working_dir, resources));
  std::filesystem::permissions(script, std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec,
                               std::filesystem::perm_options::add);
  return script;
}

}  // namespace selm
