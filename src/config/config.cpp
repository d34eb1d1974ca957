#include "selm/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// Value types with a text form (DeviceSpec): static parse(text) -> optional, text(), kChoices.
template <class T, class = void>
struct has_text_form : std::false_type {};
template <class T>
struct has_text_form<T, std::void_t<decltype(T::parse(std::string())), decltype(std::declval<const T&>().text()),
                                    decltype(T::kChoices)>> : std::true_type {};

// online.round_overrides: one OverrideList per round.
template <class T>
inline constexpr bool is_round_overrides_v = std::is_same_v<T, std::vector<OverrideList>>;

// Where a YAML node came from, for messages: "FILE:LINE", or one fixed place for every node of a
// command-line override ("command-line override 'TEXT'") or of a round override.
struct Source {
  std::string file;         // the config file; empty when `place` names the origin
  std::string place;        // the origin of every node when `file` is empty
  std::string where(const YAML::Node& node) const {
    if (!file.empty()) {
      const int line = node.Mark().line;
      return line >= 0 ? file + ":" + std::to_string(line + 1) : file;
    }
    return place;
  }
};

Source override_source(const std::string& text) { return Source{"", "command-line override '" + text + "'"}; }

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean (true or false)";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (has_enum_names_v<T>) return enum_names_text<T>();
  else if constexpr (has_text_form<T>::value) return T::kChoices;
  else if constexpr (is_vector<T>::value) return "a list";
  else return "a value";
}

[[noreturn]] void type_error(const Source& source, const YAML::Node& node, const std::string& key,
                             const std::string& expected) {
  std::string got = node.IsScalar() ? "'" + node.Scalar() + "'" : node.IsSequence() ? "a list" : node.IsMap() ? "a mapping" : "null";
  throw InputError(source.where(node) + ": key '" + key + "': expected " + expected + ", got " + got);
}

// The node as YAML text in flow style (a scalar plain where YAML allows, else quoted).
std::string flow_text(const YAML::Node& node) {
  YAML::Emitter emitter;
  emitter << YAML::Flow << node;
  return emitter.c_str();
}

// The parts of a dotted key path; InputError "`where`: empty key component" for "a..b".
std::vector<std::string> key_parts(const std::string& path, const std::string& where) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (true) {
    std::size_t dot = path.find('.', begin);
    parts.push_back(path.substr(begin, dot - begin));
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  for (const auto& part : parts) {
    if (part.empty()) throw InputError(where + ": empty key component");
  }
  return parts;
}

// The value of an override "key=VALUE": YAML (so lists and null work), except that text which
// only YAML would read as a mapping ("Be brief: really.") stays the plain string the user typed.
YAML::Node override_value(const std::string& raw_value, const std::string& where) {
  const bool explicit_collection = !raw_value.empty() && (raw_value[0] == '[' || raw_value[0] == '{');
  YAML::Node value;
  try {
    value = YAML::Load(raw_value);
  } catch (const YAML::Exception& e) {
    if (explicit_collection) throw InputError(where + ": cannot parse the value: " + e.msg);
    value = YAML::Node(raw_value);
  }
  if (value.IsMap() && !explicit_collection) value = YAML::Node(raw_value);
  return value;
}

// {a: {b: {c: value}}} for "a.b.c".
YAML::Node nest_under(const std::vector<std::string>& parts, const YAML::Node& value) {
  YAML::Node nested = value;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    YAML::Node wrapper(YAML::NodeType::Map);
    wrapper[*it] = nested;
    nested = wrapper;
  }
  return nested;
}

template <class T>
T parse_scalar(const YAML::Node& node, const Source& source, const std::string& key) {
  if (!node.IsScalar()) type_error(source, node, key, type_name<T>());
  const std::string& text = node.Scalar();
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "True") return true;
    if (text == "false" || text == "False") return false;
    type_error(source, node, key, type_name<T>());
  } else if constexpr (std::is_integral_v<T>) {
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(text, &used, 10);
    } catch (const std::exception&) {
      type_error(source, node, key, type_name<T>());
    }
    if (used != text.size() || value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max()) {
      type_error(source, node, key, type_name<T>());
    }
    return static_cast<T>(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text, &used);
    } catch (const std::exception&) {
      type_error(source, node, key, type_name<T>());
    }
    if (used != text.size() || !std::isfinite(value)) type_error(source, node, key, type_name<T>());
    return static_cast<T>(value);
  } else if constexpr (has_enum_names_v<T>) {
    if (const std::optional<T> value = enum_from_name<T>(text)) return *value;
    throw InputError(source.where(node) + ": key '" + key + "': " + enum_error_text<T>(text));
  } else if constexpr (has_text_form<T>::value) {
    if (const std::optional<T> value = T::parse(text)) return *value;
    throw InputError(source.where(node) + ": key '" + key + "': must be " + T::kChoices + ", got '" + text + "'");
  } else {
    static_assert(std::is_same_v<T, std::string>, "unsupported config field type");
    return text;
  }
}

