#include "selm/sweep/sweep_spec.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "selm/config/config.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

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

std::string expect_string(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsScalar()) throw_input_error(file, line_of(node), "key '" + key + "': expected a string");
  return node.Scalar();
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
        // The error_code form: a name the system refuses (too long, a NUL) is not found either,
        // rather than a filesystem_error.
        std::error_code error;
        if (!std::filesystem::is_regular_file(resolved, error)) {
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

}  // namespace selm
