#include "jinja_filters.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "jinja_arguments.hpp"
#include "jinja_evaluator.hpp"
#include "jinja_operators.hpp"
#include "jinja_strings.hpp"
#include "jinja_unicode.hpp"

namespace selm::jinja::detail {
namespace {

Value make_iterator(std::vector<Value> items) { return make_sequence(SequenceKind::iterator, std::move(items)); }

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0 (items first, as x[...]).
std::vector<Value> attribute_parts(const Value& attribute) {
  if (attribute.is_none()) return {};
  if (!attribute.is_string()) return {attribute};
  std::vector<Value> parts;
  for (const std::string& part : py_split(attribute.text, std::string("."), -1)) {
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
      std::int64_t index = 0;
      const auto parsed = std::from_chars(part.data(), part.data() + part.size(), index);
      if (parsed.ec != std::errc()) fail("attribute index " + part + " is too large");
      parts.push_back(make_int(index));
    } else {
      parts.push_back(make_string(part));
    }
  }
  return parts;
}

Value get_parts(Evaluator& evaluator, Value item, const std::vector<Value>& parts, const std::optional<Value>& fallback) {
  for (const Value& part : parts) {
    item = evaluator.get_item(item, part);
    if (fallback && !fallback->is_none() && item.is_undefined()) item = *fallback;
  }
  return item;
}

// jinja2's ignore_case: strings compare lowercased unless case_sensitive.
Value ignore_case(const Value& value) {
  if (value.is_string()) return make_string(py_lower(value.text));
  return value;
}

// --- filters ----------------------------------------------------------------------------------

Value filter_abs(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "abs");
  if (input.kind == Kind::floating) return make_float(std::fabs(input.floating));
  if (input.is_int_like()) {
    if (input.integer == std::numeric_limits<std::int64_t>::min()) fail("integer overflow in abs()");
    return make_int(input.integer < 0 ? -input.integer : input.integer);
  }
  if (input.is_undefined()) fail_undefined(input);
  fail("bad operand type for abs(): '" + type_name(input) + "'");
}

Value filter_capitalize(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "capitalize");
  return make_string(py_capitalize(to_str(input)), input.markup);
}

Value filter_center(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "center", {"width"});
  const std::int64_t width = bound[0] ? to_index(*bound[0], "center() width") : 80;
  return make_string(py_pad(to_str(input), width, " ", 0), input.markup);
}

Value filter_length(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "length");
  return make_int(length_of(input));
}

Value filter_default(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "default", {"default_value", "boolean"});
  if (input.is_undefined() || (optional_flag(bound[1], false) && !truthy(input)))
    return bound[0] ? *bound[0] : make_string("");
  return input;
}


// The items of (sort key, item) pairs as a list, stably sorted by key as Python's sorted() does.
Value list_sorted_by_key(std::vector<std::pair<Value, Value>> keyed, bool reverse) {
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? compare(b.first, a.first, Order::less) : compare(a.first, b.first, Order::less);
  });
  std::vector<Value> items;
  for (auto& entry : keyed) items.push_back(std::move(entry.second));
  return make_list(std::move(items));
}

Value filter_dictsort(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "dictsort", {"case_sensitive", "by", "reverse"});
  if (input.kind != Kind::mapping) fail("'" + type_name(input) + "' object has no attribute 'items'");
  const bool case_sensitive = optional_flag(bound[0], false);
  const std::string by = bound[1] ? to_text(*bound[1], "dictsort() by") : "key";
  if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
  const std::size_t position = by == "key" ? 0 : 1;
  const bool reverse = optional_flag(bound[2], false);
  std::vector<std::pair<Value, Value>> keyed;  // sort key, item
  for (const auto& [key, value] : mapping_of(input).entries) {
    const Value& chosen = position == 0 ? key : value;
    keyed.emplace_back(case_sensitive ? chosen : ignore_case(chosen), make_tuple({key, value}));
  }
  return list_sorted_by_key(std::move(keyed), reverse);
}

