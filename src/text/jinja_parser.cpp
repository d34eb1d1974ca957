#include "jinja_parser.hpp"

#include <algorithm>
#include <functional>
#include <initializer_list>

#include "jinja_filters.hpp"
#include "jinja_folding.hpp"
#include "jinja_lexer.hpp"
#include "jinja_scopes.hpp"
#include "selm/util/error.hpp"

namespace selm::jinja::detail {
namespace {

// Deeper nesting fails cleanly instead of exhausting the stack; jinja2 itself gives up earlier
// (about 80 nested parentheses, 100 nested blocks).
constexpr int kMaxNesting = 100;

ExprPtr make_expr(ExprKind kind, std::size_t line) {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->line = line;
  return expr;
}

// Tags jinja2 knows that this engine does not implement (named in the error).
bool is_unsupported_tag(const std::string& name) {
  static const char* const kTags[] = {"block", "extends", "include", "import", "from", "call", "autoescape"};
  return std::any_of(std::begin(kTags), std::end(kTags), [&](const char* tag) { return name == tag; });
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& origin) : tokens_(std::move(tokens)), origin_(origin) {}

  Body parse_all() {
    Body body = subparse({});
    if (current().kind != TokenKind::end) error(current().line, "unexpected " + describe(current()));
    return body;
  }

 private:
  // --- token stream -------------------------------------------------------------------------

  const Token& current() const { return tokens_[pos_]; }
  const Token& look() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }

  bool is_operator(const char* op) const { return current().kind == TokenKind::operator_ && current().text == op; }
  bool is_name(const char* name) const { return current().kind == TokenKind::name && current().text == name; }
  bool skip_operator(const char* op) {
    if (!is_operator(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }

  [[noreturn]] void error(std::size_t line, const std::string& message) const {
    throw_input_error(origin_, line, message);
  }

  // Counts one level of nesting while it lives.
  class Nesting {
   public:
    Nesting(Parser& parser, int& depth, const char* what) : depth_(depth) {
      if (++depth_ > kMaxNesting)
        parser.error(parser.current().line, std::string(what) + " nested more than " + std::to_string(kMaxNesting) + " deep");
    }
    ~Nesting() { --depth_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;

   private:
    int& depth_;
  };

  void expect_operator(const char* op) {
    if (!skip_operator(op)) error(current().line, std::string("expected '") + op + "', got " + describe(current()));
  }
  const Token& expect_name() {
    if (current().kind != TokenKind::name) error(current().line, "expected a name, got " + describe(current()));
    return next();
  }
  void expect(TokenKind kind) {
    if (current().kind == kind) {
      next();
      return;
    }
    Token wanted;
    wanted.kind = kind;
    error(current().line, "expected " + describe(wanted) + ", got " + describe(current()));
  }

  // --- statements ---------------------------------------------------------------------------

  // Template content up to a block tag whose name is in `end_tags` (left as the current token).
  Body subparse(const std::vector<std::string>& end_tags) {
    Body body;
    while (current().kind != TokenKind::end) {
      const Token& token = current();
      if (token.kind == TokenKind::data) {
        body.push_back(std::make_unique<TextStmt>(token.line, token.text));
        next();
      } else if (token.kind == TokenKind::variable_begin) {
        next();
        auto output = std::make_unique<OutputStmt>(token.line);
        output->values.push_back(parse_tuple(false, true, {}, false));
        expect(TokenKind::variable_end);
        body.push_back(std::move(output));
      } else if (token.kind == TokenKind::block_begin) {
        next();
        if (current().kind == TokenKind::name &&
            std::find(end_tags.begin(), end_tags.end(), current().text) != end_tags.end())
          return body;
        body.push_back(parse_statement(end_tags));
        expect(TokenKind::block_end);
      } else {
        error(token.line, "unexpected " + describe(token));
      }
    }
    if (!end_tags.empty()) {
      std::string wanted;
      for (const std::string& tag : end_tags) wanted += (wanted.empty() ? "'" : " or '") + tag + "'";
      error(current().line, "unexpected end of template; expected " + wanted + " (opened at line " +
                                std::to_string(block_lines_.empty() ? 0 : block_lines_.back()) + ")");
    }
    return body;
  }

  // After a tag's arguments: its %} and the body up to one of `end_tags`; the end tag's name is
  // consumed when `drop_end_tag` is set.
  Body parse_statements(const std::vector<std::string>& end_tags, bool drop_end_tag, std::size_t opened_at) {
    const Nesting nesting(*this, block_nesting_, "blocks");
    skip_operator(":");
    expect(TokenKind::block_end);
    block_lines_.push_back(opened_at);
    Body body = subparse(end_tags);
    block_lines_.pop_back();
    if (drop_end_tag) next();
    return body;
  }

  StmtPtr parse_statement(const std::vector<std::string>& end_tags) {
    const Token& token = current();
    if (token.kind != TokenKind::name) error(token.line, "expected a tag name, got " + describe(token));
    const std::string& tag = token.text;
    const std::size_t line = token.line;
    if (tag == "for") return parse_for();
    if (tag == "if") return parse_if();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "print") return parse_print();
    if (tag == "generation") return parse_generation();
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0 && loop_outside_buffer_)
        error(line, "'" + tag + "' inside a set or filter block within a loop is not supported");
      if (loop_depth_ == 0) error(line, "'" + tag + "' outside a for loop");
      next();
      return std::make_unique<Stmt>(tag == "break" ? StmtKind::break_ : StmtKind::continue_, line);
    }
    if (is_unsupported_tag(tag)) error(line, "the '" + tag + "' tag is not supported");
    if (tag.rfind("end", 0) == 0 || tag == "else" || tag == "elif") {
      std::string context = end_tags.empty() ? "no block is open" : "the open block ends with '" + end_tags[0] + "'";
      error(line, "unexpected '" + tag + "' (" + context + ")");
    }
    error(line, "unknown tag '" + tag + "'");
  }

