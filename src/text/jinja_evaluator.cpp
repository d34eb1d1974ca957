#include "jinja_evaluator.hpp"

#include <algorithm>
#include <functional>
#include <limits>

#include "jinja_filters.hpp"
#include "jinja_methods.hpp"
#include "jinja_operators.hpp"
#include "jinja_unicode.hpp"
#include "selm/text/jinja.hpp"
#include "selm/util/error.hpp"

namespace selm::jinja::detail {
namespace {

// Deeper macro recursion than this fails (Python's recursion limit stops jinja2 around here too).
constexpr std::size_t kMaxMacroDepth = 100;

// jinja2's loop object (LoopContext): index, first, last, length, previtem, nextitem, cycle,
// changed. Items come one at a time, as from a Python iterator, so that `last` and `length` look
// ahead exactly as far as jinja2 does (which matters for a filtered loop or a generator).
struct Loop : Object {
  std::function<std::optional<Value>()> pull_source;
  std::optional<std::int64_t> known_length;  // len() of the iterable when it has one
  std::vector<Value> drained;                // what `length` read ahead from an iterable without len()
  std::size_t drained_next = 0;
  std::optional<Value> after;  // read ahead by `last` or `nextitem`
  std::int64_t index0 = -1;
  Value current;
  Value before;
  std::optional<Value> last_changed;

  std::optional<Value> pull() {
    if (drained_next < drained.size()) return drained[drained_next++];
    return pull_source();
  }

  std::optional<Value> peek() {
    if (!after) after = pull();
    return after;
  }

  std::optional<Value> advance() {
    std::optional<Value> item;
    if (after) {
      item = std::move(after);
      after.reset();
    } else {
      item = pull();
    }
    if (!item) return std::nullopt;
    ++index0;
    before = std::move(current);
    current = *item;
    return item;
  }

  std::int64_t length() {
    if (known_length) return *known_length;
    std::vector<Value> rest(drained.begin() + static_cast<std::ptrdiff_t>(drained_next), drained.end());
    while (auto item = pull_source()) rest.push_back(std::move(*item));
    drained = std::move(rest);
    drained_next = 0;
    known_length = static_cast<std::int64_t>(drained.size()) + index0 + 1 + (after ? 1 : 0);
    return *known_length;
  }

