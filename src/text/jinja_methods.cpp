#include "jinja_methods.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "jinja_evaluator.hpp"
#include "jinja_strings.hpp"
#include "jinja_unicode.hpp"

namespace selm::jinja::detail {
namespace {

std::vector<Value> strings_to_values(const std::vector<std::string>& parts) {
  std::vector<Value> values;
  values.reserve(parts.size());
  for (const std::string& part : parts) values.push_back(make_string(part));
  return values;
}

// --- methods ----------------------------------------------------------------------------------

// Python's attributes of str, dict, list, tuple, int and float (as of 3.11). Those named in the
// implemented lists below work; the mutating ones are refused as the immutable sandbox does; the
// rest fail as unsupported.
constexpr const char* kStrAttributes[] = {
    "capitalize", "casefold",  "center",     "count",      "encode",     "endswith",  "expandtabs",
    "find",       "format",    "format_map", "index",      "isalnum",    "isalpha",   "isascii",
    "isdecimal",  "isdigit",   "isidentifier", "islower",  "isnumeric",  "isprintable", "isspace",
    "istitle",    "isupper",   "join",       "ljust",      "lower",      "lstrip",    "maketrans",
    "partition",  "removeprefix", "removesuffix", "replace", "rfind",    "rindex",    "rjust",
    "rpartition", "rsplit",    "rstrip",     "split",      "splitlines", "startswith", "strip",
    "swapcase",   "title",     "translate",  "upper",      "zfill",
};
constexpr const char* kStrImplemented[] = {
    "capitalize", "center",     "count",  "endswith", "find",    "index",     "isalnum",      "isalpha",
    "isascii",    "isdigit",    "islower", "isspace", "isupper", "join",      "ljust",        "lower",
    "lstrip",     "partition",  "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
    "rpartition", "rsplit",     "rstrip", "split",    "splitlines", "startswith", "strip",    "title",
    "upper",
};
constexpr const char* kDictAttributes[] = {"clear", "copy",  "fromkeys", "get",    "items",
                                           "keys",  "pop",   "popitem",  "setdefault", "update", "values"};
constexpr const char* kDictImplemented[] = {"copy", "get", "items", "keys", "values"};
constexpr const char* kDictMutating[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr const char* kListAttributes[] = {"append", "clear", "copy", "count", "extend", "index",
                                           "insert", "pop",   "remove", "reverse", "sort"};
constexpr const char* kListMutating[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};
constexpr const char* kTupleAttributes[] = {"count", "index"};
constexpr const char* kIntAttributes[] = {"as_integer_ratio", "bit_count", "bit_length", "conjugate", "denominator",
                                          "from_bytes",       "imag",      "numerator",  "real",      "to_bytes"};
constexpr const char* kFloatAttributes[] = {"as_integer_ratio", "conjugate", "fromhex", "hex",
                                            "imag",             "is_integer", "real"};
constexpr const char* kIteratorAttributes[] = {"close", "gi_code", "gi_frame", "gi_running", "gi_yieldfrom", "send", "throw"};
constexpr const char* kViewAttributes[] = {"isdisjoint", "mapping"};

[[noreturn]] void fail_unsupported_attribute(const Value& object, const std::string& name) {
  fail("the attribute '" + name + "' of " + type_name(object) + " objects is not supported");
}

Value unsafe_method(const Value& object, const std::string& name) {
  return make_undefined("access to attribute '" + name + "' of '" + type_name(object) +
                        "' object is unsafe (the sandbox forbids changing it)");
}

std::string text_argument(const std::optional<Value>& value, const char* method) {
  if (!value) fail(std::string("str.") + method + "() is missing an argument");
  return to_text(*value, std::string("str.") + method + "() argument");
}

bool affix_matches(const std::string& text, const Value& affixes, const std::optional<Value>& start,
                   const std::optional<Value>& end, bool at_start, const char* method) {
  std::vector<Value> candidates;
  if (is_sequence_kind(affixes, SequenceKind::tuple)) candidates = sequence_of(affixes).items;
  else if (affixes.is_string()) candidates.push_back(affixes);
  else fail(std::string(method) + " first arg must be str or a tuple of str, not " + type_name(affixes));
  const auto first = optional_index(start, std::string(method) + "() start");
  const auto last = optional_index(end, std::string(method) + "() end");
  for (const Value& candidate : candidates)
    if (py_tailmatch(text, to_text(candidate, std::string(method) + "() tuple item"), first, last, at_start)) return true;
  return false;
}

bool ascii_only_check(const std::string& text, bool (*accept)(char), const char* method) {
  if (!is_ascii(text)) fail(std::string("str.") + method + "() of non-ASCII text is not supported");
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), accept);
}

Value call_str_method(const Value& receiver, const std::string& name, const Arguments& arguments);

Value mark_safe(Value value) {
  if (value.is_string()) value.markup = true;
  return value;
}

// markupsafe's Markup methods: most escape their string arguments and return Markup; split and
// its kind return lists of Markup; join escapes the items; the rest act as str's.
Value call_markup_method(const Value& receiver, const std::string& name, const Arguments& arguments) {
  static const char* const kEscapingMethods[] = {"capitalize", "center", "ljust", "lower", "lstrip", "replace",
                                                 "rjust", "rstrip", "strip", "title", "upper"};
  const Value plain = make_string(receiver.text);
  const auto escaped = [](const Value& value) {
    return value.is_string() && !value.markup ? make_string(html_escape(value.text), true) : value;
  };
  if (listed(kEscapingMethods, name) || name == "partition" || name == "rpartition") {
    Arguments escaped_arguments;
    for (const Value& value : arguments.positional) escaped_arguments.positional.push_back(escaped(value));
    for (const auto& [key, value] : arguments.keywords) escaped_arguments.keywords.emplace_back(key, escaped(value));
    Value result = call_str_method(plain, name, escaped_arguments);
    if (result.is_string()) return mark_safe(std::move(result));
    std::vector<Value> parts = sequence_of(result).items;
    for (Value& part : parts) part = mark_safe(std::move(part));
    return make_tuple(std::move(parts));
  }
  if (name == "split" || name == "rsplit" || name == "splitlines") {
    std::vector<Value> parts = sequence_of(call_str_method(plain, name, arguments)).items;
    for (Value& part : parts) part = mark_safe(std::move(part));
    return make_list(std::move(parts));
  }
  if (name == "join") {
    const auto bound = bind_arguments(arguments, name, {"iterable"});
    if (!bound[0]) fail("join() takes exactly one argument (0 given)");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(*bound[0])) {
      if (!first) out += receiver.text;
      first = false;
      out += item.is_string() && item.markup ? item.text : html_escape(to_str(item));
    }
    return make_string(std::move(out), true);
  }
  return call_str_method(plain, name, arguments);
}