// A round's keys are checked against the config only when the round applies them, but they must
// look like key paths already: the dump writes them as YAML keys, and yaml-cpp writes a key over
// 1024 characters in a form its own parser refuses, so the dump of the config would not load.
void check_round_key_path(const std::string& path, const std::string& where, const std::string& key) {
  constexpr std::size_t kMaxKeyPathLength = 256;  // the longest real path is under 50
  bool plain = !path.empty() && path.size() <= kMaxKeyPathLength;
  for (const char c : path) {
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.');
  }
  if (!plain) {
    throw InputError(where + ": key '" + key + "': '" + path.substr(0, 64) + (path.size() > 64 ? "..." : "") +
                     "' is not a key path (letters, digits, '_' and '.', at most " +
                     std::to_string(kMaxKeyPathLength) + " characters)");
  }
}

// The overrides of a round written as a mapping: dotted keys, nested sections or both.
void collect_round_mapping(const YAML::Node& mapping, const std::string& prefix, const Source& source,
                           const std::string& key, OverrideList& round) {
  for (const auto& entry : mapping) {
    if (!entry.first.IsScalar()) type_error(source, entry.first, key, "a mapping of key.path: value");
    const std::string path = prefix + entry.first.Scalar();
    if (entry.second.IsMap()) {
      collect_round_mapping(entry.second, path + ".", source, key, round);
    } else {
      check_round_key_path(path, source.where(entry.first), key);
      round.push_back(KeyOverride{path, flow_text(entry.second), source.where(entry.first)});
    }
  }
}

// The overrides of a round in the older string form: "train.learning_rate=1e-7 train.beta=0.1"
// (whitespace-separated, so no value can hold a space).
void collect_round_string(const YAML::Node& node, const Source& source, const std::string& key, OverrideList& round) {
  std::istringstream items(node.Scalar());
  std::string item;
  while (items >> item) {
    const std::size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw InputError(source.where(node) + ": key '" + key +
                       "': expected space-separated key.path=value items, got '" + item + "'");
    }
    check_round_key_path(item.substr(0, equals), source.where(node), key);
    const std::string raw_value = item.substr(equals + 1);
    const YAML::Node value = override_value(raw_value, source.where(node) + ": key '" + key + "': '" + item + "'");
    round.push_back(KeyOverride{item.substr(0, equals), flow_text(value), source.where(node)});
  }
}

std::vector<OverrideList> parse_round_overrides(const YAML::Node& node, const Source& source, const std::string& key) {
  if (!node.IsSequence()) type_error(source, node, key, "a list with one mapping of key.path: value per round");
  std::vector<OverrideList> rounds;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string item_key = key + "[" + std::to_string(i) + "]";
    OverrideList round;
    if (node[i].IsMap()) {
      collect_round_mapping(node[i], "", source, item_key, round);
    } else if (node[i].IsScalar()) {
      collect_round_string(node[i], source, item_key, round);
    } else if (!node[i].IsNull()) {  // null: this round changes nothing
      type_error(source, node[i], item_key, "a mapping of key.path: value");
    }
    rounds.push_back(std::move(round));
  }
  return rounds;
}

// Assigns the YAML `node` to `value`, checking its type.
template <class T>
void assign(T& value, const YAML::Node& node, const Source& source, const std::string& key) {
  if constexpr (is_round_overrides_v<T>) {
    value = parse_round_overrides(node, source, key);
  } else if constexpr (is_optional<T>::value) {
    if (node.IsNull()) {
      value.reset();
      return;
    }
    value = parse_scalar<typename T::value_type>(node, source, key);
  } else if constexpr (is_vector<T>::value) {
    if (!node.IsSequence()) type_error(source, node, key, "a list");
    T parsed;
    for (std::size_t i = 0; i < node.size(); ++i) {
      parsed.push_back(parse_scalar<typename T::value_type>(node[i], source, key + "[" + std::to_string(i) + "]"));
    }
    value = std::move(parsed);
  } else {
    value = parse_scalar<T>(node, source, key);
  }
}

