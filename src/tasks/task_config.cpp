#include "selm/tasks/task_config.hpp"

namespace selm {

void TaskConfig::validate(const FieldChecker& check) const {
  check.require(name.empty() || name == "fortunes", "name", "unknown task '" + name + "' (known: fortunes)");
  check.require(!cache_dir.empty(), "cache_dir", "must not be empty");
}

}  // namespace selm