Value call_str_method(const Value& receiver, const std::string& name, const Arguments& arguments) {
  if (receiver.markup) return call_markup_method(receiver, name, arguments);
  const std::string& text = receiver.text;
  const char* method = name.c_str();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto bound = bind_arguments(arguments, name, {"chars"});
    const StripSide side = name == "strip" ? StripSide::both : name == "lstrip" ? StripSide::left : StripSide::right;
    return make_string(py_strip(text, optional_text(bound[0], name + "() chars"), side));
  }
  if (name == "split" || name == "rsplit") {
    const auto bound = bind_arguments(arguments, name, {"sep", "maxsplit"});
    const auto separator = optional_text(bound[0], name + "() separator");
    const std::int64_t max_split = optional_index(bound[1], name + "() maxsplit").value_or(-1);
    return make_list(strings_to_values(name == "split" ? py_split(text, separator, max_split)
                                                       : py_rsplit(text, separator, max_split)));
  }
  if (name == "splitlines") {
    const auto bound = bind_arguments(arguments, name, {"keepends"});
    return make_list(strings_to_values(py_splitlines(text, optional_flag(bound[0], false))));
  }
  if (name == "startswith" || name == "endswith") {
    const auto bound = bind_arguments(arguments, name, {"prefix", "start", "end"});
    if (!bound[0]) fail(name + "() takes at least 1 argument (0 given)");
    return make_bool(affix_matches(text, *bound[0], bound[1], bound[2], name == "startswith", method));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    no_arguments(arguments, name);
    if (name == "upper") return make_string(py_upper(text));
    if (name == "lower") return make_string(py_lower(text));
    if (name == "title") return make_string(py_title(text));
    return make_string(py_capitalize(text));
  }
  if (name == "replace") {
    const auto bound = bind_arguments(arguments, name, {"old", "new", "count"});
    const std::int64_t count = optional_index(bound[2], "replace() count").value_or(-1);
    return make_string(py_replace(text, text_argument(bound[0], method), text_argument(bound[1], method), count));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const auto bound = bind_arguments(arguments, name, {"sub", "start", "end"});
    const std::string sub = text_argument(bound[0], method);
    const auto start = optional_index(bound[1], name + "() start");
    const auto end = optional_index(bound[2], name + "() end");
    if (name == "count") return make_int(py_count(text, sub, start, end));
    const std::int64_t found = py_find(text, sub, start, end, name[0] == 'r');
    if (found < 0 && (name == "index" || name == "rindex")) fail("substring not found");
    return make_int(found);
  }
  if (name == "join") {
    const auto bound = bind_arguments(arguments, name, {"iterable"});
    if (!bound[0]) fail("join() takes exactly one argument (0 given)");
    std::string out;
    std::size_t index = 0;
    for (const Value& item : iterate(*bound[0])) {
      if (!item.is_string())
        fail("sequence item " + std::to_string(index) + ": expected str instance, " + type_name(item) + " found");
      if (index++ > 0) out += text;
      out += item.text;
    }
    return make_string(std::move(out));
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    const auto bound = bind_arguments(arguments, name, {"width", "fillchar"});
    if (!bound[0]) fail(name + "() takes at least 1 argument (0 given)");
    const std::string fill = bound[1] ? to_text(*bound[1], name + "() fillchar") : " ";
    if (code_point_count(fill) != 1) fail("The fill character must be exactly one character long");
    const int where = name == "center" ? 0 : name == "ljust" ? -1 : 1;
    return make_string(py_pad(text, to_index(*bound[0], name + "() width"), fill, where));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const auto bound = bind_arguments(arguments, name, {"affix"});
    const std::string affix = text_argument(bound[0], method);
    if (name == "removeprefix" && text.compare(0, affix.size(), affix) == 0) return make_string(text.substr(affix.size()));
    if (name == "removesuffix" && !affix.empty() && text.size() >= affix.size() &&
        text.compare(text.size() - affix.size(), affix.size(), affix) == 0)
      return make_string(text.substr(0, text.size() - affix.size()));
    return make_string(text);
  }
  if (name == "partition" || name == "rpartition") {
    const auto bound = bind_arguments(arguments, name, {"sep"});
    const std::string separator = text_argument(bound[0], method);
    if (separator.empty()) fail("empty separator");
    const std::size_t found = name == "partition" ? text.find(separator) : text.rfind(separator);
    if (found == std::string::npos) {
      if (name == "partition") return make_tuple({make_string(text), make_string(""), make_string("")});
      return make_tuple({make_string(""), make_string(""), make_string(text)});
    }
    return make_tuple({make_string(text.substr(0, found)), make_string(separator),
                       make_string(text.substr(found + separator.size()))});
  }
  no_arguments(arguments, name);
  if (name == "isspace") {
    if (text.empty()) return make_bool(false);
    const std::u32string decoded = decode_utf8(text);
    return make_bool(std::all_of(decoded.begin(), decoded.end(), is_space));
  }
  if (name == "isdigit") return make_bool(ascii_only_check(text, [](char c) { return c >= '0' && c <= '9'; }, method));
  if (name == "isalpha")
    return make_bool(ascii_only_check(text, [](char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }, method));
  if (name == "isalnum")
    return make_bool(ascii_only_check(
        text, [](char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }, method));
  if (name == "isascii") return make_bool(is_ascii(text));
  if (name == "islower") return make_bool(py_islower(text));
  if (name == "isupper") return make_bool(py_isupper(text));
  fail("str." + name + "() is not supported");
}

