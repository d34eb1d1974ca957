#include "jinja_value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "jinja_unicode.hpp"

namespace selm::jinja::detail {

void fail(const std::string& message) { throw Failure(message); }

void fail_undefined(const Value& value) { throw Failure(value.text); }

const Value* Mapping::find(const Value& key) const {
  if (key.kind == Kind::string) return find(std::string_view(key.text));
  for (const auto& [entry_key, entry_value] : entries)
    if (equal(entry_key, key)) return &entry_value;
  return nullptr;
}

const Value* Mapping::find(std::string_view key) const {
  for (const auto& [entry_key, entry_value] : entries)
    if (entry_key.kind == Kind::string && entry_key.text == key) return &entry_value;
  return nullptr;
}

void Mapping::insert(Value key, Value value) {
  for (auto& [entry_key, entry_value] : entries) {
    if (equal(entry_key, key)) {
      entry_value = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

const Value* Namespace::find(const std::string& name) const {
  for (const auto& [attribute, value] : attributes)
    if (attribute == name) return &value;
  return nullptr;
}

void Namespace::set(const std::string& name, Value value) {
  for (auto& [attribute, stored] : attributes) {
    if (attribute == name) {
      stored = std::move(value);
      return;
    }
  }
  attributes.emplace_back(name, std::move(value));
}

Value make_undefined(std::string why) {
  Value value;
  value.text = std::move(why);
  return value;
}

Value make_none() {
  Value value;
  value.kind = Kind::none;
  return value;
}

Value make_bool(bool flag) {
  Value value;
  value.kind = Kind::boolean;
  value.integer = flag ? 1 : 0;
  return value;
}

Value make_int(std::int64_t number) {
  Value value;
  value.kind = Kind::integer;
  value.integer = number;
  return value;
}

Value make_float(double number) {
  Value value;
  value.kind = Kind::floating;
  value.floating = number;
  return value;
}

Value make_string(std::string text, bool markup) {
  Value value;
  value.kind = Kind::string;
  value.text = std::move(text);
  value.markup = markup;
  return value;
}

Value make_sequence(SequenceKind kind, std::vector<Value> items) {
  auto sequence = std::make_shared<Sequence>();
  sequence->kind = kind;
  sequence->items = std::move(items);
  Value value;
  value.kind = Kind::sequence;
  value.object = std::move(sequence);
  return value;
}

Value make_list(std::vector<Value> items) { return make_sequence(SequenceKind::list, std::move(items)); }
Value make_tuple(std::vector<Value> items) { return make_sequence(SequenceKind::tuple, std::move(items)); }

Value make_mapping(std::shared_ptr<Mapping> mapping) {
  Value value;
  value.kind = Kind::mapping;
  value.object = std::move(mapping);
  return value;
}

const Sequence& sequence_of(const Value& value) { return static_cast<const Sequence&>(*value.object); }
Sequence& iterator_of(const Value& value) { return static_cast<Sequence&>(*value.object); }
const Mapping& mapping_of(const Value& value) { return static_cast<const Mapping&>(*value.object); }
Namespace& namespace_of(const Value& value) { return static_cast<Namespace&>(*value.object); }

bool is_sequence_kind(const Value& value, SequenceKind kind) {
  return value.kind == Kind::sequence && sequence_of(value).kind == kind;
}

bool is_list_or_tuple(const Value& value) {
  return is_sequence_kind(value, SequenceKind::list) || is_sequence_kind(value, SequenceKind::tuple);
}

std::string type_name(const Value& value) {
  switch (value.kind) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return value.markup ? "Markup" : "str";
    case Kind::sequence:
      switch (sequence_of(value).kind) {
        case SequenceKind::list: return "list";
        case SequenceKind::tuple: return "tuple";
        case SequenceKind::iterator: return "generator";
        case SequenceKind::range: return "range";
        case SequenceKind::dict_keys: return "dict_keys";
        case SequenceKind::dict_values: return "dict_values";
        case SequenceKind::dict_items: return "dict_items";
      }
      break;
    case Kind::mapping: return "dict";
    case Kind::namespace_object: return "Namespace";
    case Kind::callable:
    case Kind::loop: return value.object->type_name();
  }
  return "object";
}

bool truthy(const Value& value) {
  switch (value.kind) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean:
    case Kind::integer: return value.integer != 0;
    case Kind::floating: return value.floating != 0.0;
    case Kind::string: return !value.text.empty();
    case Kind::sequence:
      // A generator is true even when it would yield nothing.
      return sequence_of(value).kind == SequenceKind::iterator || !sequence_of(value).items.empty();
    case Kind::mapping: return !mapping_of(value).entries.empty();
    case Kind::namespace_object:
    case Kind::callable:
    case Kind::loop: return true;
  }
  return false;
}

std::string float_repr(double number) {
  if (std::isnan(number)) return "nan";
  if (std::isinf(number)) return number > 0 ? "inf" : "-inf";
  // The shortest digits that read back as the same double, then Python's layout: positional
  // notation for exponents -4..15, else d.ddde+XX.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, number, std::chars_format::scientific);
  const std::string scientific(buffer, result.ptr);
  const std::size_t e_at = scientific.find('e');
  std::string mantissa = scientific.substr(0, e_at);
  const int exponent = std::stoi(scientific.substr(e_at + 1));
  std::string sign;
  if (mantissa[0] == '-') {
    sign = "-";
    mantissa.erase(0, 1);
  }
  std::string digits;
  for (const char c : mantissa)
    if (c != '.') digits.push_back(c);
  const int point = exponent + 1;  // digits are 0.DIGITS times 10^point
  const int count = static_cast<int>(digits.size());
  if (point > -4 && point <= 16) {
    if (point <= 0) return sign + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    if (point >= count) return sign + digits + std::string(static_cast<std::size_t>(point - count), '0') + ".0";
    return sign + digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
  }
  std::string out = sign + digits.substr(0, 1);
  if (count > 1) out += "." + digits.substr(1);
  const int shown = point - 1;
  char exponent_text[16];
  std::snprintf(exponent_text, sizeof exponent_text, "e%c%02d", shown < 0 ? '-' : '+', shown < 0 ? -shown : shown);
  return out + exponent_text;
}

std::string string_repr(const std::string& text) {
  const bool has_single = text.find('\'') != std::string::npos;
  const bool has_double = text.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  char escape[16];
  for (const char32_t c : decode_utf8(text)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(c));
      out += escape;
    } else if (c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      const std::optional<bool> printable = is_printable(c);
      if (!printable) {
        std::snprintf(escape, sizeof escape, "U+%04X", static_cast<unsigned>(c));
        fail(std::string("printing the repr of a string holding ") + escape +
             " is not supported (whether Python escapes it is not known here)");
      }
      if (*printable) {
        append_utf8(c, out);
      } else {
        if (c <= 0xFF) std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(c));
        else if (c <= 0xFFFF) std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
        else std::snprintf(escape, sizeof escape, "\\U%08x", static_cast<unsigned>(c));
        out += escape;
      }
    }
  }
  out.push_back(quote);
  return out;
}