Value filter_escape(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "escape");
  if (input.is_string() && input.markup) return input;
  return make_string(html_escape(to_str(input)), true);
}

Value filter_first(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "first");
  if (is_sequence_kind(input, SequenceKind::iterator)) {
    Sequence& iterator = iterator_of(input);
    if (iterator.next < iterator.items.size()) return iterator.items[iterator.next++];
  } else {
    std::vector<Value> items = iterate(input);
    if (!items.empty()) return items.front();
  }
  return make_undefined("No first item, sequence was empty.");
}

Value filter_last(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "last");
  if (is_sequence_kind(input, SequenceKind::iterator)) fail("'generator' object is not reversible");
  std::vector<Value> items = iterate(input);
  if (!items.empty()) return items.back();
  return make_undefined("No last item, sequence was empty.");
}

// Python's float(str): surrounding whitespace, a sign, digits with single underscores, an
// optional fraction and exponent, or inf/infinity/nan in any case.
std::optional<double> parse_python_float(const std::string& raw) {
  std::string text = py_strip(raw, std::nullopt, StripSide::both);
  if (text.empty()) return std::nullopt;
  std::string clean;
  std::size_t i = 0;
  if (text[0] == '+' || text[0] == '-') clean.push_back(text[i++]);
  std::string rest = text.substr(i);
  std::string lowered = py_lower(rest);
  if (lowered == "inf" || lowered == "infinity" || lowered == "nan") {
    const double special = lowered == "nan" ? std::numeric_limits<double>::quiet_NaN()
                                           : std::numeric_limits<double>::infinity();
    return clean == "-" ? -special : special;
  }
  bool digits_seen = false;
  bool previous_digit = false;
  for (std::size_t k = 0; k < rest.size(); ++k) {
    const char c = rest[k];
    if (c >= '0' && c <= '9') {
      digits_seen = true;
      previous_digit = true;
      clean.push_back(c);
    } else if (c == '_') {
      if (!previous_digit || k + 1 >= rest.size() || rest[k + 1] < '0' || rest[k + 1] > '9') return std::nullopt;
      previous_digit = false;
    } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
      previous_digit = false;
      clean.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  if (!digits_seen) return std::nullopt;
  const char* first = clean.data();
  bool negative = false;
  if (*first == '+') ++first;
  else if (*first == '-') negative = true;
  double value = 0.0;
  const auto parsed = std::from_chars(first, clean.data() + clean.size(), value);
  if (parsed.ptr != clean.data() + clean.size()) return std::nullopt;
  if (parsed.ec == std::errc::result_out_of_range) {
    // Python rounds an overflowing literal to infinity and an underflowing one to zero.
    const std::size_t e_at = clean.find_first_of("eE");
    const bool tiny = e_at != std::string::npos && clean.find('-', e_at) != std::string::npos;
    value = tiny ? 0.0 : std::numeric_limits<double>::infinity();
    if (negative) value = -value;
  } else if (parsed.ec != std::errc()) {
    return std::nullopt;
  }
  return value;
}

Value filter_float(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "float", {"default"});
  const Value fallback = bound[0] ? *bound[0] : make_float(0.0);
  if (input.is_undefined()) fail_undefined(input);
  if (input.is_number()) return make_float(input.as_double());
  if (input.is_string()) {
    if (const auto parsed = parse_python_float(input.text)) return make_float(*parsed);
  }
  return fallback;
}

Value float_to_int(double number) {
  if (std::isinf(number)) fail("cannot convert float infinity to integer");
  const double truncated = std::trunc(number);
  if (truncated >= 9.2233720368547758e18 || truncated < -9.2233720368547758e18)
    fail("integer beyond 64 bits (from a float) is not supported");
  return make_int(static_cast<std::int64_t>(truncated));
}