Value call_dict_method(const Value& receiver, const std::string& name, const Arguments& arguments) {
  const Mapping& mapping = mapping_of(receiver);
  if (name == "get") {
    if (!arguments.keywords.empty()) fail("dict.get() takes no keyword arguments");
    const auto bound = bind_arguments(arguments, name, {"key", "default"});
    if (!bound[0]) fail("get expected at least 1 argument, got 0");
    check_hashable(*bound[0]);
    const Value* found = mapping.find(*bound[0]);
    if (found) return *found;
    return bound[1] ? *bound[1] : make_none();
  }
  no_arguments(arguments, name);
  if (name == "copy") return receiver;
  std::vector<Value> items;
  SequenceKind kind = SequenceKind::dict_items;
  for (const auto& [key, value] : mapping.entries) {
    if (name == "items") items.push_back(make_tuple({key, value}));
    else if (name == "keys") items.push_back(key), kind = SequenceKind::dict_keys;
    else items.push_back(value), kind = SequenceKind::dict_values;
  }
  return make_sequence(kind, std::move(items));
}

Value call_sequence_method(const Value& receiver, const std::string& name, const Arguments& arguments) {
  const std::vector<Value>& items = sequence_of(receiver).items;
  if (name == "copy") {
    no_arguments(arguments, name);
    return make_list(items);
  }
  if (!arguments.keywords.empty()) fail(name + "() takes no keyword arguments");
  if (arguments.positional.empty()) fail(name + "() takes at least 1 argument (0 given)");
  const Value& needle = arguments.positional[0];
  if (name == "count") {
    if (arguments.positional.size() > 1) fail("count() takes exactly one argument");
    return make_int(std::count_if(items.begin(), items.end(), [&](const Value& item) { return equal(item, needle); }));
  }
  const auto bound = bind_arguments(arguments, name, {"value", "start", "stop"});
  const SliceIndices range = slice_indices(static_cast<std::int64_t>(items.size()), optional_index(bound[1], "index() start"),
                                           optional_index(bound[2], "index() stop"), 1);
  for (std::int64_t i = range.start; i < range.stop; ++i)
    if (equal(items[static_cast<std::size_t>(i)], needle)) return make_int(i);
  fail(to_repr(needle) + " is not in " + type_name(receiver));
}