namespace {

std::string join_reprs(const std::vector<Value>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += to_repr(items[i]);
  }
  return out;
}

std::string sequence_repr(const Sequence& sequence) {
  switch (sequence.kind) {
    case SequenceKind::list: return "[" + join_reprs(sequence.items) + "]";
    case SequenceKind::tuple:
      if (sequence.items.size() == 1) return "(" + to_repr(sequence.items[0]) + ",)";
      return "(" + join_reprs(sequence.items) + ")";
    case SequenceKind::iterator:
      fail("printing a generator is not supported (Python prints its memory address); convert it with |list");
    case SequenceKind::range: {
      std::string out = "range(" + std::to_string(sequence.range_start) + ", " + std::to_string(sequence.range_stop);
      if (sequence.range_step != 1) out += ", " + std::to_string(sequence.range_step);
      return out + ")";
    }
    case SequenceKind::dict_keys: return "dict_keys([" + join_reprs(sequence.items) + "])";
    case SequenceKind::dict_values: return "dict_values([" + join_reprs(sequence.items) + "])";
    case SequenceKind::dict_items: return "dict_items([" + join_reprs(sequence.items) + "])";
  }
  return "";
}

std::string mapping_repr(const Mapping& mapping) {
  std::string out = "{";
  for (std::size_t i = 0; i < mapping.entries.size(); ++i) {
    if (i > 0) out += ", ";
    out += to_repr(mapping.entries[i].first) + ": " + to_repr(mapping.entries[i].second);
  }
  return out + "}";
}