// Python's int(str, base) for bases 2, 8, 10 and 16.
std::optional<std::int64_t> parse_python_int(const std::string& raw, std::int64_t base) {
  std::string text = py_strip(raw, std::nullopt, StripSide::both);
  bool negative = false;
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (base != 10 && i + 1 < text.size() && text[i] == '0') {
    const char prefix = static_cast<char>(text[i + 1] | 0x20);
    if ((base == 16 && prefix == 'x') || (base == 8 && prefix == 'o') || (base == 2 && prefix == 'b')) {
      i += 2;
      if (i < text.size() && text[i] == '_') ++i;
    }
  }
  std::string digits;
  bool previous_digit = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '_') {
      if (!previous_digit) return std::nullopt;
      previous_digit = false;
      continue;
    }
    digits.push_back(c);
    previous_digit = true;
  }
  if (digits.empty() || !previous_digit) return std::nullopt;
  std::uint64_t magnitude = 0;
  const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, static_cast<int>(base));
  if (parsed.ptr != digits.data() + digits.size()) return std::nullopt;
  if (parsed.ec != std::errc() || magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    fail("integer beyond 64 bits is not supported");
  const auto value = static_cast<std::int64_t>(magnitude);
  return negative ? -value : value;
}

Value filter_int(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "int", {"default", "base"});
  const Value fallback = bound[0] ? *bound[0] : make_int(0);
  const std::int64_t base = bound[1] ? to_index(*bound[1], "int() base") : 10;
  if (input.is_undefined()) fail_undefined(input);
  if (input.is_int_like()) return make_int(input.integer);
  if (input.kind == Kind::floating) {
    if (std::isnan(input.floating)) return fallback;
    return float_to_int(input.floating);
  }
  if (input.is_string()) {
    if (base != 2 && base != 8 && base != 10 && base != 16) fail("int() with base " + std::to_string(base) + " is not supported");
    if (const auto parsed = parse_python_int(input.text, base)) return make_int(*parsed);
    // jinja2 then tries int(float(value)), so that "42.23"|int is 42.
    if (const auto number = parse_python_float(input.text)) {
      if (std::isnan(*number)) return fallback;
      return float_to_int(*number);
    }
  }
  return fallback;
}

Value filter_indent(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "indent", {"width", "first", "blank"});
  std::string indentation = "    ";
  if (bound[0]) {
    if (bound[0]->is_string()) indentation = bound[0]->text;
    else indentation = std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, to_index(*bound[0], "indent() width"))), ' ');
  }
  if (input.is_undefined()) fail_undefined(input);
  if (!input.is_string()) fail("unsupported operand type(s) for +=: '" + type_name(input) + "' and 'str'");
  const std::vector<std::string> lines = py_splitlines(input.text + "\n", false);
  std::string result;
  if (optional_flag(bound[2], false)) {
    for (std::size_t i = 0; i < lines.size(); ++i) result += (i == 0 ? "" : "\n" + indentation) + lines[i];
  } else {
    result = lines.empty() ? "" : lines[0];
    if (lines.size() > 1) {
      result += "\n";
      for (std::size_t i = 1; i < lines.size(); ++i) {
        if (i > 1) result += "\n";
        result += lines[i].empty() ? lines[i] : indentation + lines[i];
      }
    }
  }
  if (optional_flag(bound[1], false)) result = indentation + result;
  return make_string(std::move(result), input.markup);
}

Value filter_items(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "items");
  if (input.is_undefined()) return make_iterator({});
  if (input.kind != Kind::mapping) fail("Can only get item pairs from a mapping.");
  std::vector<Value> pairs;
  for (const auto& [key, value] : mapping_of(input).entries) pairs.push_back(make_tuple({key, value}));
  return make_iterator(std::move(pairs));
}