// --- globals ----------------------------------------------------------------------------------

constexpr std::int64_t kMaxRange = 100000;  // jinja2's sandbox refuses longer ranges

Value global_range(const Arguments& arguments) {
  if (!arguments.keywords.empty()) fail("range() takes no keyword arguments");
  const auto& positional = arguments.positional;
  if (positional.empty() || positional.size() > 3)
    fail("range expected 1 to 3 arguments, got " + std::to_string(positional.size()));
  std::int64_t start = 0;
  std::int64_t stop = 0;
  std::int64_t step = 1;
  if (positional.size() == 1) {
    stop = to_index(positional[0], "range() argument");
  } else {
    start = to_index(positional[0], "range() argument");
    stop = to_index(positional[1], "range() argument");
    if (positional.size() == 3) step = to_index(positional[2], "range() argument");
  }
  if (step == 0) fail("range() arg 3 must not be zero");
  const SliceIndices count_of = step > 0 ? SliceIndices{start, stop, step, start < stop ? (stop - start - 1) / step + 1 : 0}
                                         : SliceIndices{start, stop, step, stop < start ? (start - stop - 1) / -step + 1 : 0};
  if (count_of.count > kMaxRange)
    fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  std::vector<Value> items;
  items.reserve(static_cast<std::size_t>(count_of.count));
  for (std::int64_t i = 0; i < count_of.count; ++i) items.push_back(make_int(start + i * step));
  Value range = make_sequence(SequenceKind::range, std::move(items));
  auto& sequence = static_cast<Sequence&>(*range.object);
  sequence.range_start = start;
  sequence.range_stop = stop;
  sequence.range_step = step;
  return range;
}

// dict(...) and namespace(...): a mapping or key/value pairs, then keyword arguments.
std::vector<std::pair<Value, Value>> dict_arguments(const Arguments& arguments, const char* callee) {
  std::vector<std::pair<Value, Value>> entries;
  const auto put = [&](Value key, Value value) {
    check_hashable(key);
    for (auto& entry : entries) {
      if (equal(entry.first, key)) {
        entry.second = std::move(value);
        return;
      }
    }
    entries.emplace_back(std::move(key), std::move(value));
  };
  if (arguments.positional.size() > 1)
    fail(std::string(callee) + " expected at most 1 argument, got " + std::to_string(arguments.positional.size()));
  if (!arguments.positional.empty()) {
    const Value& source = arguments.positional[0];
    if (source.kind == Kind::mapping) {
      for (const auto& [key, value] : mapping_of(source).entries) put(key, value);
    } else {
      for (const Value& pair : iterate(source)) {
        const std::vector<Value> parts = iterate(pair);
        if (parts.size() != 2)
          fail(std::string(callee) + ": sequence element has length " + std::to_string(parts.size()) + "; 2 is required");
        put(parts[0], parts[1]);
      }
    }
  }
  for (const auto& [key, value] : arguments.keywords) put(make_string(key), value);
  return entries;
}

std::string strftime_now(const std::string& format) {
  const auto now = std::chrono::system_clock::now();
  const auto since_epoch = now.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto microseconds = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds).count();
  const std::time_t moment = static_cast<std::time_t>(seconds.count());
  std::tm local{};
  localtime_r(&moment, &local);
  // datetime.strftime handles %f, %z and %Z itself (a naive datetime has no offset or zone).
  std::string expanded;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      expanded.push_back(format[i]);
      continue;
    }
    const char directive = format[++i];
    if (directive == 'f') {
      const std::string digits = std::to_string(microseconds);  // 0..999999
      expanded += std::string(6 - std::min<std::size_t>(6, digits.size()), '0') + digits;
    } else if (directive == 'z' || directive == 'Z') {
      // empty for a naive datetime
    } else {
      expanded.push_back('%');
      expanded.push_back(directive);
    }
  }
  if (expanded.empty()) return "";
  for (std::size_t size = 256;; size *= 2) {
    std::vector<char> buffer(size);
    const std::size_t written = std::strftime(buffer.data(), buffer.size(), expanded.c_str(), &local);
    if (written > 0) return std::string(buffer.data(), written);
    if (size > 256 * (expanded.size() + 1)) return "";
  }
}

}  // namespace