  // A name, or names to unpack (`a, b` or `(a, b)`); with_namespace also allows `ns.attr`.
  Target parse_target(bool with_namespace, const std::vector<std::string>& end_names) {
    Target target;
    if (with_namespace && current().kind == TokenKind::name && look().kind == TokenKind::operator_ &&
        look().text == ".") {
      target.names.push_back(next().text);
      next();
      target.attribute = expect_name().text;
      return target;
    }
    const bool parenthesised = skip_operator("(");
    while (true) {
      if (!target.names.empty()) {
        if (!skip_operator(",")) break;
        target.unpack = true;
      }
      const bool at_end = current().kind == TokenKind::block_end || is_operator(")") || is_operator("=") ||
                          (current().kind == TokenKind::name &&
                           std::find(end_names.begin(), end_names.end(), current().text) != end_names.end());
      if (at_end && !target.names.empty()) break;
      if (is_operator("(")) error(current().line, "nested unpacking targets are not supported");
      const Token& name = current();
      if (name.kind != TokenKind::name || name.text == "true" || name.text == "false" || name.text == "True" ||
          name.text == "False" || name.text == "none" || name.text == "None")
        error(name.line, "cannot assign to " + describe(name));
      target.names.push_back(next().text);
    }
    if (parenthesised) {
      expect_operator(")");
      if (target.names.size() > 1) target.unpack = true;
    }
    return target;
  }

