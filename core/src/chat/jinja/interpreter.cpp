#include "jinja/interpreter.hpp"

#include "jinja/builtins.hpp"
#include "jinja/render_error.hpp"
#include "jinja/value_ops.hpp"

#include <algorithm>

namespace hearth::jinja {
namespace {

// Deeper macro recursion than this is refused instead of risking the stack.
constexpr int kMaxCallDepth = 100;

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

CompareOp to_compare_op(CompareKind kind) {
  switch (kind) {
    case CompareKind::Eq:
      return CompareOp::Eq;
    case CompareKind::Ne:
      return CompareOp::Ne;
    case CompareKind::Lt:
      return CompareOp::Lt;
    case CompareKind::Le:
      return CompareOp::Le;
    case CompareKind::Gt:
      return CompareOp::Gt;
    default:
      return CompareOp::Ge;
  }
}

struct DepthGuard {
  explicit DepthGuard(int& d) : depth(d) {
    if (++depth > kMaxCallDepth)
      throw RenderError(ErrorKind::RuntimeError,
                        "macro calls nest deeper than " + std::to_string(kMaxCallDepth));
  }
  ~DepthGuard() { --depth; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  int& depth;
};

}  // namespace

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent_.get()) {
    const auto it = s->vars_.find(name);
    if (it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::~Interpreter() {
  for (const auto& weak : namespaces_)
    if (auto ns = weak.lock()) ns->attributes = Dict();
}

std::string Interpreter::render(const Program& program, const Dict& context) {
  auto root = std::make_shared<Scope>(nullptr);
  for (auto& [name, value] : make_globals(
           now_, [this](const std::shared_ptr<Namespace>& ns) { namespaces_.push_back(ns); }))
    root->set(name, std::move(value));
  for (const auto& [name, value] : context) root->set(name, value);
  std::string out;
  exec(program.body, root, out);
  return out;
}

Interpreter::Flow Interpreter::exec(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const auto& stmt : body) {
    const Flow flow = exec(*stmt, scope, out);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
  try {
    return std::visit(
        Overloaded{
            [&](const TextStmt& n) {
              out += n.text;
              return Flow::Normal;
            },
            [&](const PrintStmt& n) {
              out += to_str(eval(*n.value, scope));
              return Flow::Normal;
            },
            [&](const IfStmt& n) {
              for (const auto& [test, body] : n.branches)
                if (eval(*test, scope).truthy()) return exec(body, scope, out);
              return exec(n.otherwise, scope, out);
            },
            [&](const ForStmt& n) { return exec_for(n, scope, out); },
            [&](const SetStmt& n) {
              exec_set(n.target, n.namespace_attribute, eval(*n.value, scope), scope);
              return Flow::Normal;
            },
            [&](const SetBlockStmt& n) {
              Value value = apply_filters(n.filters, Value::string(capture(n.body, scope)), scope);
              exec_set(n.target, n.namespace_attribute, std::move(value), scope);
              return Flow::Normal;
            },
            [&](const MacroStmt& n) {
              scope->set(n.name, make_macro(n, scope));
              return Flow::Normal;
            },
            [&](const CallBlockStmt& n) {
              const auto& call_expr = std::get<CallExpr>(n.call->node);
              const Value callee = eval(*call_expr.callee, scope);
              CallArgs args = eval_args(call_expr.args, scope);
              args.keyword.emplace_back("caller", make_macro(n.caller, scope));
              out += to_str(call(callee, args));
              return Flow::Normal;
            },
            [&](const FilterBlockStmt& n) {
              out += to_str(apply_filters(n.filters, Value::string(capture(n.body, scope)), scope));
              return Flow::Normal;
            },
            [&](const BreakStmt&) { return Flow::Break; },
            [&](const ContinueStmt&) { return Flow::Continue; },
        },
        stmt.node);
  } catch (RenderError& e) {
    if (e.line() == 0) e.set_line(stmt.line);
    throw;
  }
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
  std::string text;
  exec(body, std::make_shared<Scope>(scope), text);
  return text;
}

Value Interpreter::apply_filters(const std::vector<ExprPtr>& filters, Value input,
                                 const ScopePtr& scope) {
  for (const auto& f : filters) {
    const auto& filter = std::get<FilterExpr>(f->node);
    CallArgs args = eval_args(filter.args, scope);
    try {
      input = apply_filter(filter.name, input, args);
    } catch (RenderError& e) {
      if (e.line() == 0) e.set_line(f->line);
      throw;
    }
  }
  return input;
}

void Interpreter::exec_set(const Target& target, const std::string& attribute, Value value,
                           const ScopePtr& scope) {
  if (!attribute.empty()) {
    const Value* ns = scope->find(target.names[0]);
    if (!ns || ns->kind() != Kind::Namespace)
      throw RenderError(ErrorKind::RuntimeError, "cannot assign attribute on non-namespace object");
    ns->as_namespace().attributes.set(attribute, std::move(value));
    return;
  }
  if (!target.unpack) {
    scope->set(target.names[0], std::move(value));
    return;
  }
  List items = iterate(value);
  const size_t want = target.names.size();
  if (items.size() > want)
    value_error("too many values to unpack (expected " + std::to_string(want) + ")");
  if (items.size() < want)
    value_error("not enough values to unpack (expected " + std::to_string(want) + ", got " +
                std::to_string(items.size()) + ")");
  for (size_t i = 0; i < want; ++i) scope->set(target.names[i], std::move(items[i]));
}

Interpreter::Flow Interpreter::exec_for(const ForStmt& node, const ScopePtr& scope,
                                        std::string& out) {
  List items = iterate(eval(*node.iterable, scope));
  if (node.filter) {
    List kept;
    for (Value& item : items) {
      auto test_scope = std::make_shared<Scope>(scope);
      exec_set(node.target, "", item, test_scope);
      if (eval(*node.filter, test_scope).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec(node.otherwise, std::make_shared<Scope>(scope), out);
    return Flow::Normal;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    // Each iteration starts from the enclosing scope: a `set` in the body does not carry over.
    auto iteration = std::make_shared<Scope>(scope);
    exec_set(node.target, "", items[i], iteration);
    iteration->set("loop", make_loop(items, i));
    if (exec(node.body, iteration, out) == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Interpreter::make_loop(const List& items, size_t index) {
  const auto n = static_cast<int64_t>(items.size());
  const auto i = static_cast<int64_t>(index);
  Dict loop;
  loop.set("index", Value::integer(i + 1));
  loop.set("index0", Value::integer(i));
  loop.set("revindex", Value::integer(n - i));
  loop.set("revindex0", Value::integer(n - i - 1));
  loop.set("first", Value::boolean(i == 0));
  loop.set("last", Value::boolean(i == n - 1));
  loop.set("length", Value::integer(n));
  loop.set("depth", Value::integer(1));
  loop.set("depth0", Value::integer(0));
  loop.set("previtem", i > 0 ? items[index - 1] : Value::undefined("there is no previous item"));
  loop.set("nextitem", i + 1 < n ? items[index + 1] : Value::undefined("there is no next item"));
  loop.set("cycle", Value::callable("cycle", [i](CallArgs& args) {
             if (args.positional.empty()) type_error("no items for cycling given");
             return args.positional[static_cast<size_t>(i) % args.positional.size()];
           }));
  return Value::dict(std::move(loop));
}

Value Interpreter::make_macro(const MacroStmt& macro, const ScopePtr& scope) {
  // A weak reference: the scope holds the macro, so a strong one would be a cycle.
  std::weak_ptr<Scope> defining = scope;
  return Value::callable(macro.name, [this, &macro, defining](CallArgs& args) {
    const ScopePtr scope_now = defining.lock();
    if (!scope_now)
      throw RenderError(ErrorKind::RuntimeError,
                        "macro '" + macro.name + "' was called after its scope ended");
    return call_macro(macro, scope_now, args);
  });
}

Value Interpreter::call_macro(const MacroStmt& macro, const ScopePtr& defining, CallArgs& args) {
  DepthGuard guard(call_depth_);
  auto scope = std::make_shared<Scope>(defining);
  const size_t n = macro.params.size();
  std::vector<bool> bound(n, false);
  List varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < n) {
      scope->set(macro.params[i].name, args.positional[i]);
      bound[i] = true;
    } else if (macro.uses_varargs) {
      varargs.push_back(args.positional[i]);
    } else {
      type_error("macro '" + macro.name + "' takes not more than " + std::to_string(n) +
                 " argument(s)");
    }
  }
  Dict kwargs;
  Value caller = Value::undefined("No caller defined");
  for (auto& keyword : args.keyword) {
    const std::string& key = keyword.first;
    const Value& value = keyword.second;
    const auto it = std::find_if(macro.params.begin(), macro.params.end(),
                                 [&](const MacroParam& p) { return p.name == key; });
    if (it != macro.params.end()) {
      const auto i = static_cast<size_t>(it - macro.params.begin());
      if (bound[i])
        type_error("macro '" + macro.name + "' got multiple values for argument '" + key + "'");
      scope->set(key, value);
      bound[i] = true;
    } else if (key == "caller" && macro.uses_caller) {
      caller = value;
    } else if (macro.uses_kwargs) {
      kwargs.set(key, value);
    } else {
      type_error("macro '" + macro.name + "' takes no keyword argument '" + key + "'");
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (bound[i]) continue;
    const MacroParam& p = macro.params[i];
    scope->set(p.name, p.default_value
                           ? eval(*p.default_value, scope)
                           : Value::undefined("parameter '" + p.name + "' was not provided"));
  }
  if (macro.uses_varargs) scope->set("varargs", Value::tuple(std::move(varargs)));
  if (macro.uses_kwargs) scope->set("kwargs", Value::dict(std::move(kwargs)));
  if (macro.uses_caller) scope->set("caller", caller);
  std::string out;
  exec(macro.body, scope, out);
  return Value::string(std::move(out));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.kind() != Kind::Callable)
    type_error("'" + callee.type_name() + "' object is not callable");
  return callee.as_callable().call(args);
}

CallArgs Interpreter::eval_args(const Arguments& args, const ScopePtr& scope) {
  CallArgs out;
  for (const auto& a : args.positional) out.positional.push_back(eval(*a, scope));
  for (const auto& [key, value] : args.keyword) out.keyword.emplace_back(key, eval(*value, scope));
  return out;
}

Value Interpreter::eval(const Expr& expr, const ScopePtr& scope) {
  try {
    return eval_node(expr, scope);
  } catch (RenderError& e) {
    if (e.line() == 0) e.set_line(expr.line);
    throw;
  }
}

Value Interpreter::eval_node(const Expr& expr, const ScopePtr& scope) {
  return std::visit(
      Overloaded{
          [&](const Literal& n) { return n.value; },
          [&](const Name& n) {
            if (const Value* v = scope->find(n.name)) return *v;
            return Value::undefined("'" + n.name + "' is undefined");
          },
          [&](const ListExpr& n) {
            List items;
            for (const auto& i : n.items) items.push_back(eval(*i, scope));
            return Value::list(std::move(items));
          },
          [&](const TupleExpr& n) {
            List items;
            for (const auto& i : n.items) items.push_back(eval(*i, scope));
            return Value::tuple(std::move(items));
          },
          [&](const DictExpr& n) {
            Dict d;
            for (const auto& [k, v] : n.items) {
              Value key = eval(*k, scope);
              if (!key.is_string())
                throw RenderError(
                    ErrorKind::RuntimeError,
                    "only string keys are supported in dictionaries (got " + key.type_name() + ")");
              d.set(key.as_string(), eval(*v, scope));
            }
            return Value::dict(std::move(d));
          },
          [&](const AttributeExpr& n) { return get_attribute(eval(*n.object, scope), n.name); },
          [&](const SubscriptExpr& n) {
            Value object = eval(*n.object, scope);
            if (!n.slice) return get_item(object, eval(*n.index, scope));
            auto bound = [&](const ExprPtr& e) { return e ? eval(*e, scope) : Value::none(); };
            const Value start = bound(n.start);
            const Value stop = bound(n.stop);
            const Value step = bound(n.step);
            return get_slice(object, start, stop, step);
          },
          [&](const CallExpr& n) {
            const Value callee = eval(*n.callee, scope);
            CallArgs args = eval_args(n.args, scope);
            return call(callee, args);
          },
          [&](const FilterExpr& n) {
            const Value input = eval(*n.operand, scope);
            CallArgs args = eval_args(n.args, scope);
            return apply_filter(n.name, input, args);
          },
          [&](const TestExpr& n) {
            const Value input = eval(*n.operand, scope);
            CallArgs args = eval_args(n.args, scope);
            return Value::boolean(apply_test(n.name, input, args) != n.negated);
          },
          [&](const NotExpr& n) { return Value::boolean(!eval(*n.operand, scope).truthy()); },
          [&](const NegateExpr& n) {
            const Value v = eval(*n.operand, scope);
            return n.plus ? positive(v) : negate(v);
          },
          [&](const BinaryExpr& n) {
            const Value left = eval(*n.left, scope);
            return binary(n.op, left, eval(*n.right, scope));
          },
          [&](const ConcatExpr& n) {
            std::string text;
            for (const auto& p : n.parts) text += to_str(eval(*p, scope));
            return Value::string(std::move(text));
          },
          [&](const AndExpr& n) {
            Value left = eval(*n.left, scope);
            return left.truthy() ? eval(*n.right, scope) : left;
          },
          [&](const OrExpr& n) {
            Value left = eval(*n.left, scope);
            return left.truthy() ? left : eval(*n.right, scope);
          },
          [&](const CompareExpr& n) {
            Value left = eval(*n.first, scope);
            for (const auto& [kind, e] : n.rest) {
              Value right = eval(*e, scope);
              bool ok = false;
              if (kind == CompareKind::In)
                ok = contains(right, left);
              else if (kind == CompareKind::NotIn)
                ok = !contains(right, left);
              else
                ok = compare(to_compare_op(kind), left, right);
              if (!ok) return Value::boolean(false);
              left = std::move(right);
            }
            return Value::boolean(true);
          },
          [&](const ConditionalExpr& n) {
            if (eval(*n.condition, scope).truthy()) return eval(*n.then_value, scope);
            if (n.else_value) return eval(*n.else_value, scope);
            return Value::undefined(
                "the inline if-expression evaluated to false and no else section was defined.");
          },
      },
      expr.node);
}

}  // namespace hearth::jinja