std::optional<Value> builtin_attribute(const Value& object, const std::string& name) {
  switch (object.kind) {
    case Kind::string:
      if (!listed(kStrAttributes, name)) return std::nullopt;
      if (!listed(kStrImplemented, name)) fail_unsupported_attribute(object, name);
      return make_method(object, name);
    case Kind::mapping:
      if (!listed(kDictAttributes, name)) return std::nullopt;
      if (listed(kDictMutating, name)) return unsafe_method(object, name);
      if (!listed(kDictImplemented, name)) fail_unsupported_attribute(object, name);
      return make_method(object, name);
    case Kind::sequence:
      switch (sequence_of(object).kind) {
        case SequenceKind::list:
          if (!listed(kListAttributes, name)) return std::nullopt;
          if (listed(kListMutating, name)) return unsafe_method(object, name);
          return make_method(object, name);
        case SequenceKind::tuple:
          if (!listed(kTupleAttributes, name)) return std::nullopt;
          return make_method(object, name);
        case SequenceKind::iterator:
          if (listed(kIteratorAttributes, name)) fail_unsupported_attribute(object, name);
          return std::nullopt;
        case SequenceKind::range:
          if (name == "start") return make_int(sequence_of(object).range_start);
          if (name == "stop") return make_int(sequence_of(object).range_stop);
          if (name == "step") return make_int(sequence_of(object).range_step);
          if (listed(kTupleAttributes, name)) return make_method(object, name);  // count, index
          return std::nullopt;
        default:
          if (listed(kViewAttributes, name)) fail_unsupported_attribute(object, name);
          return std::nullopt;
      }
    case Kind::boolean:
    case Kind::integer:
      if (listed(kIntAttributes, name)) fail_unsupported_attribute(object, name);
      return std::nullopt;
    case Kind::floating:
      if (listed(kFloatAttributes, name)) fail_unsupported_attribute(object, name);
      return std::nullopt;
    default: return std::nullopt;
  }
}

Value call_method(Evaluator&, const Value& receiver, const std::string& name, const Arguments& arguments) {
  switch (receiver.kind) {
    case Kind::string: return call_str_method(receiver, name, arguments);
    case Kind::mapping: return call_dict_method(receiver, name, arguments);
    case Kind::sequence: return call_sequence_method(receiver, name, arguments);
    default: break;
  }
  fail("method '" + name + "' of " + type_name(receiver) + " is not supported");
}

Value call_global(Evaluator&, const std::string& name, const Arguments& arguments) {
  if (name == "range") return global_range(arguments);
  if (name == "dict") {
    auto mapping = std::make_shared<Mapping>();
    mapping->entries = dict_arguments(arguments, "dict");
    return make_mapping(std::move(mapping));
  }
  if (name == "namespace") {
    auto space = std::make_shared<Namespace>();
    for (auto& [key, value] : dict_arguments(arguments, "namespace")) {
      if (!key.is_string()) fail("namespace() keys must be strings");
      space->attributes.emplace_back(key.text, std::move(value));
    }
    Value value;
    value.kind = Kind::namespace_object;
    value.object = std::move(space);
    return value;
  }
  if (name == "raise_exception") {
    const auto bound = bind_arguments(arguments, "raise_exception", {"message"});
    if (!bound[0]) fail("raise_exception() missing 1 required positional argument: 'message'");
    throw RaisedByTemplate(to_str(*bound[0]));
  }
  if (name == "strftime_now") {
    const auto bound = bind_arguments(arguments, "strftime_now", {"format"});
    if (!bound[0]) fail("strftime_now() missing 1 required positional argument: 'format'");
    return make_string(strftime_now(to_text(*bound[0], "strftime_now() format")));
  }
  fail("the global function '" + name + "' is not supported");
}

const std::vector<std::pair<std::string, Value>>& global_values() {
  static const std::vector<std::pair<std::string, Value>> globals = [] {
    std::vector<std::pair<std::string, Value>> values;
    for (const char* name : {"range", "dict", "namespace", "raise_exception", "strftime_now", "lipsum", "cycler", "joiner"})
      values.emplace_back(name, make_global(name));
    return values;
  }();
  return globals;
}

}  // namespace selm::jinja::detail