// Walks a struct's fields alongside a YAML mapping: sets the fields present, rejects unknown keys.
class YamlReader {
 public:
  YamlReader(const YAML::Node& node, const Source& source, std::string prefix, KeyOrigins* origins)
      : node_(node), source_(source), prefix_(std::move(prefix)), origins_(origins) {}

  template <class T>
  void field(const char* name, T& value, const char*, FieldRole = {}) {
    known_.insert(name);
    const YAML::Node child = node_[name];
    if (!child.IsDefined()) return;
    assign(value, child, source_, prefix_ + name);
    if (origins_ != nullptr) (*origins_)[prefix_ + name] = source_.where(child);
  }

  template <class Section>
  void section(const char* name, Section& value, const char*) {
    known_.insert(name);
    const YAML::Node child = node_[name];
    if (!child.IsDefined() || child.IsNull()) return;
    if (!child.IsMap()) type_error(source_, child, prefix_ + name, "a mapping");
    YamlReader nested(child, source_, prefix_ + name + ".", origins_);
    value.visit_fields(nested);
    nested.reject_unknown_keys();
  }

  void reject_unknown_keys() const {
    for (const auto& entry : node_) {
      const std::string key = entry.first.as<std::string>();
      if (known_.count(key) == 0) {
        std::string message = source_.where(entry.first) + ": unknown key '" + prefix_ + key + "'";
        if (!known_.empty()) {
          message += " (known keys here:";
          for (const auto& name : known_) message += " " + name;
          message += ")";
        }
        throw InputError(message);
      }
    }
  }

 private:
  const YAML::Node& node_;
  const Source& source_;
  std::string prefix_;
  KeyOrigins* origins_;
  std::set<std::string> known_;
};

// Shortest decimal text that reads back as exactly `value`.
std::string format_double(double value) {
  char buffer[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::stod(buffer) == value) break;
  }
  std::string text = buffer;
  // Keep it a float in YAML's eyes (so 1.0 does not read back as the integer 1 elsewhere).
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

template <class T>
std::string scalar_text(const T& value) {
  if constexpr (std::is_same_v<T, bool>) return value ? "true" : "false";
  else if constexpr (std::is_integral_v<T>) return std::to_string(value);
  else if constexpr (std::is_floating_point_v<T>) return format_double(value);
  else if constexpr (has_enum_names_v<T>) return scalar_text(enum_name(value));
  else if constexpr (has_text_form<T>::value) return scalar_text(value.text());
  else {
    YAML::Emitter emitter;
    emitter << YAML::DoubleQuoted << value;
    return emitter.c_str();
  }
}

// Round overrides as YAML: one flow mapping of dotted keys per round.
std::string round_overrides_text(const std::vector<OverrideList>& rounds) {
  YAML::Node list(YAML::NodeType::Sequence);
  for (const OverrideList& round : rounds) {
    YAML::Node mapping(YAML::NodeType::Map);
    for (const KeyOverride& item : round) mapping[item.key] = YAML::Load(item.value);
    list.push_back(mapping);
  }
  return flow_text(list);
}

template <class T>
std::string value_text(const T& value) {
  if constexpr (is_round_overrides_v<T>) {
    return round_overrides_text(value);
  } else if constexpr (is_optional<T>::value) {
    return value.has_value() ? scalar_text(*value) : "null";
  } else if constexpr (is_vector<T>::value) {
    std::string text = "[";
    for (std::size_t i = 0; i < value.size(); ++i) text += (i ? ", " : "") + scalar_text(value[i]);
    return text + "]";
  } else {
    return scalar_text(value);
  }
}

// Writes YAML by hand so that each key can carry its documentation as a comment.
class YamlDumper {
 public:
  explicit YamlDumper(std::ostringstream& out, int indent = 0) : out_(out), indent_(indent) {}

  template <class T>
  void field(const char* name, T& value, const char* doc, FieldRole = {}) {
    out_ << pad() << name << ": " << value_text(value) << "  # " << doc << "\n";
  }