std::string namespace_repr(const Namespace& space) {
  std::string out = "<Namespace {";
  for (std::size_t i = 0; i < space.attributes.size(); ++i) {
    if (i > 0) out += ", ";
    out += string_repr(space.attributes[i].first) + ": " + to_repr(space.attributes[i].second);
  }
  return out + "}>";
}

}  // namespace

std::string to_str(const Value& value) {
  switch (value.kind) {
    case Kind::undefined: return "";
    case Kind::string: return value.text;
    default: return to_repr(value);
  }
}

std::string to_repr(const Value& value) {
  switch (value.kind) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "None";
    case Kind::boolean: return value.integer ? "True" : "False";
    case Kind::integer: return std::to_string(value.integer);
    case Kind::floating: return float_repr(value.floating);
    case Kind::string: return value.markup ? "Markup(" + string_repr(value.text) + ")" : string_repr(value.text);
    case Kind::sequence: return sequence_repr(sequence_of(value));
    case Kind::mapping: return mapping_repr(mapping_of(value));
    case Kind::namespace_object: return namespace_repr(namespace_of(value));
    case Kind::callable:
    case Kind::loop: return value.object->repr();
  }
  return "";
}

namespace {

// Exact comparison of an int with a float, as Python does (no rounding of the int).
int compare_int_float(std::int64_t a, double b) {
  const long double left = static_cast<long double>(a);
  const long double right = static_cast<long double>(b);
  return left < right ? -1 : (left > right ? 1 : 0);
}

bool numbers_equal(const Value& a, const Value& b) {
  if (a.kind == Kind::floating && b.kind == Kind::floating) return a.floating == b.floating;
  if (a.kind == Kind::floating) return !std::isnan(a.floating) && compare_int_float(b.integer, a.floating) == 0;
  if (b.kind == Kind::floating) return !std::isnan(b.floating) && compare_int_float(a.integer, b.floating) == 0;
  return a.integer == b.integer;
}

bool items_equal(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!equal(a[i], b[i])) return false;
  return true;
}

bool apply_order(int sign, Order order) {
  switch (order) {
    case Order::less: return sign < 0;
    case Order::less_equal: return sign <= 0;
    case Order::greater: return sign > 0;
    case Order::greater_equal: return sign >= 0;
  }
  return false;
}

const char* order_symbol(Order order) {
  switch (order) {
    case Order::less: return "<";
    case Order::less_equal: return "<=";
    case Order::greater: return ">";
    case Order::greater_equal: return ">=";
  }
  return "?";
}

}  // namespace

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return numbers_equal(a, b);
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::undefined:
    case Kind::none: return true;
    case Kind::string: return a.text == b.text;
    case Kind::sequence: {
      const Sequence& left = sequence_of(a);
      const Sequence& right = sequence_of(b);
      if (left.kind != right.kind) return false;
      if (left.kind == SequenceKind::iterator) return a.object == b.object;
      if (left.kind == SequenceKind::dict_keys || left.kind == SequenceKind::dict_values ||
          left.kind == SequenceKind::dict_items) {
        if (a.object == b.object) return true;
        if (left.kind == SequenceKind::dict_values) return false;  // values views compare by identity
        fail("comparing dict views is not supported");               // keys and items compare as sets
      }
      return items_equal(left.items, right.items);
    }
    case Kind::mapping: {
      const Mapping& left = mapping_of(a);
      const Mapping& right = mapping_of(b);
      if (left.entries.size() != right.entries.size()) return false;
      for (const auto& [key, value] : left.entries) {
        const Value* other = right.find(key);
        if (other == nullptr || !equal(value, *other)) return false;
      }
      return true;
    }
    default: return a.object == b.object;
  }
}

