// Renders a parsed template: scopes as jinja2 has them, expression evaluation, loops, macros.
//
// Scopes follow jinja2: {% set %} writes to the innermost scope; each for-loop iteration, macro
// call, with, filter and generation block and block set opens a scope that reads the enclosing
// ones and whose own variables vanish when it ends (hence namespace() to carry values out).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jinja_ast.hpp"
#include "jinja_arguments.hpp"
#include "jinja_value.hpp"

namespace selm::jinja::detail {

// One scope. Frames live in the evaluator's arena until the render ends, so a macro may keep a
// pointer to the scope it was defined in.
struct Frame {
  Frame* parent = nullptr;
  std::vector<std::pair<std::string, Value>> variables;

  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);
};

enum class CallableKind : std::uint8_t { macro, method, global, loop_cycle, loop_changed };

struct Callable : Object {
  CallableKind kind = CallableKind::global;
  std::string name;                // macro, method or global name
  Value receiver;                  // a method's object; the loop of cycle/changed
  const MacroStmt* macro = nullptr;
  Frame* closure = nullptr;        // where a macro was defined (it reads that scope)
  std::string type_name() const override;
  std::string repr() const override;
};

Value make_callable(std::shared_ptr<Callable> callable);
Value make_method(const Value& receiver, const std::string& name);
Value make_global(const std::string& name);

// raise_exception(message) from the template.
class RaisedByTemplate : public std::exception {
 public:
  explicit RaisedByTemplate(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

class Evaluator {
 public:
  explicit Evaluator(const TemplateTree& tree) : tree_(tree) {}

  // jinja2's compile-time evaluation (as_const): the value of `expr` when jinja2 can compute it
  // without rendering (no variables, calls or filters that read the context, no error), else
  // nullopt. Slices that would fail with a TypeError give undefined there, as in jinja2.
  std::optional<Value> constant_value(const Expr& expr);

  // Renders the whole template with these variables (a dict).
  std::string render(const Value& variables);

  // jinja2's environment.getattr (a.b: attribute, then item) and getitem (a[b]: item, then
  // attribute); a missing one is undefined; Failure when `object` is undefined.
  Value get_attribute(const Value& object, const std::string& name);
  Value get_item(const Value& object, const Value& key);
  Value call(const Value& callee, const Arguments& arguments);

  // The filter or test named at render time (map('upper'), select('odd')).
  Value call_filter(const std::string& name, const Value& input, const Arguments& arguments);
  bool call_test(const std::string& name, const Value& input, const Arguments& arguments);

 private:
  enum class Flow : std::uint8_t { normal, break_loop, continue_loop };

  Flow execute(const Body& body, Frame& frame, std::string& out);
  Flow execute(const Stmt& statement, Frame& frame, std::string& out);
  Flow execute_unlocated(const Stmt& statement, Frame& frame, std::string& out);
  Flow execute_for(const ForStmt& statement, Frame& frame, std::string& out);
  std::string render_block(const Body& body, Frame& frame);
  Value apply_filters(const std::vector<ExprPtr>& filters, Value input, Frame& frame);
  void assign(const Target& target, Value value, Frame& frame, std::size_t line);

  Value evaluate(const Expr& expr, Frame& frame);
  Value evaluate_unlocated(const Expr& expr, Frame& frame);
  Arguments evaluate_arguments(const Expr& expr, std::size_t first, Frame& frame);
  Value evaluate_compare(const Expr& expr, Frame& frame);
  Value lookup(const std::string& name, const Frame& frame) const;
  Value call_macro(const Callable& macro, const Arguments& arguments);

  [[noreturn]] void located_failure(std::size_t line, const std::string& message) const;

  // A scope inside `parent` that starts with `hidden` undefined (jinja2's static scoping).
  Frame& new_frame(Frame* parent, const HiddenNames& hidden = {});

  struct NotConstant {};  // thrown in constant mode where jinja2's as_const gives up

  const TemplateTree& tree_;
  bool constant_mode_ = false;
  std::deque<Frame> frames_;
  std::size_t depth_ = 0;  // nested macro calls, bounded so that runaway recursion fails cleanly
};

}  // namespace selm::jinja::detail