  template <class Section>
  void section(const char* name, Section& value, const char* doc) {
    out_ << pad() << "# " << doc << "\n" << pad() << name << ":\n";
    YamlDumper nested(out_, indent_ + 2);
    value.visit_fields(nested);
  }

 private:
  std::string pad() const { return std::string(static_cast<std::size_t>(indent_), ' '); }
  std::ostringstream& out_;
  int indent_;
};

template <class T>
std::string type_label() {
  if constexpr (is_round_overrides_v<T>) return "list of mappings key.path: value";
  else if constexpr (is_optional<T>::value) return type_label<typename T::value_type>() + " or null";
  else if constexpr (is_vector<T>::value) return "list of " + type_label<typename T::value_type>();
  else if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else if constexpr (has_enum_names_v<T>) return enum_names_text<T>();
  else if constexpr (has_text_form<T>::value) return T::kChoices;
  else return "string";
}

class ReferenceWriter {
 public:
  ReferenceWriter(std::ostringstream& out, std::string prefix) : out_(out), prefix_(std::move(prefix)) {}

  template <class T>
  void field(const char* name, T& value, const char* doc, FieldRole = {}) {
    out_ << "| `" << prefix_ << name << "` | " << type_label<T>() << " | `" << value_text(value) << "` | " << doc << " |\n";
  }

  template <class Section>
  void section(const char* name, Section& value, const char* doc) {
    out_ << "\n## `" << prefix_ << name << "`\n\n" << doc << ".\n\n| key | type | default | meaning |\n|---|---|---|---|\n";
    ReferenceWriter nested(out_, prefix_ + name + ".");
    value.visit_fields(nested);
  }

 private:
  std::ostringstream& out_;
  std::string prefix_;
};

// The round overrides as the list of "key=value key=value" strings they were first written as,
// so that a config's fingerprint did not change when the mapping form came.
std::string round_overrides_fingerprint_text(const std::vector<OverrideList>& rounds) {
  YAML::Node list(YAML::NodeType::Sequence);
  for (const OverrideList& round : rounds) {
    std::string items;
    for (const KeyOverride& item : round) items += (items.empty() ? "" : " ") + item.key + "=" + item.value;
    list.push_back(items);
  }
  return flow_text(list);
}

// Walks every field of a config with its dotted key ("train.alpha"), calling
// visit(key, value, role) for each: one traversal for the derived key lists below.
template <class Visit>
class KeyedFieldWalker {
 public:
  KeyedFieldWalker(std::string prefix, Visit& visit) : prefix_(std::move(prefix)), visit_(visit) {}

  template <class T>
  void field(const char* name, T& value, const char*, FieldRole role = {}) {
    visit_(prefix_ + name, value, role);
  }

  template <class Section>
  void section(const char* name, Section& value, const char*) {
    KeyedFieldWalker nested(prefix_ + name + ".", visit_);
    value.visit_fields(nested);
  }

 private:
  std::string prefix_;
  Visit& visit_;
};

template <class Visit>
void walk_keyed_fields(Config& config, Visit visit) {
  KeyedFieldWalker<Visit> walker("", visit);
  config.visit_fields(walker);
}

// The keys of the fields whose role passes `selected`, from a default config.
std::set<std::string> keys_where(bool (*selected)(const FieldRole&)) {
  std::set<std::string> keys;
  Config defaults;
  walk_keyed_fields(defaults, [&](const std::string& key, auto&, const FieldRole& role) {
    if (selected(role)) keys.insert(key);
  });
  return keys;
}

void apply_node(Config& config, const YAML::Node& root, const Source& source, KeyOrigins* origins) {
  if (!root.IsDefined() || root.IsNull()) return;  // an empty file changes nothing
  if (!root.IsMap()) throw InputError(source.where(root) + ": the config must be a mapping of sections");
  YamlReader reader(root, source, "", origins);
  config.visit_fields(reader);
  reader.reject_unknown_keys();
}

void apply_override(Config& config, const std::string& text, KeyOrigins* origins) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw InputError("command-line override '" + text + "': expected key.path=value");
  }
  const Source source = override_source(text);
  const YAML::Node value = override_value(text.substr(equals + 1), source.place);
  const std::vector<std::string> parts = key_parts(text.substr(0, equals), source.place);
  apply_node(config, nest_under(parts, value), source, origins);
}

