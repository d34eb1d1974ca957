// How a config struct describes its fields to the config system.
//
// Every section struct (run options, sampling options, the model's hyper-parameters, ...) has
//
//   template <class Visitor> void visit_fields(Visitor& v) {
//     v.field("max_new_tokens", max_new_tokens, "Maximum number of new tokens per response");
//     v.field("batch_size", batch_size, "Sequences decoded together", field_role::speed);
//     v.section("sampling", sampling, "Nested section");   // a struct with its own visit_fields
//   }
//
// and every field carries its default as a member initialiser. The config system walks these
// lists to load YAML/JSON (rejecting unknown keys and wrong types with FILE:LINE), apply
// `key.path=value` overrides, dump the resolved config, generate the configuration reference
// and tell which keys decide a run's results (the optional FieldRole), so a field is declared
// exactly once. Supported field types: bool, int, std::int64_t, double, std::string,
// std::vector of (std::string, double, std::int64_t), std::optional of a scalar (YAML null =
// unset), enums with EnumNames (config/enum_names.hpp), value types with a text form (a static
// `parse(text)` returning std::optional, `text()` and `kChoices`, e.g. DeviceSpec) and lists of
// OverrideList (config/key_override.hpp).
//
// Structs also have `void validate(const selm::FieldChecker& check) const` with range checks;
// FieldChecker (config/field_checker.hpp) names the key and where it was set.
//
// A visitor is a class with
//   template <class T> void field(const char* name, T& value, const char* doc, FieldRole role = {});
//   template <class Section> void section(const char* name, Section& value, const char* doc);
#pragma once

namespace selm {

// What a field means when two configs are compared; the optional last argument of v.field.
struct FieldRole {
  // false: the field only changes how fast, how verbosely or with which cache a run goes, not
  // what it computes; a run may resume with another value (result_deciding_values).
  bool changes_results = true;
  // true: the field names, places or seeds one run of an experiment; `selm compare` groups runs
  // that differ only in such keys (per_run_keys).
  bool per_run = false;
};

namespace field_role {
inline constexpr FieldRole results{true, false};       // the default: decides what a run computes
inline constexpr FieldRole speed{false, false};        // speed, verbosity, caching
inline constexpr FieldRole run_identity{true, true};   // names and seeds of one run of an experiment
inline constexpr FieldRole process{false, true};       // options of the process running one run
}  // namespace field_role

}  // namespace selm