bool compare(const Value& a, const Value& b, Order order) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::floating || b.kind == Kind::floating) {
      if ((a.kind == Kind::floating && std::isnan(a.floating)) || (b.kind == Kind::floating && std::isnan(b.floating)))
        return false;
      if (a.kind == Kind::floating && b.kind == Kind::floating)
        return apply_order(a.floating < b.floating ? -1 : (a.floating > b.floating ? 1 : 0), order);
      if (a.kind == Kind::floating) return apply_order(-compare_int_float(b.integer, a.floating), order);
      return apply_order(compare_int_float(a.integer, b.floating), order);
    }
    return apply_order(a.integer < b.integer ? -1 : (a.integer > b.integer ? 1 : 0), order);
  }
  if (a.kind == Kind::string && b.kind == Kind::string) return apply_order(a.text.compare(b.text), order);
  const bool both_lists = is_sequence_kind(a, SequenceKind::list) && is_sequence_kind(b, SequenceKind::list);
  const bool both_tuples = is_sequence_kind(a, SequenceKind::tuple) && is_sequence_kind(b, SequenceKind::tuple);
  if (both_lists || both_tuples) {
    const std::vector<Value>& left = sequence_of(a).items;
    const std::vector<Value>& right = sequence_of(b).items;
    // The first pair of items that differ decides, as in Python; else the shorter is smaller.
    for (std::size_t i = 0; i < left.size() && i < right.size(); ++i)
      if (!equal(left[i], right[i])) return compare(left[i], right[i], order);
    const std::size_t m = left.size();
    const std::size_t n = right.size();
    return apply_order(m < n ? -1 : (m > n ? 1 : 0), order);
  }
  fail(std::string("'") + order_symbol(order) + "' not supported between instances of '" + type_name(a) + "' and '" +
       type_name(b) + "'");
}

void check_hashable(const Value& key) {
  if (key.kind == Kind::mapping) fail("unhashable type: 'dict'");
  if (key.kind != Kind::sequence) return;
  switch (sequence_of(key).kind) {
    case SequenceKind::tuple:
      for (const Value& item : sequence_of(key).items) check_hashable(item);
      return;
    case SequenceKind::range:
    case SequenceKind::iterator:
    case SequenceKind::dict_values: return;  // hashed by identity or value, as in Python
    default: fail("unhashable type: '" + type_name(key) + "'");
  }
}

std::int64_t length_of(const Value& value) {
  switch (value.kind) {
    case Kind::undefined: return 0;
    case Kind::string: return static_cast<std::int64_t>(code_point_count(value.text));
    case Kind::sequence:
      if (sequence_of(value).kind == SequenceKind::iterator) break;
      return static_cast<std::int64_t>(sequence_of(value).items.size());
    case Kind::mapping: return static_cast<std::int64_t>(mapping_of(value).entries.size());
    default: break;
  }
  fail("object of type '" + type_name(value) + "' has no len()");
}

std::vector<Value> iterate(const Value& value) {
  switch (value.kind) {
    case Kind::undefined: return {};
    case Kind::string: {
      std::vector<Value> characters;
      if (is_ascii(value.text)) {
        for (const char c : value.text) characters.push_back(make_string(std::string(1, c)));
      } else {
        for (const char32_t c : decode_utf8(value.text)) {
          std::string character;
          append_utf8(c, character);
          characters.push_back(make_string(std::move(character)));
        }
      }
      return characters;
    }
    case Kind::sequence: {
      if (sequence_of(value).kind != SequenceKind::iterator) return sequence_of(value).items;
      Sequence& iterator = iterator_of(value);
      std::vector<Value> rest(iterator.items.begin() + static_cast<std::ptrdiff_t>(iterator.next), iterator.items.end());
      iterator.next = iterator.items.size();
      return rest;
    }
    case Kind::mapping: {
      std::vector<Value> keys;
      for (const auto& entry : mapping_of(value).entries) keys.push_back(entry.first);
      return keys;
    }
    default: break;
  }
  fail("'" + type_name(value) + "' object is not iterable");
}

