#include "jinja_folding.hpp"

#include "jinja_evaluator.hpp"

namespace selm::jinja::detail {
namespace {

// jinja2's has_safe_repr: what it is willing to write into compiled code as a constant.
bool has_safe_repr(const Value& value) {
  switch (value.kind) {
    case Kind::none:
    case Kind::boolean:
    case Kind::integer:
    case Kind::floating:
    case Kind::string: return true;
    case Kind::sequence: {
      const Sequence& sequence = sequence_of(value);
      if (sequence.kind == SequenceKind::range) return true;
      if (sequence.kind != SequenceKind::list && sequence.kind != SequenceKind::tuple) return false;
      for (const Value& item : sequence.items)
        if (!has_safe_repr(item)) return false;
      return true;
    }
    case Kind::mapping:
      for (const auto& [key, item] : mapping_of(value).entries)
        if (!has_safe_repr(key) || !has_safe_repr(item)) return false;
      return true;
    default: return false;
  }
}

class Folder {
 public:
  explicit Folder(const TemplateTree& tree) : evaluator_(tree) {}

  void fold_body(Body& body) {
    for (StmtPtr& statement : body) fold_statement(*statement);
  }

 private:
  // Bottom-up, as jinja2's optimizer: operands first, then the node itself.
  void fold(ExprPtr& expr) {
    if (!expr) return;
    for (ExprPtr& operand : expr->operands) fold(operand);
    for (Keyword& keyword : expr->keywords) fold(keyword.value);
    if (expr->kind == ExprKind::literal || expr->kind == ExprKind::slice) return;
    std::optional<Value> value = evaluator_.constant_value(*expr);
    if (value && has_safe_repr(*value)) replace(expr, std::move(*value));
  }

  // A printed expression: computed while compiling whatever its value, when str() of it works.
  void fold_output(ExprPtr& expr) {
    if (std::optional<Value> value = evaluator_.constant_value(*expr)) {
      try {
        replace(expr, make_string(to_str(*value)));
        return;
      } catch (const Failure&) {
        // not printable while compiling: jinja2 leaves it to run time, which fails the same way
      }
    }
    fold(expr);
  }

  static void replace(ExprPtr& expr, Value value) {
    auto literal = std::make_unique<Expr>();
    literal->kind = ExprKind::literal;
    literal->line = expr->line;
    literal->value = std::move(value);
    expr = std::move(literal);
  }

  void fold_all(std::vector<ExprPtr>& exprs) {
    for (ExprPtr& expr : exprs) fold(expr);
  }

  void fold_statement(Stmt& statement) {
    switch (statement.kind) {
      case StmtKind::output:
        for (ExprPtr& value : static_cast<OutputStmt&>(statement).values) fold_output(value);
        break;
      case StmtKind::if_: {
        auto& node = static_cast<IfStmt&>(statement);
        fold_all(node.conditions);
        for (Body& branch : node.branches) fold_body(branch);
        fold_body(node.otherwise);
        break;
      }
      case StmtKind::for_: {
        auto& node = static_cast<ForStmt&>(statement);
        fold(node.iterable);
        fold(node.condition);
        fold_body(node.body);
        fold_body(node.otherwise);
        break;
      }
      case StmtKind::set: fold(static_cast<SetStmt&>(statement).value); break;
      case StmtKind::set_block: {
        auto& node = static_cast<SetBlockStmt&>(statement);
        fold_all(node.filters);
        fold_body(node.body);
        break;
      }
      case StmtKind::macro: {
        auto& node = static_cast<MacroStmt&>(statement);
        fold_all(node.defaults);
        fold_body(node.body);
        break;
      }
      case StmtKind::filter_block: {
        auto& node = static_cast<FilterBlockStmt&>(statement);
        fold_all(node.filters);
        fold_body(node.body);
        break;
      }
      case StmtKind::with: {
        auto& node = static_cast<WithStmt&>(statement);
        fold_all(node.values);
        fold_body(node.body);
        break;
      }
      case StmtKind::generation: fold_body(static_cast<GenerationStmt&>(statement).body); break;
      default: break;
    }
  }

  Evaluator evaluator_;
};

}  // namespace

void fold_constants(TemplateTree& tree) { Folder(tree).fold_body(tree.body); }

}  // namespace selm::jinja::detail
