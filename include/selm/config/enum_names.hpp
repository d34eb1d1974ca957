// The text names of an enum-valued setting, declared once next to the enum. The config system
// parses, dumps and documents such a field by them (config/fields.hpp), so no code below the
// config layer sees the setting as a string:
//
//   enum class LrScheduleType { cosine, constant };
//   template <>
//   struct EnumNames<LrScheduleType> {
//     static constexpr EnumName<LrScheduleType> entries[] = {{LrScheduleType::cosine, "cosine"},
//                                                             {LrScheduleType::constant, "constant"}};
//     static constexpr const char* noun = "schedule";  // optional, see enum_error_text
//   };
#pragma once

#include <optional>
#include <string>
#include <type_traits>

#include "selm/util/error.hpp"

namespace selm {

template <class Enum>
struct EnumName {
  Enum value;
  const char* name;
};

// Specialised for each enum-valued setting: `entries` lists every value once, in the order the
// documentation names them.
template <class Enum>
struct EnumNames;

template <class T, class = void>
struct has_enum_names : std::false_type {};
template <class T>
struct has_enum_names<T, std::void_t<decltype(EnumNames<T>::entries)>> : std::true_type {};
template <class T>
inline constexpr bool has_enum_names_v = has_enum_names<T>::value;

template <class T, class = void>
struct has_enum_noun : std::false_type {};
template <class T>
struct has_enum_noun<T, std::void_t<decltype(EnumNames<T>::noun)>> : std::true_type {};

template <class Enum>
std::string enum_name(Enum value) {
  for (const auto& entry : EnumNames<Enum>::entries) {
    if (entry.value == value) return entry.name;
  }
  return "?";  // a value cast from outside the enumerators
}

template <class Enum>
std::optional<Enum> enum_from_name(const std::string& name) {
  for (const auto& entry : EnumNames<Enum>::entries) {
    if (name == entry.name) return entry.value;
  }
  return std::nullopt;
}

// The names joined as "a, b or c" (`last` = " or ") or "a, b, c" (`last` = ", ").
template <class Enum>
std::string enum_names_text(const char* last = " or ") {
  const auto& entries = EnumNames<Enum>::entries;
  const std::size_t count = std::extent_v<std::remove_reference_t<decltype(entries)>>;
  std::string text;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) text += i + 1 == count ? last : ", ";
    text += entries[i].name;
  }
  return text;
}

// What is wrong with `name`, without key or place: "unknown NOUN 'x' (known: a, b, c)" for enums
// that declare a noun, else "must be a, b or c, got 'x'".
template <class Enum>
std::string enum_error_text(const std::string& name) {
  if constexpr (has_enum_noun<Enum>::value) {
    return std::string("unknown ") + EnumNames<Enum>::noun + " '" + name + "' (known: " + enum_names_text<Enum>(", ") +
           ")";
  } else {
    return "must be " + enum_names_text<Enum>() + ", got '" + name + "'";
  }
}

// The enum named `name`, or an InputError "key 'KEY': ..." (command-line flags, file formats; a
// config's settings are parsed by the config system itself).
template <class Enum>
Enum parse_enum(const std::string& name, const std::string& key) {
  if (const std::optional<Enum> value = enum_from_name<Enum>(name)) return *value;
  throw InputError("key '" + key + "': " + enum_error_text<Enum>(name));
}

}  // namespace selm