namespace {

template <typename Json>
Value value_from_json(const Json& json) {
  switch (json.type()) {
    case Json::value_t::null: return make_none();
    case Json::value_t::boolean: return make_bool(json.template get<bool>());
    case Json::value_t::number_integer: return make_int(json.template get<std::int64_t>());
    case Json::value_t::number_unsigned: {
      const auto number = json.template get<std::uint64_t>();
      if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail("integer " + std::to_string(number) + " in the context is too large (64-bit integers only)");
      return make_int(static_cast<std::int64_t>(number));
    }
    case Json::value_t::number_float: return make_float(json.template get<double>());
    case Json::value_t::string: return make_string(json.template get<std::string>());
    case Json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(value_from_json(item));
      return make_list(std::move(items));
    }
    case Json::value_t::object: {
      auto mapping = std::make_shared<Mapping>();
      mapping->entries.reserve(json.size());
      for (const auto& [key, item] : json.items()) mapping->entries.emplace_back(make_string(key), value_from_json(item));
      return make_mapping(std::move(mapping));
    }
    default: break;
  }
  fail("the context holds a JSON value of an unsupported type (binary)");
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) { return value_from_json(json); }
Value from_json(const nlohmann::json& json) { return value_from_json(json); }

namespace {

std::string json_float(double number) {
  if (std::isnan(number)) return "NaN";
  if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
  return float_repr(number);
}

void append_json_string(const std::string& text, bool ensure_ascii, std::string& out) {
  out.push_back('"');
  char escape[16];
  for (const char32_t c : decode_utf8(text)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        const char32_t offset = c - 0x10000;
        std::snprintf(escape, sizeof escape, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (offset >> 10)),
                      static_cast<unsigned>(0xDC00 + (offset & 0x3FF)));
      } else {
        std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      }
      out += escape;
    } else {
      append_utf8(c, out);
    }
  }
  out.push_back('"');
}

std::string json_key(const Value& key) {
  switch (key.kind) {
    case Kind::string: return key.text;
    case Kind::boolean: return key.integer ? "true" : "false";
    case Kind::integer: return std::to_string(key.integer);
    case Kind::floating: return json_float(key.floating);
    case Kind::none: return "null";
    default: break;
  }
  fail("keys must be str, int, float, bool or None, not " + type_name(key));
}

void append_json(const Value& value, const JsonOptions& options, int level, std::string& out);

// Python's json encoder layout: items on new lines indented one more level when indent is set.
template <typename Items, typename WriteItem>
void append_json_container(const Items& items, char open, char close, const JsonOptions& options, int level,
                           std::string& out, WriteItem write_item) {
  if (items.empty()) {
    out.push_back(open);
    out.push_back(close);
    return;
  }
  out.push_back(open);
  std::string newline_indent;
  if (options.indent) {
    newline_indent = "\n";
    for (int i = 0; i <= level; ++i) newline_indent += *options.indent;
    out += newline_indent;
  }
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += options.item_separator + newline_indent;
    first = false;
    write_item(item, level + 1);
  }
  if (options.indent) {
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += *options.indent;
  }
  out.push_back(close);
}

void append_json(const Value& value, const JsonOptions& options, int level, std::string& out) {
  switch (value.kind) {
    case Kind::none: out += "null"; return;
    case Kind::boolean: out += value.integer ? "true" : "false"; return;
    case Kind::integer: out += std::to_string(value.integer); return;
    case Kind::floating: out += json_float(value.floating); return;
    case Kind::string: append_json_string(value.text, options.ensure_ascii, out); return;
    case Kind::sequence:
      if (is_list_or_tuple(value)) {
        append_json_container(sequence_of(value).items, '[', ']', options, level, out,
                              [&](const Value& item, int inner) { append_json(item, options, inner, out); });
        return;
      }
      break;
    case Kind::mapping: {
      const auto write_entry = [&](const std::pair<Value, Value>* entry, int inner) {
        append_json_string(json_key(entry->first), options.ensure_ascii, out);
        out += options.key_separator;
        append_json(entry->second, options, inner, out);
      };
      std::vector<const std::pair<Value, Value>*> entries;
      for (const auto& entry : mapping_of(value).entries) entries.push_back(&entry);
      if (options.sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
          return compare(a->first, b->first, Order::less);
        });
      append_json_container(entries, '{', '}', options, level, out, write_entry);
      return;
    }
    default: break;
  }
  fail("Object of type " + type_name(value) + " is not JSON serializable");
}

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options) {
  std::string out;
  append_json(value, options, 0, out);
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace selm::jinja::detail