Value filter_join(Evaluator& evaluator, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "join", {"d", "attribute"});
  const std::string separator = bound[0] ? to_str(*bound[0]) : "";
  const std::vector<Value> parts = bound[1] ? attribute_parts(*bound[1]) : std::vector<Value>();
  std::string out;
  bool first = true;
  for (const Value& item : iterate(input)) {
    if (!first) out += separator;
    first = false;
    out += to_str(bound[1] ? get_parts(evaluator, item, parts, std::nullopt) : item);
  }
  return make_string(std::move(out));
}

Value filter_list(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "list");
  return make_list(iterate(input));
}

Value filter_lower(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "lower");
  return make_string(py_lower(to_str(input)), input.markup);
}

Value filter_upper(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "upper");
  return make_string(py_upper(to_str(input)), input.markup);
}

Value filter_map(Evaluator& evaluator, const Value& input, const Arguments& arguments) {
  if (!truthy(input)) return make_iterator({});
  const std::vector<Value> items = iterate(input);
  std::vector<Value> mapped;
  if (arguments.positional.empty()) {
    // map(attribute='a.b', default=...): only those keywords, as jinja2 requires.
    const auto bound = bind_arguments(arguments, "map", {"attribute", "default"});
    if (!bound[0]) fail("map requires a filter argument");
    const std::vector<Value> parts = attribute_parts(*bound[0]);
    for (const Value& item : items) mapped.push_back(get_parts(evaluator, item, parts, bound[1]));
    return make_iterator(std::move(mapped));
  }
  const std::string& name = to_text(arguments.positional[0], "map() filter name");
  Arguments rest;
  rest.positional.assign(arguments.positional.begin() + 1, arguments.positional.end());
  rest.keywords = arguments.keywords;
  for (const Value& item : items) mapped.push_back(evaluator.call_filter(name, item, rest));
  return make_iterator(std::move(mapped));
}

// select, reject, selectattr and rejectattr.
Value select_or_reject(Evaluator& evaluator, const Value& input, const Arguments& arguments, bool keep_when,
                       bool by_attribute, const char* callee) {
  if (!truthy(input)) return make_iterator({});
  std::size_t next_argument = 0;
  std::vector<Value> parts;
  if (by_attribute) {
    if (arguments.positional.empty()) fail(std::string(callee) + ": missing parameter for attribute name");
    parts = attribute_parts(arguments.positional[0]);
    next_argument = 1;
  }
  std::optional<std::string> test_name;
  Arguments test_arguments;
  if (arguments.positional.size() > next_argument) {
    test_name = to_text(arguments.positional[next_argument], std::string(callee) + "() test name");
    test_arguments.positional.assign(arguments.positional.begin() + static_cast<std::ptrdiff_t>(next_argument) + 1,
                                     arguments.positional.end());
    test_arguments.keywords = arguments.keywords;
  }
  std::vector<Value> kept;
  for (const Value& item : iterate(input)) {
    const Value subject = by_attribute ? get_parts(evaluator, item, parts, std::nullopt) : item;
    const bool passed = test_name ? evaluator.call_test(*test_name, subject, test_arguments) : truthy(subject);
    if (passed == keep_when) kept.push_back(item);
  }
  return make_iterator(std::move(kept));
}

Value filter_select(Evaluator& e, const Value& input, const Arguments& a) {
  return select_or_reject(e, input, a, true, false, "select");
}
Value filter_reject(Evaluator& e, const Value& input, const Arguments& a) {
  return select_or_reject(e, input, a, false, false, "reject");
}
Value filter_selectattr(Evaluator& e, const Value& input, const Arguments& a) {
  return select_or_reject(e, input, a, true, true, "selectattr");
}
Value filter_rejectattr(Evaluator& e, const Value& input, const Arguments& a) {
  return select_or_reject(e, input, a, false, true, "rejectattr");
}

Value filter_replace(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "replace", {"old", "new", "count"});
  if (!bound[0] || !bound[1]) fail("replace() needs the old and the new string");
  const std::int64_t count = optional_index(bound[2], "replace() count").value_or(-1);
  return make_string(py_replace(to_str(input), to_str(*bound[0]), to_str(*bound[1]), count));
}

