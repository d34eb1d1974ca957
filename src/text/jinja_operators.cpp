#include "jinja_operators.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "jinja_strings.hpp"
#include "jinja_unicode.hpp"

namespace selm::jinja::detail {

std::optional<Value> slice_value(const Value& object, const Value& start, const Value& stop, const Value& step,
                                 bool type_error_undefined) {
  // jinja2 compiles a slice to Python's own obj[a:b:c] (not its getitem), so every failure raises.
  const bool sliceable = object.is_string() || is_list_or_tuple(object) || is_sequence_kind(object, SequenceKind::range);
  if (!sliceable) {
    if (object.is_undefined()) fail_undefined(object);
    if (type_error_undefined) return std::nullopt;
    if (object.kind == Kind::mapping) fail("unhashable type: 'slice'");
    fail("'" + type_name(object) + "' object is not subscriptable");
  }
  // Python reads the step first (a zero step is a ValueError), then start and stop.
  bool valid = true;
  const auto bound = [&](const Value& value) -> std::optional<std::int64_t> {
    if (value.is_none()) return std::nullopt;
    if (!value.is_int_like()) valid = false;
    return value.integer;
  };
  const auto stride = bound(step);
  if (valid && stride && *stride == 0) fail("slice step cannot be zero");
  const auto first = bound(start);
  const auto last = bound(stop);
  if (!valid) {
    if (type_error_undefined) return std::nullopt;
    fail("slice indices must be integers or None or have an __index__ method");
  }
  if (object.is_string()) {
    const bool ascii = is_ascii(object.text);
    const std::u32string characters = ascii ? std::u32string() : decode_utf8(object.text);
    const auto length = static_cast<std::int64_t>(ascii ? object.text.size() : characters.size());
    const SliceIndices range = slice_indices(length, first, last, stride);
    if (range.step == 1) {
      if (range.count == 0) return make_string("", object.markup);
      return make_string(code_point_substr(object.text, range.start, range.start + range.count), object.markup);
    }
    std::string out;
    for (std::int64_t k = 0, i = range.start; k < range.count; ++k, i += range.step) {
      if (ascii) out.push_back(object.text[static_cast<std::size_t>(i)]);
      else append_utf8(characters[static_cast<std::size_t>(i)], out);
    }
    return make_string(std::move(out), object.markup);
  }
  const Sequence& sequence = sequence_of(object);
  const SliceIndices range = slice_indices(static_cast<std::int64_t>(sequence.items.size()), first, last, stride);
  std::vector<Value> items;
  items.reserve(static_cast<std::size_t>(range.count));
  for (std::int64_t k = 0, i = range.start; k < range.count; ++k, i += range.step)
    items.push_back(sequence.items[static_cast<std::size_t>(i)]);
  Value result = make_sequence(sequence.kind, std::move(items));
  if (sequence.kind == SequenceKind::range) {
    auto& sliced = static_cast<Sequence&>(*result.object);
    sliced.range_start = sequence.range_start + range.start * sequence.range_step;
    sliced.range_stop = sequence.range_start + range.stop * sequence.range_step;
    sliced.range_step = sequence.range_step * range.step;
  }
  return result;
}

namespace {

[[noreturn]] void fail_operands(const char* symbol, const Value& left, const Value& right) {
  fail(std::string("unsupported operand type(s) for ") + symbol + ": '" + type_name(left) + "' and '" +
       type_name(right) + "'");
}

const char* operator_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "+";
    case BinaryOp::subtract: return "-";
    case BinaryOp::multiply: return "*";
    case BinaryOp::divide: return "/";
    case BinaryOp::floor_divide: return "//";
    case BinaryOp::modulo: return "%";
    case BinaryOp::power: return "**";
  }
  return "?";
}