void apply_key_override(Config& config, const KeyOverride& item, KeyOrigins* origins) {
  const std::vector<std::string> parts = key_parts(item.key, item.origin + ": key '" + item.key + "'");
  YAML::Node value;
  try {
    value = YAML::Load(item.value);
  } catch (const YAML::Exception& e) {
    throw InputError(item.origin + ": key '" + item.key + "': cannot parse the value: " + e.msg);
  }
  apply_node(config, nest_under(parts, value), Source{"", item.origin}, origins);
}

}  // namespace

void FieldChecker::require(bool condition, const std::string& key, const std::string& message) const {
  if (condition) return;
  const std::string full = prefix_ + key;
  std::string where;
  if (origins_ != nullptr) {
    auto it = origins_->find(full);
    if (it != origins_->end()) where = it->second + ": ";
  }
  throw InputError(where + "key '" + full + "': " + message);
}

void RunConfig::validate(const FieldChecker& check) const {
  check.require(!name.empty() && name.find('/') == std::string::npos, "name", "must be a non-empty name without '/'");
  check.require(!output_dir.empty(), "output_dir", "must not be empty");
  check.require(threads >= 0, "threads", "must be 0 (all cores) or positive");
  check.require(collective_timeout_seconds >= 1 && collective_timeout_seconds <= 86400, "collective_timeout_seconds",
                "must be in 1..86400");
}

void Config::validate(const FieldChecker& check) const {
  run.validate(check.nested("run"));
  tokenizer.validate(check.nested("tokenizer"));
  architecture.validate(check.nested("architecture"));
  generate.validate(check.nested("generate"));
  judge.validate(check.nested("judge"));
  train.validate(check.nested("train"));
  // bf16_mixed keeps the weights the model is loaded in as its float32 master copy.
  check.require(train.precision != TrainPrecision::bf16_mixed || model.dtype == ComputeDtype::float32, "model.dtype",
                "must be float32 with train.precision bf16_mixed (the float32 master weights), got " +
                    enum_name(model.dtype));
  sft.validate(check.nested("sft"));
  online.validate(check.nested("online"));
  eval.validate(check.nested("eval"));
  task.validate(check.nested("task"));
}

Config load_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                   KeyOrigins* origins) {
  return load_config(files, overrides, OverrideList{}, origins);
}

Config load_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                   const OverrideList& later, KeyOrigins* origins) {
  KeyOrigins local_origins;
  KeyOrigins* sink = origins != nullptr ? origins : &local_origins;
  Config config;
  for (const auto& file : files) {
    const std::string text = read_file(file);
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw InputError(file + ":" + std::to_string(e.mark.line + 1) + ": cannot parse YAML/JSON: " + e.msg);
    }
    apply_node(config, root, Source{file, ""}, sink);
  }
  for (const auto& text : overrides) apply_override(config, text, sink);
  for (const auto& item : later) apply_key_override(config, item, sink);
  config.validate(FieldChecker("", sink));
  return config;
}

std::string dump_config_yaml(Config config) {
  std::ostringstream out;
  out << "# Resolved selm configuration (defaults < files < overrides).\n";
  YamlDumper dumper(out);
  config.visit_fields(dumper);
  return out.str();
}

std::string config_reference_markdown() {
  Config defaults;
  std::ostringstream out;
  out << "# Configuration reference\n\nGenerated from the config structs by `selm config --reference`; "
         "every key, its type, default and meaning.\n";
  ReferenceWriter writer(out, "");
  defaults.visit_fields(writer);
  return out.str();
}

std::map<std::string, std::string> result_deciding_values(const Config& config) {
  Config copy = config;  // visit_fields takes its struct by non-const reference
  std::map<std::string, std::string> values;
  walk_keyed_fields(copy, [&values](const std::string& key, auto& value, const FieldRole& role) {
    if (!role.changes_results) return;
    if constexpr (is_round_overrides_v<std::decay_t<decltype(value)>>) {
      values[key] = round_overrides_fingerprint_text(value);
    } else {
      values[key] = flow_text(YAML::Load(value_text(value)));
    }
  });
  return values;
}

const std::set<std::string>& per_run_keys() {
  static const std::set<std::string> keys = keys_where([](const FieldRole& role) { return role.per_run; });
  return keys;
}

const std::set<std::string>& config_keys() {
  static const std::set<std::string> keys = keys_where([](const FieldRole&) { return true; });
  return keys;
}

}  // namespace selm