  StmtPtr parse_for() {
    auto statement = std::make_unique<ForStmt>(next().line);
    statement->target = parse_target(false, {"in"});
    for (const std::string& name : statement->target.names)
      if (name == "loop") error(statement->line, "cannot assign to the special loop variable in a for-loop target");
    if (!skip_name("in")) error(current().line, "expected 'in', got " + describe(current()));
    statement->iterable = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) statement->condition = parse_expression(true);
    if (is_name("recursive")) error(current().line, "recursive for loops are not supported");
    ++loop_depth_;
    statement->body = parse_statements({"endfor", "else"}, false, statement->line);
    --loop_depth_;
    if (next().text == "else") statement->otherwise = parse_statements({"endfor"}, true, statement->line);
    return statement;
  }

  StmtPtr parse_if() {
    auto statement = std::make_unique<IfStmt>(next().line);
    while (true) {
      statement->conditions.push_back(parse_tuple(false, false, {}, false));
      statement->branches.push_back(parse_statements({"elif", "else", "endif"}, false, statement->line));
      const Token& token = next();
      if (token.text == "elif") continue;
      if (token.text == "else") statement->otherwise = parse_statements({"endif"}, true, statement->line);
      return statement;
    }
  }

  // A body that jinja2 compiles into a function (macro, call block), where no break or continue
  // reaches a loop outside, or into a buffer (set and filter blocks), where it would and this
  // engine refuses it.
  Body parse_function_body(const std::vector<std::string>& end_tags, std::size_t opened_at, bool buffer = false) {
    const int saved_depth = loop_depth_;
    const bool saved_buffer = loop_outside_buffer_;
    loop_outside_buffer_ = buffer ? (saved_depth > 0 || saved_buffer) : false;
    loop_depth_ = 0;
    Body body = parse_statements(end_tags, true, opened_at);
    loop_depth_ = saved_depth;
    loop_outside_buffer_ = saved_buffer;
    return body;
  }

  StmtPtr parse_set() {
    const std::size_t line = next().line;
    Target target = parse_target(true, {});
    if (skip_operator("=")) {
      auto statement = std::make_unique<SetStmt>(line);
      statement->target = std::move(target);
      statement->value = parse_tuple(false, true, {}, false);
      return statement;
    }
    auto statement = std::make_unique<SetBlockStmt>(line);
    statement->target = std::move(target);
    if (statement->target.unpack) error(line, "a block set cannot unpack into several names");
    statement->filters = parse_filter_chain(false);
    statement->body = parse_function_body({"endset"}, line, /*buffer=*/true);
    return statement;
  }

  StmtPtr parse_macro() {
    auto statement = std::make_unique<MacroStmt>(next().line);
    statement->name = expect_name().text;
    expect_operator("(");
    while (!is_operator(")")) {
      if (!statement->parameters.empty()) expect_operator(",");
      statement->parameters.push_back(expect_name().text);
      if (skip_operator("=")) statement->defaults.push_back(parse_expression(true));
      else if (!statement->defaults.empty()) error(current().line, "non-default argument follows default argument");
    }
    expect_operator(")");
    statement->body = parse_function_body({"endmacro"}, statement->line);
    statement->takes_varargs = reads_name(statement->body, "varargs");
    statement->takes_kwargs = reads_name(statement->body, "kwargs");
    return statement;
  }

  StmtPtr parse_filter_block() {
    auto statement = std::make_unique<FilterBlockStmt>(next().line);
    statement->filters = parse_filter_chain(true);
    statement->body = parse_function_body({"endfilter"}, statement->line, /*buffer=*/true);
    return statement;
  }

  StmtPtr parse_with() {
    auto statement = std::make_unique<WithStmt>(next().line);
    while (current().kind != TokenKind::block_end) {
      if (!statement->targets.empty()) expect_operator(",");
      statement->targets.push_back(parse_target(false, {}));
      expect_operator("=");
      statement->values.push_back(parse_expression(true));
    }
    // Inline code in jinja2 (not a function), so break and continue reach the loop around it.
    statement->body = parse_statements({"endwith"}, true, statement->line);
    return statement;
  }

  StmtPtr parse_print() {
    auto statement = std::make_unique<OutputStmt>(next().line);
    while (current().kind != TokenKind::block_end) {
      if (!statement->values.empty()) expect_operator(",");
      statement->values.push_back(parse_expression(true));
    }
    return statement;
  }

  StmtPtr parse_generation() {
    auto statement = std::make_unique<GenerationStmt>(next().line);
    statement->body = parse_function_body({"endgeneration"}, statement->line);
    return statement;
  }

  // --- expressions --------------------------------------------------------------------------

  ExprPtr parse_expression(bool with_conditional) { return with_conditional ? parse_conditional() : parse_or(); }

  ExprPtr parse_conditional() {
    ExprPtr value = parse_or();
    while (is_name("if")) {
      const std::size_t line = next().line;
      auto conditional = make_expr(ExprKind::conditional, line);
      ExprPtr condition = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_conditional() : nullptr;
      conditional->operands.push_back(std::move(value));
      conditional->operands.push_back(std::move(condition));
      conditional->operands.push_back(std::move(otherwise));
      value = std::move(conditional);
    }
    return value;
  }

  ExprPtr parse_logical(ExprKind kind, const char* keyword, ExprPtr (Parser::*operand)()) {
    const std::size_t line = current().line;
    ExprPtr left = (this->*operand)();
    while (skip_name(keyword)) {
      auto node = make_expr(kind, line);
      node->operands.push_back(std::move(left));
      node->operands.push_back((this->*operand)());
      left = std::move(node);
    }
    return left;
  }

  ExprPtr parse_or() { return parse_logical(ExprKind::logical_or, "or", &Parser::parse_and); }
  ExprPtr parse_and() { return parse_logical(ExprKind::logical_and, "and", &Parser::parse_not); }

  ExprPtr parse_not() {
    if (is_name("not")) {
      const Nesting nesting(*this, expression_nesting_, "expressions");
      auto node = make_expr(ExprKind::logical_not, next().line);
      node->operands.push_back(parse_not());
      return node;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const std::size_t line = current().line;
    ExprPtr first = parse_math1();
    auto node = make_expr(ExprKind::compare, line);
    node->operands.push_back(std::move(first));
    while (true) {
      static const std::pair<const char*, CompareOp> kOperators[] = {
          {"==", CompareOp::equal}, {"!=", CompareOp::not_equal},    {"<", CompareOp::less},
          {"<=", CompareOp::less_equal}, {">", CompareOp::greater}, {">=", CompareOp::greater_equal}};
      bool matched = false;
      for (const auto& [symbol, op] : kOperators) {
        if (is_operator(symbol)) {
          next();
          node->compare_ops.push_back(op);
          matched = true;
          break;
        }
      }
      if (!matched) {
        if (skip_name("in")) {
          node->compare_ops.push_back(CompareOp::in);
        } else if (is_name("not") && look().kind == TokenKind::name && look().text == "in") {
          next();
          next();
          node->compare_ops.push_back(CompareOp::not_in);
        } else {
          break;
        }
      }
      node->operands.push_back(parse_math1());
    }
    if (node->compare_ops.empty()) return std::move(node->operands[0]);
    return node;
  }

  ExprPtr binary(BinaryOp op, std::size_t line, ExprPtr left, ExprPtr right) {
    auto node = make_expr(ExprKind::binary, line);
    node->binary_op = op;
    node->operands.push_back(std::move(left));
    node->operands.push_back(std::move(right));
    return node;
  }

  ExprPtr parse_math1() {
    const std::size_t line = current().line;
    ExprPtr left = parse_concat();
    while (is_operator("+") || is_operator("-")) {
      const BinaryOp op = next().text == "+" ? BinaryOp::add : BinaryOp::subtract;
      left = binary(op, line, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    const std::size_t line = current().line;
    ExprPtr first = parse_math2();
    if (!is_operator("~")) return first;
    auto node = make_expr(ExprKind::concat, line);
    node->operands.push_back(std::move(first));
    while (skip_operator("~")) node->operands.push_back(parse_math2());
    return node;
  }

  ExprPtr parse_math2() {
    const std::size_t line = current().line;
    ExprPtr left = parse_pow();
    while (true) {
      BinaryOp op;
      if (is_operator("*")) op = BinaryOp::multiply;
      else if (is_operator("/")) op = BinaryOp::divide;
      else if (is_operator("//")) op = BinaryOp::floor_divide;
      else if (is_operator("%")) op = BinaryOp::modulo;
      else return left;
      next();
      left = binary(op, line, std::move(left), parse_pow());
    }
  }

  // jinja2 groups ** from the left: 2 ** 3 ** 2 is (2 ** 3) ** 2.
  ExprPtr parse_pow() {
    const std::size_t line = current().line;
    ExprPtr left = parse_unary(true);
    while (skip_operator("**")) left = binary(BinaryOp::power, line, std::move(left), parse_unary(true));
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    const Nesting nesting(*this, expression_nesting_, "expressions");
    ExprPtr node;
    if (is_operator("-") || is_operator("+")) {
      const Token& sign = next();
      node = make_expr(sign.text == "-" ? ExprKind::negate : ExprKind::unary_plus, sign.line);
      node->operands.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expression(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& token = current();
    switch (token.kind) {
      case TokenKind::name: {
        next();
        const std::string& name = token.text;
        auto node = make_expr(ExprKind::literal, token.line);
        if (name == "true" || name == "True") node->value = make_bool(true);
        else if (name == "false" || name == "False") node->value = make_bool(false);
        else if (name == "none" || name == "None") node->value = make_none();
        else {
          node->kind = ExprKind::name;
          node->name = name;
        }
        return node;
      }
      case TokenKind::string: {
        auto node = make_expr(ExprKind::literal, token.line);
        std::string text;
        while (current().kind == TokenKind::string) text += next().text;
        node->value = make_string(std::move(text));
        return node;
      }
      case TokenKind::integer: {
        auto node = make_expr(ExprKind::literal, token.line);
        node->value = make_int(next().integer);
        return node;
      }
      case TokenKind::floating: {
        auto node = make_expr(ExprKind::literal, token.line);
        node->value = make_float(next().floating);
        return node;
      }
      case TokenKind::operator_:
        if (token.text == "(") {
          next();
          ExprPtr node = parse_tuple(false, true, {}, true);
          expect_operator(")");
          return node;
        }
        if (token.text == "[") return parse_list();
        if (token.text == "{") return parse_dict();
        break;
      default: break;
    }
    error(token.line, "unexpected " + describe(token));
  }

  // Expressions separated by commas: a tuple when there is a comma (or `()`), else the single
  // expression. Stops before %}, }}, ) or a name in `end_names`.
  ExprPtr parse_tuple(bool simplified, bool with_conditional, const std::vector<std::string>& end_names,
                      bool explicit_parentheses) {
    const std::size_t line = current().line;
    auto tuple = make_expr(ExprKind::tuple, line);
    bool is_tuple = false;
    while (true) {
      if (!tuple->operands.empty()) expect_operator(",");
      const Token& token = current();
      const bool at_end = token.kind == TokenKind::variable_end || token.kind == TokenKind::block_end ||
                          is_operator(")") ||
                          (token.kind == TokenKind::name &&
                           std::find(end_names.begin(), end_names.end(), token.text) != end_names.end());
      if (at_end) break;
      tuple->operands.push_back(simplified ? parse_primary() : parse_expression(with_conditional));
      if (is_operator(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!tuple->operands.empty()) return std::move(tuple->operands[0]);
      if (!explicit_parentheses) error(current().line, "expected an expression, got " + describe(current()));
    }
    return tuple;
  }

  ExprPtr parse_list() {
    auto node = make_expr(ExprKind::list, next().line);
    while (!is_operator("]")) {
      if (!node->operands.empty()) expect_operator(",");
      if (is_operator("]")) break;
      node->operands.push_back(parse_expression(true));
    }
    expect_operator("]");
    return node;
  }

  ExprPtr parse_dict() {
    auto node = make_expr(ExprKind::dict, next().line);
    while (!is_operator("}")) {
      if (!node->operands.empty()) expect_operator(",");
      if (is_operator("}")) break;
      node->operands.push_back(parse_expression(true));
      expect_operator(":");
      node->operands.push_back(parse_expression(true));
    }
    expect_operator("}");
    return node;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_operator(".") || is_operator("[")) node = parse_subscript(std::move(node));
      else if (is_operator("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_filter_expression(ExprPtr node) {
    while (true) {
      if (is_operator("|")) node = parse_filter(std::move(node), false);
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_operator("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& token = next();
    if (token.text == ".") {
      const Token& attribute = next();
      if (attribute.kind == TokenKind::name) {
        auto access = make_expr(ExprKind::attribute, token.line);
        access->name = attribute.text;
        access->operands.push_back(std::move(node));
        return access;
      }
      if (attribute.kind != TokenKind::integer) error(attribute.line, "expected a name or number after '.'");
      auto access = make_expr(ExprKind::item, token.line);
      auto index = make_expr(ExprKind::literal, attribute.line);
      index->value = make_int(attribute.integer);
      access->operands.push_back(std::move(node));
      access->operands.push_back(std::move(index));
      return access;
    }
    std::vector<ExprPtr> subscripts;
    while (!is_operator("]")) {
      if (!subscripts.empty()) expect_operator(",");
      subscripts.push_back(parse_subscribed());
    }
    expect_operator("]");
    auto access = make_expr(ExprKind::item, token.line);
    access->operands.push_back(std::move(node));
    if (subscripts.size() == 1) {
      access->operands.push_back(std::move(subscripts[0]));
    } else {
      auto key = make_expr(ExprKind::tuple, token.line);
      for (auto& subscript : subscripts) {
        if (subscript->kind == ExprKind::slice) error(subscript->line, "a slice inside a tuple subscript is not supported");
        key->operands.push_back(std::move(subscript));
      }
      access->operands.push_back(std::move(key));
    }
    return access;
  }

  ExprPtr parse_subscribed() {
    const std::size_t line = current().line;
    auto slice = make_expr(ExprKind::slice, line);
    if (is_operator(":")) {
      next();
      slice->operands.push_back(nullptr);
    } else {
      ExprPtr start = parse_expression(true);
      if (!is_operator(":")) return start;
      next();
      slice->operands.push_back(std::move(start));
    }
    if (is_operator(":") || is_operator("]") || is_operator(",")) slice->operands.push_back(nullptr);
    else slice->operands.push_back(parse_expression(true));
    if (skip_operator(":")) {
      if (is_operator("]") || is_operator(",")) slice->operands.push_back(nullptr);
      else slice->operands.push_back(parse_expression(true));
    } else {
      slice->operands.push_back(nullptr);
    }
    return slice;
  }

  void parse_call_arguments(Expr& node) {
    expect_operator("(");
    bool first = true;
    while (!is_operator(")")) {
      if (!first) {
        expect_operator(",");
        if (is_operator(")")) break;
      }
      first = false;
      if (is_operator("*") || is_operator("**"))
        error(current().line, "*args and **kwargs in calls are not supported");
      if (current().kind == TokenKind::name && look().kind == TokenKind::operator_ && look().text == "=") {
        Keyword keyword;
        keyword.name = next().text;
        next();
        keyword.value = parse_expression(true);
        node.keywords.push_back(std::move(keyword));
      } else {
        if (!node.keywords.empty()) error(current().line, "a positional argument follows a keyword argument");
        node.operands.push_back(parse_expression(true));
      }
    }
    expect_operator(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto node = make_expr(ExprKind::call, current().line);
    node->operands.push_back(std::move(callee));
    parse_call_arguments(*node);
    return node;
  }

  std::string dotted_name() {
    std::string name = expect_name().text;
    while (skip_operator(".")) name += "." + expect_name().text;
    return name;
  }

  ExprPtr parse_filter(ExprPtr input, bool start_inline) {
    while (is_operator("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      const std::size_t line = current().line;
      auto node = make_expr(ExprKind::filter, line);
      node->name = dotted_name();
      node->filter = find_filter(node->name);
      if (node->filter == nullptr) {
        if (jinja_has_filter(node->name)) error(line, "the filter '" + node->name + "' is not supported");
        error(line, "no filter named '" + node->name + "'");
      }
      node->operands.push_back(std::move(input));
      if (is_operator("(")) parse_call_arguments(*node);
      input = std::move(node);
    }
    return input;
  }

  // The filters of `{% filter f | g %}` or `{% set x | f %}`, each applied to the previous output.
  std::vector<ExprPtr> parse_filter_chain(bool start_inline) {
    std::vector<ExprPtr> chain;
    ExprPtr node = parse_filter(nullptr, start_inline);
    // parse_filter nests each filter inside the next; unnest them into application order.
    while (node) {
      ExprPtr inner = std::move(node->operands[0]);
      chain.push_back(std::move(node));
      node = std::move(inner);
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
  }

  ExprPtr parse_test(ExprPtr input) {
    const std::size_t line = next().line;
    const bool negated = skip_name("not");
    auto node = make_expr(ExprKind::test, line);
    node->name = dotted_name();
    node->test = find_test(node->name);
    if (node->test == nullptr) {
      if (jinja_has_test(node->name)) error(line, "the test '" + node->name + "' is not supported");
      error(line, "no test named '" + node->name + "'");
    }
    node->operands.push_back(std::move(input));
    const Token& token = current();
    const bool starts_argument =
        token.kind == TokenKind::name || token.kind == TokenKind::string || token.kind == TokenKind::integer ||
        token.kind == TokenKind::floating ||
        (token.kind == TokenKind::operator_ && (token.text == "(" || token.text == "[" || token.text == "{"));
    if (is_operator("(")) {
      parse_call_arguments(*node);
    } else if (starts_argument && !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) error(token.line, "you cannot chain multiple tests with 'is'");
      node->operands.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return node;
    auto inverted = make_expr(ExprKind::logical_not, line);
    inverted->operands.push_back(std::move(node));
    return inverted;
  }

  // --- analysis -----------------------------------------------------------------------------

  static bool expression_reads(const Expr* expr, const std::string& name) {
    if (expr == nullptr) return false;
    if (expr->kind == ExprKind::name && expr->name == name) return true;
    for (const ExprPtr& operand : expr->operands)
      if (expression_reads(operand.get(), name)) return true;
    for (const Keyword& keyword : expr->keywords)
      if (expression_reads(keyword.value.get(), name)) return true;
    return false;
  }

  // Whether a macro body reads `name` anywhere (jinja2 then lets the macro take extra arguments).
  static bool reads_name(const Body& body, const std::string& name) {
    for (const StmtPtr& statement : body) {
      const auto reads = [&](const ExprPtr& expr) { return expression_reads(expr.get(), name); };
      const auto any = [&](const std::vector<ExprPtr>& exprs) { return std::any_of(exprs.begin(), exprs.end(), reads); };
      switch (statement->kind) {
        case StmtKind::output:
          if (any(static_cast<const OutputStmt&>(*statement).values)) return true;
          break;
        case StmtKind::if_: {
          const auto& node = static_cast<const IfStmt&>(*statement);
          if (any(node.conditions) || reads_name(node.otherwise, name)) return true;
          for (const Body& branch : node.branches)
            if (reads_name(branch, name)) return true;
          break;
        }
        case StmtKind::for_: {
          const auto& node = static_cast<const ForStmt&>(*statement);
          if (reads(node.iterable) || reads(node.condition) || reads_name(node.body, name) ||
              reads_name(node.otherwise, name))
            return true;
          break;
        }
        case StmtKind::set:
          if (reads(static_cast<const SetStmt&>(*statement).value)) return true;
          break;
        case StmtKind::set_block: {
          const auto& node = static_cast<const SetBlockStmt&>(*statement);
          if (any(node.filters) || reads_name(node.body, name)) return true;
          break;
        }
        case StmtKind::macro: {
          const auto& node = static_cast<const MacroStmt&>(*statement);
          if (any(node.defaults) || reads_name(node.body, name)) return true;
          break;
        }
        case StmtKind::filter_block: {
          const auto& node = static_cast<const FilterBlockStmt&>(*statement);
          if (any(node.filters) || reads_name(node.body, name)) return true;
          break;
        }
        case StmtKind::with: {
          const auto& node = static_cast<const WithStmt&>(*statement);
          if (any(node.values) || reads_name(node.body, name)) return true;
          break;
        }
        case StmtKind::generation:
          if (reads_name(static_cast<const GenerationStmt&>(*statement).body, name)) return true;
          break;
        default: break;
      }
    }
    return false;
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  const std::string& origin_;
  int loop_depth_ = 0;                   // for loops around the current tag within one function body
  bool loop_outside_buffer_ = false;     // a set or filter block stands between the tag and a loop
  int block_nesting_ = 0;                // blocks being parsed, one inside the other
  int expression_nesting_ = 0;           // likewise expressions
  std::vector<std::size_t> block_lines_;  // where the open blocks started, for messages
};

}  // namespace

TemplateTree parse_template(const std::string& source, const std::string& origin) {
  TemplateTree tree;
  tree.origin = origin;
  Parser parser(tokenize(source, origin), origin);
  tree.body = parser.parse_all();
  analyze_scopes(tree);
  fold_constants(tree);
  return tree;
}

}  // namespace selm::jinja::detail