Value repeat(const Value& sequence, std::int64_t times) {
  if (times <= 0) times = 0;
  if (sequence.is_string()) {
    if (static_cast<double>(sequence.text.size()) * static_cast<double>(times) > 1e8) fail("repetition too large");
    std::string out;
    for (std::int64_t i = 0; i < times; ++i) out += sequence.text;
    return make_string(std::move(out), sequence.markup);
  }
  const Sequence& items = sequence_of(sequence);
  if (static_cast<double>(items.items.size()) * static_cast<double>(times) > 1e7) fail("repetition too large");
  std::vector<Value> out;
  for (std::int64_t i = 0; i < times; ++i) out.insert(out.end(), items.items.begin(), items.items.end());
  return make_sequence(items.kind, std::move(out));
}

// Python's float floor division and modulo (divmod's rules for signs and zeros).
std::pair<double, double> float_divmod(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  double floor_div = 0.0;
  if (div != 0.0) {
    floor_div = std::floor(div);
    if (div - floor_div > 0.5) floor_div += 1.0;
  } else {
    floor_div = std::copysign(0.0, a / b);
  }
  return {floor_div, mod};
}

Value integer_power(std::int64_t base, std::int64_t exponent) {
  std::int64_t result = 1;
  std::int64_t factor = base;
  while (exponent > 0) {
    if (exponent & 1) {
      if (__builtin_mul_overflow(result, factor, &result)) fail("integer overflow in ** (64-bit integers only)");
    }
    exponent >>= 1;
    if (exponent > 0 && __builtin_mul_overflow(factor, factor, &factor))
      fail("integer overflow in ** (64-bit integers only)");
  }
  return make_int(result);
}

double true_divide(const Value& left, const Value& right) {
  constexpr std::int64_t kExact = std::int64_t{1} << 53;
  if (left.is_int_like() && right.is_int_like() &&
      (left.integer > kExact || left.integer < -kExact || right.integer > kExact || right.integer < -kExact))
    return static_cast<double>(static_cast<long double>(left.integer) / static_cast<long double>(right.integer));
  return left.as_double() / right.as_double();
}

}  // namespace