  std::string type_name() const override { return "LoopContext"; }
  std::string repr() const override {
    // Python computes the length on demand, printing included.
    auto& self = const_cast<Loop&>(*this);
    return "<LoopContext " + std::to_string(index0 + 1) + "/" + std::to_string(self.length()) + ">";
  }
};

Loop& loop_of(const Value& value) { return static_cast<Loop&>(*value.object); }

std::optional<Value> loop_attribute(const Value& loop_value, const std::string& name) {
  Loop& loop = loop_of(loop_value);
  if (name == "index") return make_int(loop.index0 + 1);
  if (name == "index0") return make_int(loop.index0);
  if (name == "revindex") return make_int(loop.length() - loop.index0);
  if (name == "revindex0") return make_int(loop.length() - loop.index0 - 1);
  if (name == "first") return make_bool(loop.index0 == 0);
  if (name == "last") return make_bool(!loop.peek());
  if (name == "length") return make_int(loop.length());
  if (name == "depth") return make_int(1);
  if (name == "depth0") return make_int(0);
  if (name == "previtem") {
    if (loop.index0 == 0) return make_undefined("there is no previous item");
    return loop.before;
  }
  if (name == "nextitem") {
    std::optional<Value> next = loop.peek();
    if (!next) return make_undefined("there is no next item");
    return *next;
  }
  if (name == "cycle" || name == "changed") {
    auto callable = std::make_shared<Callable>();
    callable->kind = name == "cycle" ? CallableKind::loop_cycle : CallableKind::loop_changed;
    callable->name = name;
    callable->receiver = loop_value;
    return make_callable(std::move(callable));
  }
  return std::nullopt;
}

bool is_dunder(const std::string& name) {
  return name.size() > 4 && name.compare(0, 2, "__") == 0 && name.compare(name.size() - 2, 2, "__") == 0;
}

// jinja2's object_type_repr in "'dict object' has no attribute 'x'".
std::string no_attribute(const Value& object, const std::string& name) {
  const std::string owner = object.is_none() ? "None" : type_name(object) + " object";
  return "'" + owner + "' has no attribute '" + name + "'";
}

bool hashable(const Value& key) {
  try {
    check_hashable(key);
    return true;
  } catch (const Failure&) {
    return false;
  }
}

}  // namespace

const Value* Frame::find(const std::string& name) const {
  for (const auto& [variable, value] : variables)
    if (variable == name) return &value;
  return nullptr;
}

void Frame::set(const std::string& name, Value value) {
  for (auto& [variable, stored] : variables) {
    if (variable == name) {
      stored = std::move(value);
      return;
    }
  }
  variables.emplace_back(name, std::move(value));
}

std::string Callable::type_name() const {
  switch (kind) {
    case CallableKind::macro: return "Macro";
    case CallableKind::method: return "builtin_function_or_method";
    case CallableKind::global: return "function";
    default: return "method";
  }
}

std::string Callable::repr() const {
  if (kind == CallableKind::macro) return "<Macro " + string_repr(name) + ">";
  fail("printing the function '" + name + "' is not supported (Python prints its memory address)");
}

Value make_callable(std::shared_ptr<Callable> callable) {
  Value value;
  value.kind = Kind::callable;
  value.object = std::move(callable);
  return value;
}

Value make_method(const Value& receiver, const std::string& name) {
  auto callable = std::make_shared<Callable>();
  callable->kind = CallableKind::method;
  callable->name = name;
  callable->receiver = receiver;
  return make_callable(std::move(callable));
}

Value make_global(const std::string& name) {
  auto callable = std::make_shared<Callable>();
  callable->kind = CallableKind::global;
  callable->name = name;
  return make_callable(std::move(callable));
}

namespace {

void hide(Frame& frame, const HiddenNames& hidden) {
  for (const std::string& name : hidden) frame.set(name, make_undefined("'" + name + "' is undefined"));
}

}  // namespace

Frame& Evaluator::new_frame(Frame* parent, const HiddenNames& hidden) {
  frames_.emplace_back();
  Frame& frame = frames_.back();
  frame.parent = parent;
  hide(frame, hidden);
  return frame;
}

void Evaluator::located_failure(std::size_t line, const std::string& message) const {
  throw_input_error(tree_.origin, line, message);
}

std::string Evaluator::render(const Value& variables) {
  // The context sits below the template's own top-level scope, which may hide some of its names.
  Frame& context = new_frame(nullptr);
  for (const auto& [key, value] : mapping_of(variables).entries) context.set(to_str(key), value);
  Frame& root = new_frame(&context, tree_.hidden);
  std::string out;
  execute(tree_.body, root, out);
  return out;
}

// --- statements -------------------------------------------------------------------------------

Evaluator::Flow Evaluator::execute(const Body& body, Frame& frame, std::string& out) {
  for (const StmtPtr& statement : body) {
    const Flow flow = execute(*statement, frame, out);
    if (flow != Flow::normal) return flow;
  }
  return Flow::normal;
}

Evaluator::Flow Evaluator::execute(const Stmt& statement, Frame& frame, std::string& out) {
  try {
    return execute_unlocated(statement, frame, out);
  } catch (const Failure& failure) {
    located_failure(statement.line, failure.message());
  }
}

Evaluator::Flow Evaluator::execute_unlocated(const Stmt& statement, Frame& frame, std::string& out) {
  switch (statement.kind) {
    case StmtKind::text: out += static_cast<const TextStmt&>(statement).text; return Flow::normal;
    case StmtKind::output:
      for (const ExprPtr& value : static_cast<const OutputStmt&>(statement).values) out += to_str(evaluate(*value, frame));
      return Flow::normal;
    case StmtKind::if_: {
      const auto& node = static_cast<const IfStmt&>(statement);
      for (std::size_t i = 0; i < node.conditions.size(); ++i)
        if (truthy(evaluate(*node.conditions[i], frame))) return execute(node.branches[i], frame, out);
      return execute(node.otherwise, frame, out);
    }
    case StmtKind::for_: return execute_for(static_cast<const ForStmt&>(statement), frame, out);
    case StmtKind::set: {
      const auto& node = static_cast<const SetStmt&>(statement);
      assign(node.target, evaluate(*node.value, frame), frame, node.line);
      return Flow::normal;
    }
    case StmtKind::set_block: {
      const auto& node = static_cast<const SetBlockStmt&>(statement);
      Value value = make_string(render_block(node.body, new_frame(&frame, node.hidden)));
      assign(node.target, apply_filters(node.filters, std::move(value), frame), frame, node.line);
      return Flow::normal;
    }
    case StmtKind::macro: {
      const auto& node = static_cast<const MacroStmt&>(statement);
      auto callable = std::make_shared<Callable>();
      callable->kind = CallableKind::macro;
      callable->name = node.name;
      callable->macro = &node;
      callable->closure = &frame;
      frame.set(node.name, make_callable(std::move(callable)));
      return Flow::normal;
    }
    case StmtKind::filter_block: {
      const auto& node = static_cast<const FilterBlockStmt&>(statement);
      Value value = make_string(render_block(node.body, new_frame(&frame, node.hidden)));
      out += to_str(apply_filters(node.filters, std::move(value), frame));
      return Flow::normal;
    }
    case StmtKind::with: {
      const auto& node = static_cast<const WithStmt&>(statement);
      Frame& inner = new_frame(&frame, node.hidden);
      for (std::size_t i = 0; i < node.targets.size(); ++i)
        assign(node.targets[i], evaluate(*node.values[i], frame), inner, node.line);
      return execute(node.body, inner, out);
    }
    case StmtKind::break_: return Flow::break_loop;
    case StmtKind::continue_: return Flow::continue_loop;
    case StmtKind::generation: {
      const auto& node = static_cast<const GenerationStmt&>(statement);
      execute(node.body, new_frame(&frame, node.hidden), out);
      return Flow::normal;
    }
  }
  return Flow::normal;
}

Evaluator::Flow Evaluator::execute_for(const ForStmt& statement, Frame& frame, std::string& out) {
  const Value iterable = evaluate(*statement.iterable, frame);
  auto loop = std::make_shared<Loop>();
  if (is_sequence_kind(iterable, SequenceKind::iterator)) {
    // A generator has no len(); the loop consumes it as it goes.
    loop->pull_source = [iterable]() -> std::optional<Value> {
      Sequence& iterator = iterator_of(iterable);
      if (iterator.next >= iterator.items.size()) return std::nullopt;
      return iterator.items[iterator.next++];
    };
  } else {
    std::shared_ptr<const std::vector<Value>> items;
    if (iterable.kind == Kind::sequence) {
      // Lists cannot change under the sandbox: walk the list itself.
      items = std::shared_ptr<const std::vector<Value>>(iterable.object, &sequence_of(iterable).items);
    } else {
      items = std::make_shared<const std::vector<Value>>(iterate(iterable));
    }
    loop->known_length = static_cast<std::int64_t>(items->size());
    loop->pull_source = [items, position = std::size_t{0}]() mutable -> std::optional<Value> {
      if (position >= items->size()) return std::nullopt;
      return (*items)[position++];
    };
  }
  if (statement.condition) {
    // `for x in xs if c`: a generator of the items passing c, evaluated when the loop (or its
    // look-ahead) reaches them, in a scope where the target is bound.
    Frame& test_frame = new_frame(&frame);
    loop->known_length.reset();
    loop->pull_source = [this, &statement, &test_frame, source = std::move(loop->pull_source)]() -> std::optional<Value> {
      while (std::optional<Value> item = source()) {
        test_frame.variables.clear();
        assign(statement.target, *item, test_frame, statement.line);
        if (truthy(evaluate(*statement.condition, test_frame))) return item;
      }
      return std::nullopt;
    };
  }
  Value loop_value;
  loop_value.kind = Kind::loop;
  loop_value.object = loop;
  Frame& body_frame = new_frame(&frame);
  // jinja2 notes that the loop ran at the end of its body, so an iteration left by break or
  // continue does not count: the else block runs unless some iteration finished its body.
  bool finished_an_iteration = false;
  while (std::optional<Value> item = loop->advance()) {
    body_frame.variables.clear();
    hide(body_frame, statement.body_hidden);
    assign(statement.target, std::move(*item), body_frame, statement.line);
    body_frame.set("loop", loop_value);
    const Flow flow = execute(statement.body, body_frame, out);
    if (flow == Flow::normal) finished_an_iteration = true;
    if (flow == Flow::break_loop) break;
  }
  if (!finished_an_iteration) return execute(statement.otherwise, new_frame(&frame, statement.otherwise_hidden), out);
  return Flow::normal;
}

std::string Evaluator::render_block(const Body& body, Frame& frame) {
  std::string out;
  execute(body, frame, out);
  return out;
}

Value Evaluator::apply_filters(const std::vector<ExprPtr>& filters, Value input, Frame& frame) {
  for (const ExprPtr& filter : filters) {
    const Arguments arguments = evaluate_arguments(*filter, 1, frame);
    try {
      input = filter->filter(*this, input, arguments);
    } catch (const Failure& failure) {
      located_failure(filter->line, failure.message());
    }
  }
  return input;
}

void Evaluator::assign(const Target& target, Value value, Frame& frame, std::size_t line) {
  if (!target.attribute.empty()) {
    const Value space = lookup(target.names[0], frame);
    if (space.kind != Kind::namespace_object)
      located_failure(line, "cannot assign attribute on non-namespace object ('" + target.names[0] + "' is " +
                                type_name(space) + ")");
    namespace_of(space).set(target.attribute, std::move(value));
    return;
  }
  if (!target.unpack) {
    frame.set(target.names[0], std::move(value));
    return;
  }
  std::vector<Value> items = iterate(value);
  const std::size_t wanted = target.names.size();
  if (items.size() < wanted)
    fail("not enough values to unpack (expected " + std::to_string(wanted) + ", got " + std::to_string(items.size()) + ")");
  if (items.size() > wanted) fail("too many values to unpack (expected " + std::to_string(wanted) + ")");
  for (std::size_t i = 0; i < wanted; ++i) frame.set(target.names[i], std::move(items[i]));
}

// --- expressions ------------------------------------------------------------------------------

Value Evaluator::lookup(const std::string& name, const Frame& frame) const {
  for (const Frame* scope = &frame; scope != nullptr; scope = scope->parent)
    if (const Value* found = scope->find(name)) return *found;
  for (const auto& [global, value] : global_values())
    if (global == name) return value;
  return make_undefined("'" + name + "' is undefined");
}

Value Evaluator::evaluate(const Expr& expr, Frame& frame) {
  try {
    return evaluate_unlocated(expr, frame);
  } catch (const Failure& failure) {
    located_failure(expr.line, failure.message());
  } catch (const RaisedByTemplate& raised) {
    throw TemplateRaised(location_prefix(tree_.origin, expr.line) + "template raised: " + raised.message(),
                         raised.message());
  }
}

Arguments Evaluator::evaluate_arguments(const Expr& expr, std::size_t first, Frame& frame) {
  Arguments arguments;
  for (std::size_t i = first; i < expr.operands.size(); ++i) arguments.positional.push_back(evaluate(*expr.operands[i], frame));
  for (const Keyword& keyword : expr.keywords) arguments.keywords.emplace_back(keyword.name, evaluate(*keyword.value, frame));
  return arguments;
}

Value Evaluator::evaluate_compare(const Expr& expr, Frame& frame) {
  Value left = evaluate(*expr.operands[0], frame);
  for (std::size_t i = 0; i < expr.compare_ops.size(); ++i) {
    Value right = evaluate(*expr.operands[i + 1], frame);
    bool holds = false;
    switch (expr.compare_ops[i]) {
      case CompareOp::equal: holds = equal(left, right); break;
      case CompareOp::not_equal: holds = !equal(left, right); break;
      case CompareOp::in: holds = contains(right, left); break;
      case CompareOp::not_in: holds = !contains(right, left); break;
      default: {
        if (left.is_undefined()) fail_undefined(left);
        if (right.is_undefined()) fail_undefined(right);
        static const Order kOrders[] = {Order::less, Order::less_equal, Order::greater, Order::greater_equal};
        holds = compare(left, right, kOrders[static_cast<int>(expr.compare_ops[i]) - static_cast<int>(CompareOp::less)]);
      }
    }
    if (!holds) return make_bool(false);
    left = std::move(right);
  }
  return make_bool(true);
}

Value Evaluator::evaluate_unlocated(const Expr& expr, Frame& frame) {
  switch (expr.kind) {
    case ExprKind::literal: return expr.value;
    case ExprKind::name:
      if (constant_mode_) throw NotConstant{};
      return lookup(expr.name, frame);
    case ExprKind::list:
    case ExprKind::tuple: {
      std::vector<Value> items;
      items.reserve(expr.operands.size());
      for (const ExprPtr& operand : expr.operands) items.push_back(evaluate(*operand, frame));
      return expr.kind == ExprKind::list ? make_list(std::move(items)) : make_tuple(std::move(items));
    }
    case ExprKind::dict: {
      auto mapping = std::make_shared<Mapping>();
      for (std::size_t i = 0; i + 1 < expr.operands.size(); i += 2) {
        Value key = evaluate(*expr.operands[i], frame);
        check_hashable(key);
        mapping->insert(std::move(key), evaluate(*expr.operands[i + 1], frame));
      }
      return make_mapping(std::move(mapping));
    }
    case ExprKind::attribute: return get_attribute(evaluate(*expr.operands[0], frame), expr.name);
    case ExprKind::item: {
      const Value object = evaluate(*expr.operands[0], frame);
      const Expr& subscript = *expr.operands[1];
      if (subscript.kind != ExprKind::slice) return get_item(object, evaluate(subscript, frame));
      Value bounds[3];
      for (std::size_t i = 0; i < 3; ++i)
        bounds[i] = subscript.operands[i] ? evaluate(*subscript.operands[i], frame) : make_none();
      if (std::optional<Value> sliced = slice_value(object, bounds[0], bounds[1], bounds[2], constant_mode_)) return *sliced;
      return make_undefined(type_name(object) + " object has no element slice");
    }
    case ExprKind::slice: fail("a slice is only allowed inside [ ]");
    case ExprKind::call: {
      if (constant_mode_) throw NotConstant{};  // the sandbox never calls at compile time
      const Value callee = evaluate(*expr.operands[0], frame);
      return call(callee, evaluate_arguments(expr, 1, frame));
    }
    case ExprKind::filter: {
      if (constant_mode_ && (!expr.operands[0] || filter_reads_context(expr.name))) throw NotConstant{};
      const Value input = evaluate(*expr.operands[0], frame);
      return expr.filter(*this, input, evaluate_arguments(expr, 1, frame));
    }
    case ExprKind::test: {
      const Value input = evaluate(*expr.operands[0], frame);
      return make_bool(expr.test(*this, input, evaluate_arguments(expr, 1, frame)));
    }
    case ExprKind::logical_not: return make_bool(!truthy(evaluate(*expr.operands[0], frame)));
    case ExprKind::negate:
    case ExprKind::unary_plus: {
      const Value operand = evaluate(*expr.operands[0], frame);
      const bool negate = expr.kind == ExprKind::negate;
      if (operand.is_undefined()) fail_undefined(operand);
      if (operand.is_int_like()) {
        if (negate && operand.integer == std::numeric_limits<std::int64_t>::min()) fail("integer overflow in unary -");
        return make_int(negate ? -operand.integer : operand.integer);
      }
      if (operand.kind == Kind::floating) return make_float(negate ? -operand.floating : operand.floating);
      fail(std::string("bad operand type for unary ") + (negate ? "-" : "+") + ": '" + type_name(operand) + "'");
    }
    case ExprKind::binary:
      return binary_operation(expr.binary_op, evaluate(*expr.operands[0], frame), evaluate(*expr.operands[1], frame));
    case ExprKind::concat: {
      std::string out;
      for (const ExprPtr& operand : expr.operands) out += to_str(evaluate(*operand, frame));
      return make_string(std::move(out));
    }
    case ExprKind::compare: return evaluate_compare(expr, frame);
    case ExprKind::logical_and: {
      Value left = evaluate(*expr.operands[0], frame);
      if (!truthy(left)) return left;
      return evaluate(*expr.operands[1], frame);
    }
    case ExprKind::logical_or: {
      Value left = evaluate(*expr.operands[0], frame);
      if (truthy(left)) return left;
      return evaluate(*expr.operands[1], frame);
    }
    case ExprKind::conditional:
      if (truthy(evaluate(*expr.operands[1], frame))) return evaluate(*expr.operands[0], frame);
      if (expr.operands[2]) return evaluate(*expr.operands[2], frame);
      if (constant_mode_) throw NotConstant{};  // jinja2 leaves this undefined to run time
      return make_undefined("the inline if-expression on line " + std::to_string(expr.line) +
                            " evaluated to false and no else section was defined.");
  }
  fail("unknown expression");
}

std::optional<Value> Evaluator::constant_value(const Expr& expr) {
  constant_mode_ = true;
  Frame& frame = new_frame(nullptr);
  std::optional<Value> value;
  try {
    value = evaluate(expr, frame);
  } catch (const NotConstant&) {
  } catch (const InputError&) {
    // an error at compile time: jinja2 leaves the expression to run time, which raises it again
  }
  constant_mode_ = false;
  return value;
}

Value Evaluator::get_attribute(const Value& object, const std::string& name) {
  if (object.is_undefined()) fail_undefined(object);
  if (is_dunder(name)) fail("the attribute '" + name + "' is not supported (the sandbox hides it)");
  switch (object.kind) {
    case Kind::namespace_object:
      if (const Value* found = namespace_of(object).find(name)) return *found;
      return make_undefined(no_attribute(object, name));
    case Kind::loop:
      if (std::optional<Value> found = loop_attribute(object, name)) return *found;
      return make_undefined(no_attribute(object, name));
    case Kind::callable:
      if (name == "name" || name == "arguments" || name == "defaults" || name == "catch_kwargs" ||
          name == "catch_varargs" || name == "caller")
        fail("the attribute '" + name + "' of a macro is not supported");
      return make_undefined(no_attribute(object, name));
    default: break;
  }
  if (std::optional<Value> method = builtin_attribute(object, name)) return *method;
  if (object.kind == Kind::mapping)
    if (const Value* found = mapping_of(object).find(std::string_view(name))) return *found;
  return make_undefined(no_attribute(object, name));
}

Value Evaluator::get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail_undefined(object);
  switch (object.kind) {
    case Kind::mapping:
      if (hashable(key))
        if (const Value* found = mapping_of(object).find(key)) return *found;
      break;
    case Kind::sequence: {
      const Sequence& sequence = sequence_of(object);
      const bool indexable = sequence.kind == SequenceKind::list || sequence.kind == SequenceKind::tuple ||
                             sequence.kind == SequenceKind::range;
      if (indexable && key.is_int_like()) {
        std::int64_t index = key.integer;
        const auto size = static_cast<std::int64_t>(sequence.items.size());
        if (index < 0) index += size;
        if (index >= 0 && index < size) return sequence.items[static_cast<std::size_t>(index)];
        return make_undefined(type_name(object) + " object has no element " + to_repr(key));
      }
      break;
    }
    case Kind::string:
      if (key.is_int_like()) {
        const std::u32string characters = decode_utf8(object.text);
        std::int64_t index = key.integer;
        const auto size = static_cast<std::int64_t>(characters.size());
        if (index < 0) index += size;
        if (index >= 0 && index < size) {
          std::string character;
          append_utf8(characters[static_cast<std::size_t>(index)], character);
          return make_string(std::move(character), object.markup);
        }
        return make_undefined("str object has no element " + to_repr(key));
      }
      break;
    default: break;
  }
  if (!key.is_string()) return make_undefined(type_name(object) + " object has no element " + to_repr(key));
  // jinja2 falls back to the attribute of that name.
  if (is_dunder(key.text)) fail("the attribute '" + key.text + "' is not supported (the sandbox hides it)");
  if (object.kind == Kind::namespace_object || object.kind == Kind::loop || object.kind == Kind::callable)
    return get_attribute(object, key.text);
  if (std::optional<Value> method = builtin_attribute(object, key.text)) return *method;
  return make_undefined(no_attribute(object, key.text));
}

