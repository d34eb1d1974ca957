// Range and consistency checks of a config section, with messages that name the full key and
// the file and line that set it.
#pragma once

#include <map>
#include <string>

namespace selm {

// Where each key of the resolved config was last set ("FILE:LINE" or "command line"); keys left
// at their default are absent.
using KeyOrigins = std::map<std::string, std::string>;

class FieldChecker {
 public:
  FieldChecker(std::string prefix, const KeyOrigins* origins) : prefix_(std::move(prefix)), origins_(origins) {}

  // Throws InputError "ORIGIN: key 'PREFIX.key': MESSAGE" unless `condition` holds.
  void require(bool condition, const std::string& key, const std::string& message) const;
  // The checker for a nested section.
  FieldChecker nested(const std::string& section) const { return FieldChecker(prefix_ + section + ".", origins_); }
  std::string full_key(const std::string& key) const { return prefix_ + key; }

 private:
  std::string prefix_;
  const KeyOrigins* origins_;
};

}  // namespace selm