Value filter_reverse(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "reverse");
  if (input.is_string()) {
    std::u32string characters = decode_utf8(input.text);
    std::reverse(characters.begin(), characters.end());
    return make_string(encode_utf8(characters), input.markup);
  }
  // reversed() of a generator fails, so jinja2 makes a list of it and reverses that.
  const bool generator = is_sequence_kind(input, SequenceKind::iterator);
  if (input.kind != Kind::sequence && input.kind != Kind::mapping && !input.is_undefined())
    fail("argument must be iterable");
  std::vector<Value> items = iterate(input);
  std::reverse(items.begin(), items.end());
  return generator ? make_list(std::move(items)) : make_iterator(std::move(items));
}

// Python's round(x, n) for a float: correctly rounded, halves to even (printf rounds the exact
// binary value the same way).
double round_float(double number, std::int64_t digits) {
  if (!std::isfinite(number) || digits > 330) return number;
  if (digits < 0) fail("round() of a float to a negative number of digits is not supported");
  const int precision = static_cast<int>(digits);
  std::vector<char> buffer(static_cast<std::size_t>(precision) + 400);
  std::snprintf(buffer.data(), buffer.size(), "%.*f", precision, number);
  double rounded = 0.0;
  std::from_chars(buffer.data(), buffer.data() + std::char_traits<char>::length(buffer.data()), rounded);
  if (rounded == 0.0) rounded = std::copysign(0.0, number);
  return rounded;
}

std::int64_t round_int(std::int64_t number, std::int64_t digits) {
  if (digits >= 0) return number;
  if (digits < -18) return 0;
  std::int64_t unit = 1;
  for (std::int64_t i = 0; i < -digits; ++i) unit *= 10;
  std::int64_t quotient = number / unit;
  std::int64_t remainder = number % unit;
  if (remainder < 0) {
    remainder += unit;
    --quotient;
  }
  if (remainder * 2 > unit || (remainder * 2 == unit && quotient % 2 != 0)) ++quotient;
  std::int64_t result = 0;
  if (__builtin_mul_overflow(quotient, unit, &result)) fail("integer overflow in round()");
  return result;
}

Value filter_round(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "round", {"precision", "method"});
  const std::string method = bound[1] ? to_text(*bound[1], "round() method") : "common";
  if (method != "common" && method != "ceil" && method != "floor") fail("method must be common, ceil or floor");
  if (input.is_undefined()) fail_undefined(input);
  if (!input.is_number()) fail("type " + type_name(input) + " doesn't define __round__ method");
  const bool no_precision = bound[0] && bound[0]->is_none();
  const std::int64_t precision = bound[0] && !no_precision ? to_index(*bound[0], "round() precision") : 0;
  if (method == "common") {
    if (input.is_int_like()) return make_int(round_int(input.integer, precision));
    if (no_precision) {
      const double rounded = std::nearbyint(input.floating);
      return float_to_int(rounded);
    }
    return make_float(round_float(input.floating, precision));
  }
  // jinja2: math.ceil/floor(value * 10**precision) / 10**precision, a float.
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = input.as_double() * scale;
  const double whole = method == "ceil" ? std::ceil(scaled) : std::floor(scaled);
  return make_float(whole / scale);
}

Value filter_safe(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "safe");
  return make_string(to_str(input), true);
}