Value binary_operation(BinaryOp op, const Value& left, const Value& right) {
  if (left.is_undefined()) fail_undefined(left);
  if (right.is_undefined()) fail_undefined(right);
  const char* symbol = operator_symbol(op);
  const bool numbers = left.is_number() && right.is_number();
  const bool integers = left.is_int_like() && right.is_int_like();
  switch (op) {
    case BinaryOp::add: {
      if (integers) {
        std::int64_t sum = 0;
        if (__builtin_add_overflow(left.integer, right.integer, &sum)) fail("integer overflow in + (64-bit integers only)");
        return make_int(sum);
      }
      if (numbers) return make_float(left.as_double() + right.as_double());
      if (left.is_string() && right.is_string()) {
        // Markup + str escapes the plain side (and str + Markup too): markupsafe's rule.
        if (left.markup || right.markup) {
          const std::string a = left.markup ? left.text : html_escape(left.text);
          const std::string b = right.markup ? right.text : html_escape(right.text);
          return make_string(a + b, true);
        }
        return make_string(left.text + right.text);
      }
      const bool lists = is_sequence_kind(left, SequenceKind::list) && is_sequence_kind(right, SequenceKind::list);
      const bool tuples = is_sequence_kind(left, SequenceKind::tuple) && is_sequence_kind(right, SequenceKind::tuple);
      if (lists || tuples) {
        std::vector<Value> items = sequence_of(left).items;
        const auto& more = sequence_of(right).items;
        items.insert(items.end(), more.begin(), more.end());
        return make_sequence(sequence_of(left).kind, std::move(items));
      }
      if (left.is_string())
        fail("can only concatenate str (not \"" + type_name(right) + "\") to str");
      fail_operands(symbol, left, right);
    }
    case BinaryOp::subtract:
      if (integers) {
        std::int64_t difference = 0;
        if (__builtin_sub_overflow(left.integer, right.integer, &difference))
          fail("integer overflow in - (64-bit integers only)");
        return make_int(difference);
      }
      if (numbers) return make_float(left.as_double() - right.as_double());
      fail_operands(symbol, left, right);
    case BinaryOp::multiply: {
      if (integers) {
        std::int64_t product = 0;
        if (__builtin_mul_overflow(left.integer, right.integer, &product))
          fail("integer overflow in * (64-bit integers only)");
        return make_int(product);
      }
      if (numbers) return make_float(left.as_double() * right.as_double());
      const auto repeatable = [](const Value& v) { return v.is_string() || is_list_or_tuple(v); };
      if (repeatable(left) && right.is_int_like()) return repeat(left, right.integer);
      if (left.is_int_like() && repeatable(right)) return repeat(right, left.integer);
      fail_operands(symbol, left, right);
    }
    case BinaryOp::divide:
      if (!numbers) fail_operands(symbol, left, right);
      if (right.as_double() == 0.0) fail(integers ? "division by zero" : "float division by zero");
      return make_float(true_divide(left, right));
    case BinaryOp::floor_divide:
    case BinaryOp::modulo: {
      if (left.is_string() && op == BinaryOp::modulo) fail("printf-style string formatting with % is not supported");
      if (!numbers) fail_operands(symbol, left, right);
      if (integers) {
        if (right.integer == 0)
          fail(op == BinaryOp::modulo ? "integer division or modulo by zero" : "integer division or modulo by zero");
        if (left.integer == std::numeric_limits<std::int64_t>::min() && right.integer == -1) {
          if (op == BinaryOp::modulo) return make_int(0);
          fail("integer overflow in // (64-bit integers only)");
        }
        std::int64_t quotient = left.integer / right.integer;
        std::int64_t remainder = left.integer % right.integer;
        if (remainder != 0 && ((remainder < 0) != (right.integer < 0))) {
          remainder += right.integer;
          --quotient;
        }
        return make_int(op == BinaryOp::modulo ? remainder : quotient);
      }
      if (right.as_double() == 0.0) fail(op == BinaryOp::modulo ? "float modulo" : "float floor division by zero");
      const auto [quotient, remainder] = float_divmod(left.as_double(), right.as_double());
      return make_float(op == BinaryOp::modulo ? remainder : quotient);
    }
    case BinaryOp::power: {
      if (!numbers) fail_operands(symbol, left, right);
      if (integers && right.integer >= 0) return integer_power(left.integer, right.integer);
      const double base = left.as_double();
      const double exponent = right.as_double();
      if (base == 0.0 && exponent < 0) fail("0.0 cannot be raised to a negative power");
      if (base < 0 && std::isfinite(exponent) && exponent != std::floor(exponent))
        fail("a negative number to a fractional power (a complex number) is not supported");
      const double result = std::pow(base, exponent);
      if (std::isinf(result) && std::isfinite(base) && std::isfinite(exponent)) fail("(34, 'Numerical result out of range')");
      return make_float(result);
    }
  }
  fail_operands(symbol, left, right);
}

bool contains(const Value& haystack, const Value& needle) {
  switch (haystack.kind) {
    case Kind::undefined: return false;
    case Kind::string:
      if (needle.is_undefined()) fail_undefined(needle);
      if (!needle.is_string()) fail("'in <string>' requires string as left operand, not " + type_name(needle));
      return haystack.text.find(needle.text) != std::string::npos;
    case Kind::mapping:
      check_hashable(needle);
      return mapping_of(haystack).find(needle) != nullptr;
    case Kind::sequence: {
      if (is_sequence_kind(haystack, SequenceKind::iterator)) {
        // `in` consumes a generator up to the first match, as in Python.
        Sequence& iterator = iterator_of(haystack);
        while (iterator.next < iterator.items.size())
          if (equal(iterator.items[iterator.next++], needle)) return true;
        return false;
      }
      const auto& items = sequence_of(haystack).items;
      return std::any_of(items.begin(), items.end(), [&](const Value& item) { return equal(item, needle); });
    }
    default: break;
  }
  fail("argument of type '" + type_name(haystack) + "' is not iterable");
}

}  // namespace selm::jinja::detail
