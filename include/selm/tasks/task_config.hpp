// Built-in tasks: a task prepares (and caches) everything a run needs from data on the machine,
// so that the quickstart downloads nothing.
#pragma once

#include <cstdint>
#include <string>

#include "selm/config/field_checker.hpp"

namespace selm {

struct TaskConfig {
  std::string name;                        // "" (none) or "fortunes"
  std::string cache_dir = "runs/cache";    // prepared data, tokenizer and SFT model, reused by later runs

  template <class Visitor>
  void visit_fields(Visitor& v) {
    v.field("name", name, "Built-in task that prepares data and the initial model: empty (none) or fortunes");
    v.field("cache_dir", cache_dir, "Folder of the task's prepared data, tokenizer and SFT model, reused by later runs");
  }
  void validate(const FieldChecker& check) const;
};

}  // namespace selm