Value Evaluator::call(const Value& callee, const Arguments& arguments) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.kind != Kind::callable) fail("'" + type_name(callee) + "' object is not callable");
  const auto& callable = static_cast<const Callable&>(*callee.object);
  switch (callable.kind) {
    case CallableKind::macro: return call_macro(callable, arguments);
    case CallableKind::method: return call_method(*this, callable.receiver, callable.name, arguments);
    case CallableKind::global: return call_global(*this, callable.name, arguments);
    case CallableKind::loop_cycle: {
      if (!arguments.keywords.empty()) fail("cycle() takes no keyword arguments");
      if (arguments.positional.empty()) fail("no items for cycling given");
      const Loop& loop = loop_of(callable.receiver);
      const auto count = static_cast<std::int64_t>(arguments.positional.size());
      return arguments.positional[static_cast<std::size_t>(((loop.index0 % count) + count) % count)];
    }
    case CallableKind::loop_changed: {
      if (!arguments.keywords.empty()) fail("changed() takes no keyword arguments");
      Loop& loop = loop_of(callable.receiver);
      Value value = make_tuple(arguments.positional);
      if (loop.last_changed && equal(*loop.last_changed, value)) return make_bool(false);
      loop.last_changed = std::move(value);
      return make_bool(true);
    }
  }
  fail("not callable");
}

