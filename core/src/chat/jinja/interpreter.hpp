// Runs a parsed template against a context with jinja2's scoping: `set` inside a for loop or a
// macro stays there (each loop iteration starts from the enclosing values), if-blocks share their
// scope, macros see the scope they were defined in as it is when they are called, and
// namespace() objects are shared so loops can update them.
#pragma once

#include "jinja/ast.hpp"

#include <ctime>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace hearth::jinja {

class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value) { vars_[name] = std::move(value); }

 private:
  std::shared_ptr<Scope> parent_;
  std::unordered_map<std::string, Value> vars_;
};

using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
 public:
  explicit Interpreter(const std::tm& now) : now_(now) {}
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Throws RenderError with the template line where rendering failed.
  std::string render(const Program& program, const Dict& context);

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec(const Stmt& stmt, const ScopePtr& scope, std::string& out);
  Flow exec_for(const ForStmt& node, const ScopePtr& scope, std::string& out);
  void exec_set(const Target& target, const std::string& attribute, Value value,
                const ScopePtr& scope);
  std::string capture(const Body& body, const ScopePtr& scope);
  Value apply_filters(const std::vector<ExprPtr>& filters, Value input, const ScopePtr& scope);

  Value eval(const Expr& expr, const ScopePtr& scope);
  Value eval_node(const Expr& expr, const ScopePtr& scope);
  CallArgs eval_args(const Arguments& args, const ScopePtr& scope);
  Value call(const Value& callee, CallArgs& args);

  Value make_macro(const MacroStmt& macro, const ScopePtr& scope);
  Value call_macro(const MacroStmt& macro, const ScopePtr& defining, CallArgs& args);
  Value make_loop(const List& items, size_t index);

  std::tm now_;
  int call_depth_ = 0;
  // namespace() objects can reference themselves; their contents are cleared after rendering
  // so such a cycle cannot outlive the render.
  std::vector<std::weak_ptr<Namespace>> namespaces_;
};

}  // namespace hearth::jinja