Value filter_sort(Evaluator& evaluator, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "sort", {"reverse", "case_sensitive", "attribute"});
  const bool reverse = optional_flag(bound[0], false);
  const bool case_sensitive = optional_flag(bound[1], false);
  std::vector<std::vector<Value>> attribute_paths;
  if (bound[2] && bound[2]->is_string()) {
    for (const std::string& part : py_split(bound[2]->text, std::string(","), -1))
      attribute_paths.push_back(attribute_parts(make_string(part)));
  } else {
    attribute_paths.push_back(bound[2] ? attribute_parts(*bound[2]) : std::vector<Value>());
  }
  std::vector<std::pair<Value, Value>> keyed;  // sort key (a list, as make_multi_attrgetter), item
  for (const Value& item : iterate(input)) {
    std::vector<Value> key;
    for (const auto& path : attribute_paths) {
      Value part = get_parts(evaluator, item, path, std::nullopt);
      key.push_back(case_sensitive ? part : ignore_case(part));
    }
    keyed.emplace_back(make_list(std::move(key)), item);
  }
  return list_sorted_by_key(std::move(keyed), reverse);
}

Value filter_string(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "string");
  if (input.is_string()) return input;
  return make_string(to_str(input));
}

// jinja2's title filter (not str.title): each piece after a run of spaces, '-', '(', '{', '['
// or '<' gets its first character upper-cased and the rest lower-cased.
Value filter_title(Evaluator&, const Value& input, const Arguments& arguments) {
  no_arguments(arguments, "title");
  const std::u32string text = decode_utf8(to_str(input));
  const auto separator = [](char32_t c) {
    return is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
  };
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i;
    const bool separators = separator(text[i]);
    while (end < text.size() && separator(text[end]) == separators) ++end;
    out += py_upper(encode_utf8(text.data() + i, text.data() + i + 1));
    out += py_lower(encode_utf8(text.data() + i + 1, text.data() + end));
    i = end;
  }
  return make_string(std::move(out));
}

Value filter_tojson(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions options;
  options.ensure_ascii = optional_flag(bound[0], false);
  if (bound[1] && !bound[1]->is_none()) {
    if (bound[1]->is_string()) {
      options.indent = bound[1]->text;
    } else {
      const std::int64_t width = to_index(*bound[1], "tojson() indent");
      options.indent = std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, width)), ' ');
    }
    options.item_separator = ",";
  }
  if (bound[2] && !bound[2]->is_none()) {
    if (!is_list_or_tuple(*bound[2]) || sequence_of(*bound[2]).items.size() != 2)
      fail("tojson() separators must be a pair of strings");
    options.item_separator = to_text(sequence_of(*bound[2]).items[0], "tojson() item separator");
    options.key_separator = to_text(sequence_of(*bound[2]).items[1], "tojson() key separator");
  }
  options.sort_keys = optional_flag(bound[3], false);
  return make_string(to_json(input, options));
}

Value filter_trim(Evaluator&, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "trim", {"chars"});
  std::optional<std::string> chars = optional_text(bound[0], "trim() chars");
  // Markup.strip escapes its argument, as markupsafe's methods do.
  if (chars && input.markup && !bound[0]->markup) chars = html_escape(*chars);
  return make_string(py_strip(to_str(input), chars, StripSide::both), input.markup);
}

Value filter_unique(Evaluator& evaluator, const Value& input, const Arguments& arguments) {
  const auto bound = bind_arguments(arguments, "unique", {"case_sensitive", "attribute"});
  const bool case_sensitive = optional_flag(bound[0], false);
  const std::vector<Value> parts = bound[1] ? attribute_parts(*bound[1]) : std::vector<Value>();
  std::vector<Value> seen;
  std::vector<Value> kept;
  for (const Value& item : iterate(input)) {
    Value key = get_parts(evaluator, item, parts, std::nullopt);
    if (!case_sensitive) key = ignore_case(key);
    check_hashable(key);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& other) { return equal(other, key); })) {
      seen.push_back(key);
      kept.push_back(item);
    }
  }
  return make_iterator(std::move(kept));
}

struct FilterEntry {
  const char* name;
  FilterFunction function;
};