Value Evaluator::call_macro(const Callable& callable, const Arguments& arguments) {
  const MacroStmt& macro = *callable.macro;
  if (depth_ >= kMaxMacroDepth) fail("macro calls nested more than " + std::to_string(kMaxMacroDepth) + " deep");
  struct DepthGuard {
    std::size_t& depth;
    ~DepthGuard() { --depth; }
  } guard{++depth_};

  Frame& frame = new_frame(callable.closure, macro.hidden);
  const std::size_t count = macro.parameters.size();
  std::vector<bool> given(count, false);
  const std::size_t positional = arguments.positional.size();
  for (std::size_t i = 0; i < positional && i < count; ++i) {
    frame.set(macro.parameters[i], arguments.positional[i]);
    given[i] = true;
  }
  auto extra_keywords = std::make_shared<Mapping>();
  for (const auto& [name, value] : arguments.keywords) {
    const auto found = std::find(macro.parameters.begin(), macro.parameters.end(), name);
    const auto index = static_cast<std::size_t>(found - macro.parameters.begin());
    if (found != macro.parameters.end() && index >= positional) {
      frame.set(name, value);
      given[index] = true;
    } else if (macro.takes_kwargs) {
      extra_keywords->insert(make_string(name), value);
    } else {
      fail("macro '" + macro.name + "' takes no keyword argument '" + name + "'");
    }
  }
  if (positional > count && !macro.takes_varargs)
    fail("macro '" + macro.name + "' takes not more than " + std::to_string(count) + " argument(s)");
  const std::size_t first_default = count - macro.defaults.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (given[i]) continue;
    if (i >= first_default) frame.set(macro.parameters[i], evaluate(*macro.defaults[i - first_default], frame));
    else frame.set(macro.parameters[i], make_undefined("parameter '" + macro.parameters[i] + "' was not provided"));
  }
  if (macro.takes_varargs) {
    std::vector<Value> rest;
    for (std::size_t i = count; i < positional; ++i) rest.push_back(arguments.positional[i]);
    frame.set("varargs", make_tuple(std::move(rest)));
  }
  if (macro.takes_kwargs) frame.set("kwargs", make_mapping(std::move(extra_keywords)));
  std::string out;
  execute(macro.body, frame, out);
  return make_string(std::move(out));
}

Value Evaluator::call_filter(const std::string& name, const Value& input, const Arguments& arguments) {
  const FilterFunction filter = find_filter(name);
  if (filter == nullptr) {
    if (jinja_has_filter(name)) fail("the filter '" + name + "' is not supported");
    fail("No filter named '" + name + "'.");
  }
  return filter(*this, input, arguments);
}

bool Evaluator::call_test(const std::string& name, const Value& input, const Arguments& arguments) {
  const TestFunction test = find_test(name);
  if (test == nullptr) {
    if (jinja_has_test(name)) fail("the test '" + name + "' is not supported");
    fail("No test named '" + name + "'.");
  }
  return test(*this, input, arguments);
}

}  // namespace selm::jinja::detail
