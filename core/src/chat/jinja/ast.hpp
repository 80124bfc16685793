// The parsed template: expressions and statements, each with the line it starts on.
#pragma once

#include "jinja/value.hpp"
#include "jinja/value_ops.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hearth::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Literal {
  Value value;
};
struct Name {
  std::string name;
};
struct ListExpr {
  std::vector<ExprPtr> items;
};
struct TupleExpr {
  std::vector<ExprPtr> items;
};
struct DictExpr {
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};
// obj.name: attribute first, then item (jinja2's getattr).
struct AttributeExpr {
  ExprPtr object;
  std::string name;
};
// obj[index] (item first, then attribute), or obj[start:stop:step] when `slice`.
struct SubscriptExpr {
  ExprPtr object;
  ExprPtr index;
  bool slice = false;
  ExprPtr start, stop, step;
};
struct CallExpr {
  ExprPtr callee;
  Arguments args;
};
struct FilterExpr {
  ExprPtr operand;  // null inside {% filter %} blocks, where the block's output is the operand
  std::string name;
  Arguments args;
};
struct TestExpr {
  ExprPtr operand;
  std::string name;
  Arguments args;
  bool negated = false;
};
struct NotExpr {
  ExprPtr operand;
};
struct NegateExpr {
  ExprPtr operand;
  bool plus = false;
};
struct BinaryExpr {
  BinaryOp op;
  ExprPtr left, right;
};
struct ConcatExpr {
  std::vector<ExprPtr> parts;
};
struct AndExpr {
  ExprPtr left, right;
};
struct OrExpr {
  ExprPtr left, right;
};
enum class CompareKind { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
struct CompareExpr {
  ExprPtr first;
  std::vector<std::pair<CompareKind, ExprPtr>> rest;
};
// `then if condition else otherwise`; without else, the result is undefined.
struct ConditionalExpr {
  ExprPtr condition, then_value, else_value;
};

struct Expr {
  std::variant<Literal, Name, ListExpr, TupleExpr, DictExpr, AttributeExpr, SubscriptExpr, CallExpr,
               FilterExpr, TestExpr, NotExpr, NegateExpr, BinaryExpr, ConcatExpr, AndExpr, OrExpr,
               CompareExpr, ConditionalExpr>
      node;
  int line = 0;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct TextStmt {
  std::string text;
};
struct PrintStmt {
  ExprPtr value;
};
struct IfStmt {
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body otherwise;
};
// The names a for loop or a set binds: one name, or several unpacked from each item.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;
};
struct ForStmt {
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // for x in xs if filter
  Body body;
  Body otherwise;
};
struct SetStmt {
  Target target;
  std::string namespace_attribute;  // set ns.attr = ...: target.names = {ns}
  ExprPtr value;
};
// {% set x %}...{% endset %}, optionally filtered: {% set x | trim %}
struct SetBlockStmt {
  Target target;
  std::string namespace_attribute;
  std::vector<ExprPtr> filters;  // FilterExpr chain applied in order, operand null
  Body body;
};
struct MacroParam {
  std::string name;
  ExprPtr default_value;
};
struct MacroStmt {
  std::string name;
  std::vector<MacroParam> params;
  Body body;
  // Whether the body reads varargs/kwargs/caller, which lets calls pass extra arguments.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};
// {% call(params) macro(args) %}body{% endcall %}: the body becomes `caller` for the macro.
struct CallBlockStmt {
  ExprPtr call;
  MacroStmt caller;
};
// {% filter f | g %}...{% endfilter %}; no filters for transformers' {% generation %} block.
struct FilterBlockStmt {
  std::vector<ExprPtr> filters;
  Body body;
};
struct BreakStmt {};
struct ContinueStmt {};

struct Stmt {
  std::variant<TextStmt, PrintStmt, IfStmt, ForStmt, SetStmt, SetBlockStmt, MacroStmt,
               CallBlockStmt, FilterBlockStmt, BreakStmt, ContinueStmt>
      node;
  int line = 0;
};

// The parsed template, shared by every copy of a ChatTemplate.
struct Program {
  Body body;
};

}  // namespace hearth::jinja
