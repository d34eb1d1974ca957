// The parsed form of a Jinja template: expression and statement nodes, each with the line it
// starts on for messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jinja_value.hpp"

namespace selm::jinja::detail {

class Evaluator;
struct Arguments;

// A filter or test as the parser resolved it (so rendering never looks names up).
using FilterFunction = Value (*)(Evaluator& evaluator, const Value& input, const Arguments& arguments);
using TestFunction = bool (*)(Evaluator& evaluator, const Value& input, const Arguments& arguments);

enum class ExprKind : std::uint8_t {
  literal,      // value
  name,         // name
  list,         // operands: items
  tuple,        // operands: items
  dict,         // operands: key, value, key, value, ...
  attribute,    // operands[0].name
  item,         // operands[0][operands[1]]; operands[1] may be a slice
  slice,        // operands: start, stop, step (each may be null)
  call,         // operands[0](operands[1:], keywords)
  filter,       // operands[0] | name(operands[1:], keywords); operands[0] null in a filter chain
                // applied to a block's output
  test,         // operands[0] is name(operands[1:], keywords)
  logical_not,  // not operands[0]
  negate,       // -operands[0]
  unary_plus,   // +operands[0]
  binary,       // operands[0] binary_op operands[1]
  concat,       // operands joined by ~
  compare,      // operands[0] compare_ops[0] operands[1] compare_ops[1] operands[2] ...
  logical_and,  // operands[0] and operands[1]
  logical_or,   // operands[0] or operands[1]
  conditional,  // operands[0] if operands[1] else operands[2] (null: undefined)
};

enum class BinaryOp : std::uint8_t { add, subtract, multiply, divide, floor_divide, modulo, power };
enum class CompareOp : std::uint8_t { equal, not_equal, less, less_equal, greater, greater_equal, in, not_in };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Keyword {
  std::string name;
  ExprPtr value;
};

struct Expr {
  ExprKind kind = ExprKind::literal;
  std::size_t line = 0;
  Value value;       // literal
  std::string name;  // name, attribute, filter or test
  BinaryOp binary_op = BinaryOp::add;
  std::vector<CompareOp> compare_ops;
  std::vector<ExprPtr> operands;
  std::vector<Keyword> keywords;
  FilterFunction filter = nullptr;
  TestFunction test = nullptr;
};

enum class StmtKind : std::uint8_t {
  text,
  output,
  if_,
  for_,
  set,
  set_block,
  macro,
  filter_block,
  with,
  break_,
  continue_,
  generation,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  explicit Stmt(StmtKind kind_, std::size_t line_) : kind(kind_), line(line_) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  std::size_t line;
};

// Where a for, set or with stores: one name, names unpacked from a sequence, or (set only) a
// namespace attribute `names[0].attribute`.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;
  std::string attribute;
};

struct TextStmt : Stmt {
  TextStmt(std::size_t line_, std::string text_) : Stmt(StmtKind::text, line_), text(std::move(text_)) {}
  std::string text;
};

// {{ x }} and {% print a, b %}.
struct OutputStmt : Stmt {
  explicit OutputStmt(std::size_t line_) : Stmt(StmtKind::output, line_) {}
  std::vector<ExprPtr> values;
};

struct IfStmt : Stmt {
  explicit IfStmt(std::size_t line_) : Stmt(StmtKind::if_, line_) {}
  std::vector<ExprPtr> conditions;  // if, then each elif
  std::vector<Body> branches;       // one per condition
  Body otherwise;
};

// Names a scope must start with as undefined rather than read from enclosing scopes: jinja2
// decides statically that a name first assigned in a scope (and unknown to the scopes around it)
// belongs to that scope from its start, so that a loop or macro inside reads it as undefined until
// the assignment runs, even when the context has a variable of that name. Filled by
// analyze_scopes (jinja_scopes.hpp).
using HiddenNames = std::vector<std::string>;

struct ForStmt : Stmt {
  explicit ForStmt(std::size_t line_) : Stmt(StmtKind::for_, line_) {}
  Target target;
  ExprPtr iterable;
  ExprPtr condition;  // `for x in xs if condition`; null when absent
  Body body;
  Body otherwise;  // rendered when the loop ran zero times
  HiddenNames body_hidden;
  HiddenNames otherwise_hidden;
};

struct SetStmt : Stmt {
  explicit SetStmt(std::size_t line_) : Stmt(StmtKind::set, line_) {}
  Target target;
  ExprPtr value;
};

// {% set x | filters %}body{% endset %}
struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(std::size_t line_) : Stmt(StmtKind::set_block, line_) {}
  Target target;
  std::vector<ExprPtr> filters;  // filter nodes with a null input, applied in order
  Body body;
  HiddenNames hidden;
};

struct MacroStmt : Stmt {
  explicit MacroStmt(std::size_t line_) : Stmt(StmtKind::macro, line_) {}
  std::string name;
  std::vector<std::string> parameters;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() parameters
  Body body;
  bool takes_varargs = false;  // the body reads `varargs`: extra positional arguments allowed
  bool takes_kwargs = false;   // the body reads `kwargs`: unknown keyword arguments allowed
  HiddenNames hidden;
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(std::size_t line_) : Stmt(StmtKind::filter_block, line_) {}
  std::vector<ExprPtr> filters;
  Body body;
  HiddenNames hidden;
};

struct WithStmt : Stmt {
  explicit WithStmt(std::size_t line_) : Stmt(StmtKind::with, line_) {}
  std::vector<Target> targets;
  std::vector<ExprPtr> values;
  Body body;
  HiddenNames hidden;
};

// {% break %}, {% continue %}: Stmt with kind break_ or continue_.

// transformers' {% generation %}: the body renders unchanged, in a scope of its own (it is a
// call block in jinja2).
struct GenerationStmt : Stmt {
  explicit GenerationStmt(std::size_t line_) : Stmt(StmtKind::generation, line_) {}
  Body body;
  HiddenNames hidden;
};

struct TemplateTree {
  std::string origin;
  Body body;
  HiddenNames hidden;
};

}  // namespace selm::jinja::detail