constexpr FilterEntry kFilters[] = {
    {"abs", filter_abs},
    {"capitalize", filter_capitalize},
    {"center", filter_center},
    {"count", filter_length},
    {"d", filter_default},
    {"default", filter_default},
    {"dictsort", filter_dictsort},
    {"e", filter_escape},
    {"escape", filter_escape},
    {"first", filter_first},
    {"float", filter_float},
    {"indent", filter_indent},
    {"int", filter_int},
    {"items", filter_items},
    {"join", filter_join},
    {"last", filter_last},
    {"length", filter_length},
    {"list", filter_list},
    {"lower", filter_lower},
    {"map", filter_map},
    {"reject", filter_reject},
    {"rejectattr", filter_rejectattr},
    {"replace", filter_replace},
    {"reverse", filter_reverse},
    {"round", filter_round},
    {"safe", filter_safe},
    {"select", filter_select},
    {"selectattr", filter_selectattr},
    {"sort", filter_sort},
    {"string", filter_string},
    {"title", filter_title},
    {"tojson", filter_tojson},
    {"trim", filter_trim},
    {"unique", filter_unique},
    {"upper", filter_upper},
};

// jinja2 3.1's filters that this engine lacks.
constexpr const char* kUnsupportedFilters[] = {
    "attr",   "batch",    "filesizeformat", "forceescape", "format",    "groupby",   "max",
    "min",    "pprint",   "random",         "slice",       "striptags", "sum",       "truncate",
    "urlencode", "urlize", "wordcount",     "wordwrap",    "xmlattr",
};

// --- tests ------------------------------------------------------------------------------------

Value test_argument(const Arguments& arguments, const char* test) {
  const auto bound = bind_arguments(arguments, test, {"other"});
  if (!bound[0]) fail(std::string("the test '") + test + "' needs an argument");
  return *bound[0];
}

bool is_odd_or_even(const Value& input, std::int64_t remainder) {
  return equal(binary_operation(BinaryOp::modulo, input, make_int(2)), make_int(remainder));
}

bool test_odd(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "odd"); return is_odd_or_even(v, 1); }
bool test_even(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "even"); return is_odd_or_even(v, 0); }
bool test_divisibleby(Evaluator&, const Value& v, const Arguments& a) {
  return equal(binary_operation(BinaryOp::modulo, v, test_argument(a, "divisibleby")), make_int(0));
}
bool test_defined(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "defined"); return !v.is_undefined(); }
bool test_undefined(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "undefined"); return v.is_undefined(); }
bool test_none(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "none"); return v.is_none(); }
bool test_boolean(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "boolean"); return v.kind == Kind::boolean; }
bool test_false(Evaluator&, const Value& v, const Arguments& a) {
  no_arguments(a, "false");
  return v.kind == Kind::boolean && v.integer == 0;
}
bool test_true(Evaluator&, const Value& v, const Arguments& a) {
  no_arguments(a, "true");
  return v.kind == Kind::boolean && v.integer == 1;
}
bool test_integer(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "integer"); return v.kind == Kind::integer; }
bool test_float(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "float"); return v.kind == Kind::floating; }
bool test_number(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "number"); return v.is_number(); }
bool test_string(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "string"); return v.is_string(); }
bool test_mapping(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "mapping"); return v.kind == Kind::mapping; }
bool test_lower(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "lower"); return py_islower(to_str(v)); }
bool test_upper(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "upper"); return py_isupper(to_str(v)); }
bool test_escaped(Evaluator&, const Value& v, const Arguments& a) { no_arguments(a, "escaped"); return v.is_string() && v.markup; }

// Python's len(x) and x.__getitem__ both exist (jinja2's sequence test); Undefined has both.
bool test_sequence(Evaluator&, const Value& v, const Arguments& a) {
  no_arguments(a, "sequence");
  if (v.is_undefined() || v.is_string() || v.kind == Kind::mapping) return true;
  if (v.kind != Kind::sequence) return false;
  const SequenceKind kind = sequence_of(v).kind;
  return kind == SequenceKind::list || kind == SequenceKind::tuple || kind == SequenceKind::range;
}

