// How a config struct describes its fields to the config system.
//
// Every section struct (run options, sampling options, the model's hyper-parameters, ...) has
//
//   template <class Visitor> void visit_fields(Visitor& v) {
//     v.field("max_new_tokens", max_new_tokens, "Maximum number of new tokens per response");
//     v.section("sampling", sampling, "Nested section");   // a struct with its own visit_fields
//   }
//
// and every field carries its default as a member initialiser. The config system walks these
// lists to load YAML/JSON (rejecting unknown keys and wrong types with FILE:LINE), apply
// `key.path=value` overrides, dump the resolved config and generate the configuration
// reference, so a field is declared exactly once. Supported field types: bool, int,
// std::int64_t, double, std::string, std::vector of (std::string, double, std::int64_t) and
// std::optional of a scalar (YAML null = unset).
//
// Structs also have `void validate(const selm::FieldChecker& check) const` with range checks;
// FieldChecker (config/field_checker.hpp) names the key and where it was set.
#pragma once
