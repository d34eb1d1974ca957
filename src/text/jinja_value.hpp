// The values a Jinja template computes with, behaving as the Python objects jinja2 would hold:
// None, bool, int, float, str (and markupsafe's Markup), list, tuple, dict (in insertion order),
// the one-shot iterators that filters such as map and reverse return, jinja2's Undefined and
// Namespace, macros and other callables, and the `loop` object.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace selm::jinja::detail {

// A failure without a location (a Python TypeError, an unsupported construct, ...): the
// evaluator turns it into an InputError naming the template and the line being evaluated.
class Failure : public std::exception {
 public:
  explicit Failure(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

[[noreturn]] void fail(const std::string& message);

struct Value;
// Using an undefined value where jinja2 raises UndefinedError: fails with why it is undefined.
[[noreturn]] void fail_undefined(const Value& value);

enum class Kind : std::uint8_t {
  undefined,
  none,
  boolean,
  integer,
  floating,
  string,
  sequence,   // Sequence: list, tuple, iterator, range, dict views
  mapping,    // Mapping: dict
  namespace_object,
  callable,   // defined by the evaluator (macros, methods, globals)
  loop,       // defined by the evaluator
};

enum class SequenceKind : std::uint8_t { list, tuple, iterator, range, dict_keys, dict_values, dict_items };

// What a Value of kind sequence, mapping, namespace, callable or loop points to.
struct Object {
  virtual ~Object() = default;
  // Python's type name (for messages) and repr (for printing), for kinds the evaluator defines.
  virtual std::string type_name() const { return "object"; }
  virtual std::string repr() const { return "<object>"; }
};

struct Value {
  Kind kind = Kind::undefined;
  bool markup = false;       // a string marked safe: `+` escapes the plain string it meets
  std::int64_t integer = 0;  // integer and boolean (0 or 1: a bool is an int in Python)
  double floating = 0.0;
  std::string text;          // the string, or why an undefined value is undefined
  std::shared_ptr<Object> object;

  bool is_undefined() const { return kind == Kind::undefined; }
  bool is_none() const { return kind == Kind::none; }
  bool is_string() const { return kind == Kind::string; }
  bool is_number() const { return kind == Kind::boolean || kind == Kind::integer || kind == Kind::floating; }
  bool is_int_like() const { return kind == Kind::boolean || kind == Kind::integer; }  // Python's int
  double as_double() const { return kind == Kind::floating ? floating : static_cast<double>(integer); }
};

struct Sequence : Object {
  SequenceKind kind = SequenceKind::list;
  std::vector<Value> items;
  std::size_t next = 0;  // an iterator's first item not yet consumed
  std::int64_t range_start = 0, range_stop = 0, range_step = 1;  // what range(...) printed
};

struct Mapping : Object {
  std::vector<std::pair<Value, Value>> entries;  // insertion order, as a Python dict
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  // Python's d[key] = value: replaces the value in place when the key exists.
  void insert(Value key, Value value);
};

struct Namespace : Object {
  std::vector<std::pair<std::string, Value>> attributes;
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);
};

Value make_undefined(std::string why);
Value make_none();
Value make_bool(bool value);
Value make_int(std::int64_t value);
Value make_float(double value);
Value make_string(std::string text, bool markup = false);
Value make_sequence(SequenceKind kind, std::vector<Value> items);
Value make_list(std::vector<Value> items);
Value make_tuple(std::vector<Value> items);
Value make_mapping(std::shared_ptr<Mapping> mapping);

const Sequence& sequence_of(const Value& value);  // kind must be sequence
Sequence& iterator_of(const Value& value);        // kind sequence of SequenceKind iterator
const Mapping& mapping_of(const Value& value);
Namespace& namespace_of(const Value& value);
bool is_sequence_kind(const Value& value, SequenceKind kind);
bool is_list_or_tuple(const Value& value);

// Python's type(x).__name__.
std::string type_name(const Value& value);
// bool(x).
bool truthy(const Value& value);
// str(x) and repr(x).
std::string to_str(const Value& value);
std::string to_repr(const Value& value);
std::string float_repr(double value);
// Python's repr of a str.
std::string string_repr(const std::string& text);

// x == y.
bool equal(const Value& a, const Value& b);
enum class Order : std::uint8_t { less, less_equal, greater, greater_equal };
// x < y (and the other orderings); Failure (a TypeError) for values Python cannot order.
bool compare(const Value& a, const Value& b, Order order);
// Failure (TypeError: unhashable type) unless `key` may be a dict key or a set member.
void check_hashable(const Value& key);

// len(x); Failure for an object without a length.
std::int64_t length_of(const Value& value);
// list(x): the items a for loop visits (consumes an iterator); Failure when not iterable.
std::vector<Value> iterate(const Value& value);

// Context variables: JSON objects become dicts in the JSON's key order (sorted for a
// nlohmann::json, which keeps no other).
Value from_json(const nlohmann::ordered_json& json);
Value from_json(const nlohmann::json& json);

// json.dumps(x, ensure_ascii=..., indent=..., separators=..., sort_keys=...).
struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // None: one line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string to_json(const Value& value, const JsonOptions& options);

// markupsafe.escape of plain text: & < > ' " as HTML entities.
std::string html_escape(const std::string& text);

}  // namespace selm::jinja::detail