bool test_iterable(Evaluator&, const Value& v, const Arguments& a) {
  no_arguments(a, "iterable");
  return v.is_undefined() || v.is_string() || v.kind == Kind::sequence || v.kind == Kind::mapping ||
         v.kind == Kind::loop;
}

bool test_callable(Evaluator&, const Value& v, const Arguments& a) {
  no_arguments(a, "callable");
  return v.kind == Kind::callable || v.is_undefined() || v.kind == Kind::loop;
}

bool test_filter(Evaluator&, const Value& v, const Arguments& a) {
  no_arguments(a, "filter");
  return v.is_string() && jinja_has_filter(v.text);
}

bool test_test(Evaluator&, const Value& v, const Arguments& a) {
  no_arguments(a, "test");
  return v.is_string() && jinja_has_test(v.text);
}

bool test_in(Evaluator&, const Value& v, const Arguments& a) { return contains(test_argument(a, "in"), v); }
bool test_eq(Evaluator&, const Value& v, const Arguments& a) { return equal(v, test_argument(a, "eq")); }
bool test_ne(Evaluator&, const Value& v, const Arguments& a) { return !equal(v, test_argument(a, "ne")); }
bool test_lt(Evaluator&, const Value& v, const Arguments& a) { return compare(v, test_argument(a, "lt"), Order::less); }
bool test_le(Evaluator&, const Value& v, const Arguments& a) {
  return compare(v, test_argument(a, "le"), Order::less_equal);
}
bool test_gt(Evaluator&, const Value& v, const Arguments& a) { return compare(v, test_argument(a, "gt"), Order::greater); }
bool test_ge(Evaluator&, const Value& v, const Arguments& a) {
  return compare(v, test_argument(a, "ge"), Order::greater_equal);
}

struct TestEntry {
  const char* name;
  TestFunction function;
};

constexpr TestEntry kTests[] = {
    {"odd", test_odd},           {"even", test_even},
    {"divisibleby", test_divisibleby}, {"defined", test_defined},
    {"undefined", test_undefined}, {"filter", test_filter},
    {"test", test_test},         {"none", test_none},
    {"boolean", test_boolean},   {"false", test_false},
    {"true", test_true},         {"integer", test_integer},
    {"float", test_float},       {"lower", test_lower},
    {"upper", test_upper},       {"string", test_string},
    {"mapping", test_mapping},   {"number", test_number},
    {"sequence", test_sequence}, {"iterable", test_iterable},
    {"callable", test_callable}, {"escaped", test_escaped},
    {"in", test_in},             {"==", test_eq},
    {"eq", test_eq},             {"equalto", test_eq},
    {"!=", test_ne},             {"ne", test_ne},
    {">", test_gt},              {"gt", test_gt},
    {"greaterthan", test_gt},    {"ge", test_ge},
    {">=", test_ge},             {"<", test_lt},
    {"lt", test_lt},             {"lessthan", test_lt},
    {"<=", test_le},             {"le", test_le},
};

constexpr const char* kUnsupportedTests[] = {"sameas"};

}  // namespace

FilterFunction find_filter(const std::string& name) {
  for (const FilterEntry& entry : kFilters)
    if (name == entry.name) return entry.function;
  return nullptr;
}

TestFunction find_test(const std::string& name) {
  for (const TestEntry& entry : kTests)
    if (name == entry.name) return entry.function;
  return nullptr;
}

bool jinja_has_filter(const std::string& name) { return find_filter(name) != nullptr || listed(kUnsupportedFilters, name); }
bool filter_reads_context(const std::string& name) {
  static const char* const kContextFilters[] = {"map", "select", "reject", "selectattr", "rejectattr"};
  return listed(kContextFilters, name);
}

bool jinja_has_test(const std::string& name) { return find_test(name) != nullptr || listed(kUnsupportedTests, name); }

}  // namespace selm::jinja::detail
