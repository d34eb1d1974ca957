#include "jinja_scopes.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace selm::jinja::detail {
namespace {

using NameSet = std::set<std::string>;

// The first use of each name within one scope, in the order jinja2 visits the nodes.
struct ScopeUses {
  std::vector<std::string> order;
  std::map<std::string, bool> assigned_first;  // true: the first use assigns it
  NameSet assigned;                            // every name the scope assigns

  bool seen(const std::string& name) const { return assigned_first.count(name) != 0; }
  void note(const std::string& name, bool assignment) {
    if (seen(name)) return;
    assigned_first[name] = assignment;
    order.push_back(name);
  }
  void load(const std::string& name) { note(name, false); }
  void store(const std::string& name) {
    assigned.insert(name);
    note(name, true);
  }
};

void collect_loads(const Expr* expr, ScopeUses& uses) {
  if (expr == nullptr) return;
  if (expr->kind == ExprKind::name) uses.load(expr->name);
  for (const ExprPtr& operand : expr->operands) collect_loads(operand.get(), uses);
  for (const Keyword& keyword : expr->keywords) collect_loads(keyword.value.get(), uses);
}

void collect_target(const Target& target, ScopeUses& uses) {
  if (!target.attribute.empty()) {
    uses.load(target.names[0]);  // ns.attr = ... reads ns
    return;
  }
  for (const std::string& name : target.names) uses.store(name);
}

void collect(const Body& body, ScopeUses& uses);

// jinja2's branch_update: a name new to the scope that every branch group assigns keeps the
// last group's first use; one assigned in only some groups is looked up outside instead.
void merge_branches(ScopeUses& uses, const std::vector<ScopeUses>& groups) {
  std::vector<std::string> fresh;
  for (const ScopeUses& group : groups)
    for (const std::string& name : group.order)
      if (!uses.seen(name) && std::find(fresh.begin(), fresh.end(), name) == fresh.end()) fresh.push_back(name);
  for (const std::string& name : fresh) {
    std::size_t assigning = 0;
    bool assigned_first = false;
    for (const ScopeUses& group : groups) {
      if (group.assigned.count(name) != 0) ++assigning;
      if (group.seen(name)) assigned_first = group.assigned_first.at(name);
    }
    uses.note(name, assigning == groups.size() && assigned_first);
  }
  for (const ScopeUses& group : groups) uses.assigned.insert(group.assigned.begin(), group.assigned.end());
}

void collect_if(const IfStmt& node, ScopeUses& uses) {
  collect_loads(node.conditions[0].get(), uses);
  // Three groups as jinja2 has them: the if body; every elif (each an if without else); the else.
  ScopeUses body_group = uses;
  collect(node.branches[0], body_group);
  ScopeUses elif_group = uses;
  for (std::size_t i = 1; i < node.conditions.size(); ++i) {
    collect_loads(node.conditions[i].get(), elif_group);
    ScopeUses branch = elif_group;
    collect(node.branches[i], branch);
    merge_branches(elif_group, {branch, elif_group, elif_group});
  }
  ScopeUses else_group = uses;
  collect(node.otherwise, else_group);
  merge_branches(uses, {body_group, elif_group, else_group});
}

void collect_filter_arguments(const std::vector<ExprPtr>& filters, ScopeUses& uses) {
  for (const ExprPtr& filter : filters) {
    for (std::size_t i = 1; i < filter->operands.size(); ++i) collect_loads(filter->operands[i].get(), uses);
    for (const Keyword& keyword : filter->keywords) collect_loads(keyword.value.get(), uses);
  }
}

// The uses within the scope itself; the bodies of nested scopes are analysed on their own.
void collect(const Body& body, ScopeUses& uses) {
  for (const StmtPtr& statement : body) {
    switch (statement->kind) {
      case StmtKind::output:
        for (const ExprPtr& value : static_cast<const OutputStmt&>(*statement).values) collect_loads(value.get(), uses);
        break;
      case StmtKind::if_: collect_if(static_cast<const IfStmt&>(*statement), uses); break;
      case StmtKind::for_: collect_loads(static_cast<const ForStmt&>(*statement).iterable.get(), uses); break;
      case StmtKind::set: {
        const auto& node = static_cast<const SetStmt&>(*statement);
        collect_loads(node.value.get(), uses);
        collect_target(node.target, uses);
        break;
      }
      case StmtKind::set_block: collect_target(static_cast<const SetBlockStmt&>(*statement).target, uses); break;
      case StmtKind::macro: uses.store(static_cast<const MacroStmt&>(*statement).name); break;
      case StmtKind::filter_block:
        collect_filter_arguments(static_cast<const FilterBlockStmt&>(*statement).filters, uses);
        break;
      case StmtKind::with:
        for (const ExprPtr& value : static_cast<const WithStmt&>(*statement).values) collect_loads(value.get(), uses);
        break;
      default: break;
    }
  }
}

void analyze_nested(Body& body, const NameSet& known);

// Analyses one scope: `parameters` are bound on entry, `outer` holds every name the enclosing
// scopes use. Returns the names the scope owns from its start.
HiddenNames analyze_scope(Body& body, const std::vector<std::string>& parameters, const NameSet& outer) {
  ScopeUses uses;
  for (const std::string& parameter : parameters) uses.load(parameter);
  collect(body, uses);
  HiddenNames hidden;
  for (const std::string& name : uses.order)
    if (uses.assigned_first.at(name) && outer.count(name) == 0) hidden.push_back(name);
  NameSet known = outer;
  for (const std::string& name : uses.order) known.insert(name);
  analyze_nested(body, known);
  return hidden;
}

std::vector<std::string> target_names(const std::vector<Target>& targets) {
  std::vector<std::string> names;
  for (const Target& target : targets) names.insert(names.end(), target.names.begin(), target.names.end());
  return names;
}

void analyze_nested(Body& body, const NameSet& known) {
  for (StmtPtr& statement : body) {
    switch (statement->kind) {
      case StmtKind::if_: {
        auto& node = static_cast<IfStmt&>(*statement);
        for (Body& branch : node.branches) analyze_nested(branch, known);
        analyze_nested(node.otherwise, known);
        break;
      }
      case StmtKind::for_: {
        auto& node = static_cast<ForStmt&>(*statement);
        node.body_hidden = analyze_scope(node.body, node.target.names, known);
        node.otherwise_hidden = analyze_scope(node.otherwise, {}, known);
        break;
      }
      case StmtKind::macro: {
        auto& node = static_cast<MacroStmt&>(*statement);
        std::vector<std::string> parameters = node.parameters;
        parameters.insert(parameters.end(), {"varargs", "kwargs", "caller"});
        node.hidden = analyze_scope(node.body, parameters, known);
        break;
      }
      case StmtKind::set_block: {
        auto& node = static_cast<SetBlockStmt&>(*statement);
        node.hidden = analyze_scope(node.body, {}, known);
        break;
      }
      case StmtKind::filter_block: {
        auto& node = static_cast<FilterBlockStmt&>(*statement);
        node.hidden = analyze_scope(node.body, {}, known);
        break;
      }
      case StmtKind::with: {
        auto& node = static_cast<WithStmt&>(*statement);
        node.hidden = analyze_scope(node.body, target_names(node.targets), known);
        break;
      }
      case StmtKind::generation: {
        auto& node = static_cast<GenerationStmt&>(*statement);
        node.hidden = analyze_scope(node.body, {}, known);
        break;
      }
      default: break;
    }
  }
}

}  // namespace

void analyze_scopes(TemplateTree& tree) { tree.hidden = analyze_scope(tree.body, {}, {}); }

}  // namespace selm::jinja::detail
