#include "jinja/parser.hpp"

#include "jinja/builtins.hpp"
#include "jinja/lexer.hpp"

#include <algorithm>
#include <initializer_list>

namespace hearth::jinja {
namespace {

// Deeper nesting than this is refused instead of risking the stack.
constexpr int kMaxDepth = 200;

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::Text:
      return "template text";
    case TokenType::VariableBegin:
      return "'{{'";
    case TokenType::VariableEnd:
      return "end of print statement ('}}')";
    case TokenType::BlockBegin:
      return "'{%'";
    case TokenType::BlockEnd:
      return "end of statement block ('%}')";
    case TokenType::Name:
      return "'" + t.text + "'";
    case TokenType::String:
      return "string literal";
    case TokenType::Integer:
    case TokenType::Float:
      return "number " + t.text;
    case TokenType::Operator:
      return "'" + t.text + "'";
    case TokenType::End:
      return "end of template";
  }
  return "token";
}

template <typename T>
ExprPtr make_expr(T node, int line) {
  auto e = std::make_unique<Expr>();
  e->node = std::move(node);
  e->line = line;
  return e;
}

template <typename T>
StmtPtr make_stmt(T node, int line) {
  auto s = std::make_unique<Stmt>();
  s->node = std::move(node);
  s->line = line;
  return s;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Program run() {
    Program program;
    program.body = subparse({}, nullptr);
    return program;
  }

 private:
  // ---------------------------------------------------------------- token stream
  const Token& cur() const { return toks_[pos_]; }
  const Token& look() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(std::string_view op) const {
    return cur().type == TokenType::Operator && cur().text == op;
  }
  bool is_name(std::string_view name) const {
    return cur().type == TokenType::Name && cur().text == name;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  [[noreturn]] void fail(const std::string& message, const Token& at) const {
    throw SyntaxError(message, at.line, at.column);
  }
  [[noreturn]] void fail_expected(const std::string& what) const {
    fail("expected " + what + ", got " + describe(cur()), cur());
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_expected("'" + std::string(op) + "'");
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail_expected("a name");
    std::string name = cur().text;
    advance();
    return name;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) fail_expected("end of statement block ('%}')");
    advance();
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxDepth) parser.fail("template nests too deeply", parser.cur());
    }
    ~DepthGuard() { --parser.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Parser& parser;
  };

  // Restores a parser flag when a nested body ends.
  struct FlagScope {
    FlagScope(bool& f, bool value) : flag(f), saved(f) { flag = value; }
    ~FlagScope() { flag = saved; }
    FlagScope(const FlagScope&) = delete;
    FlagScope& operator=(const FlagScope&) = delete;
    bool& flag;
    bool saved;
  };

  // ---------------------------------------------------------------- statements
  // The tag that closes a block: the end... one of the tags a body stops at.
  static std::string closing_tag(std::initializer_list<std::string_view> ends) {
    for (std::string_view e : ends)
      if (e.substr(0, 3) == "end") return std::string(e);
    return std::string(*ends.begin());
  }

  // Parses until a block tag named in `ends` (left as the current token) or the end.
  Body subparse(std::initializer_list<std::string_view> ends, const Token* opener) {
    DepthGuard guard(*this);
    Body body;
    for (;;) {
      const Token& t = cur();
      switch (t.type) {
        case TokenType::Text:
          body.push_back(make_stmt(TextStmt{t.text}, t.line));
          advance();
          break;
        case TokenType::VariableBegin: {
          advance();
          ExprPtr value = parse_tuple(false, true, {}, false);
          if (cur().type != TokenType::VariableEnd) fail_expected("end of print statement ('}}')");
          advance();
          body.push_back(make_stmt(PrintStmt{std::move(value)}, t.line));
          break;
        }
        case TokenType::BlockBegin:
          advance();
          if (cur().type == TokenType::Name &&
              std::find(ends.begin(), ends.end(), cur().text) != ends.end())
            return body;
          body.push_back(parse_statement(ends, opener));
          break;
        case TokenType::End:
          if (ends.size() == 0) return body;
          fail("unexpected end of template: the '" + opener->text + "' on line " +
                   std::to_string(opener->line) + " needs {% " + closing_tag(ends) + " %}",
               t);
        default:
          fail("unexpected " + describe(t), t);
      }
    }
  }

  StmtPtr parse_statement(std::initializer_list<std::string_view> ends, const Token* opener) {
    const Token& t = cur();
    if (t.type != TokenType::Name) fail_expected("a tag name");
    const std::string& name = t.text;
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "call") return parse_call_block();
    if (name == "filter") return parse_filter_block();
    if (name == "generation") return parse_generation_block();
    if (name == "break" || name == "continue") {
      if (!in_loop_) fail("'" + name + "' outside loop", t);
      const int line = t.line;
      advance();
      expect_block_end();
      return name == "break" ? make_stmt(BreakStmt{}, line) : make_stmt(ContinueStmt{}, line);
    }
    static constexpr std::string_view unsupported[] = {
        "extends", "block", "include", "import", "from", "with", "autoescape", "do", "trans"};
    if (std::find(std::begin(unsupported), std::end(unsupported), name) != std::end(unsupported))
      fail("the '" + name + "' tag is not supported by hearth's template engine", t);
    std::string message = "unknown tag '" + name + "'";
    if (opener)
      message += "; the '" + opener->text + "' on line " + std::to_string(opener->line) +
                 " expects {% " + closing_tag(ends) + " %}";
    fail(message, t);
  }

  StmtPtr parse_if() {
    const Token& opener = cur();
    const int line = opener.line;
    IfStmt node;
    FlagScope soft(soft_, true);
    advance();
    for (;;) {
      ExprPtr test = parse_tuple(false, false, {}, false);
      expect_block_end();
      Body body = subparse({"elif", "else", "endif"}, &opener);
      node.branches.emplace_back(std::move(test), std::move(body));
      if (skip_name("elif")) continue;
      if (skip_name("else")) {
        expect_block_end();
        node.otherwise = subparse({"endif"}, &opener);
      }
      advance();  // endif
      expect_block_end();
      break;
    }
    return make_stmt(std::move(node), line);
  }

  Target parse_target(std::initializer_list<std::string_view> extra_ends) {
    Target target;
    const bool parens = skip_op("(");
    for (;;) {
      target.names.push_back(expect_name());
      if (!skip_op(",")) break;
      target.unpack = true;
      if (is_op(")") || cur().type == TokenType::BlockEnd) break;
      if (cur().type == TokenType::Name &&
          std::find(extra_ends.begin(), extra_ends.end(), cur().text) != extra_ends.end())
        break;
    }
    if (parens) expect_op(")");
    return target;
  }

  StmtPtr parse_for() {
    const Token& opener = cur();
    const int line = opener.line;
    advance();
    ForStmt node;
    node.target = parse_target({"in"});
    if (!skip_name("in")) fail_expected("'in'");
    node.iterable = parse_tuple(false, false, {"recursive"}, false);
    if (is_name("recursive")) fail("recursive for loops are not supported", cur());
    if (skip_name("if")) node.filter = parse_expression(true);
    expect_block_end();
    {
      FlagScope loop(in_loop_, true);
      FlagScope soft(soft_, false);
      node.body = subparse({"endfor", "else"}, &opener);
    }
    if (skip_name("else")) {
      expect_block_end();
      FlagScope loop(in_loop_, false);
      FlagScope soft(soft_, false);
      node.otherwise = subparse({"endfor"}, &opener);
    }
    advance();  // endfor
    expect_block_end();
    return make_stmt(std::move(node), line);
  }

  StmtPtr parse_set() {
    const Token& opener = cur();
    const int line = opener.line;
    advance();
    Target target;
    std::string attribute;
    if (cur().type == TokenType::Name && look().type == TokenType::Operator && look().text == ".") {
      target.names.push_back(expect_name());
      advance();
      attribute = expect_name();
    } else {
      target = parse_target({});
    }
    if (skip_op("=")) {
      ExprPtr value = parse_tuple(false, true, {}, false);
      expect_block_end();
      return make_stmt(SetStmt{std::move(target), std::move(attribute), std::move(value)}, line);
    }
    if (target.unpack) fail("a {% set %} block assigns one name", opener);
    SetBlockStmt node;
    node.target = std::move(target);
    node.namespace_attribute = std::move(attribute);
    while (skip_op("|")) node.filters.push_back(parse_filter(nullptr));
    expect_block_end();
    FlagScope soft(soft_, false);
    node.body = subparse({"endset"}, &opener);
    advance();
    expect_block_end();
    return make_stmt(std::move(node), line);
  }

  std::vector<MacroParam> parse_signature() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      const Token& at = cur();
      MacroParam param{expect_name(), nullptr};
      if (skip_op("="))
        param.default_value = parse_expression(true);
      else if (!params.empty() && params.back().default_value)
        fail("non-default argument follows default argument", at);
      params.push_back(std::move(param));
    }
    advance();
    return params;
  }

  MacroStmt parse_macro_body(std::string name, std::vector<MacroParam> params, const Token& opener,
                             std::string_view end) {
    MacroStmt node;
    node.name = std::move(name);
    node.params = std::move(params);
    FlagScope loop(in_loop_, false);
    FlagScope soft(soft_, false);
    node.body = subparse({end}, &opener);
    advance();
    expect_block_end();
    scan_special_names(node);
    return node;
  }

  StmtPtr parse_macro() {
    const Token& opener = cur();
    advance();
    std::string name = expect_name();
    std::vector<MacroParam> params = parse_signature();
    expect_block_end();
    return make_stmt(parse_macro_body(std::move(name), std::move(params), opener, "endmacro"),
                     opener.line);
  }

  StmtPtr parse_call_block() {
    const Token& opener = cur();
    advance();
    std::vector<MacroParam> params;
    if (is_op("(")) params = parse_signature();
    ExprPtr call = parse_expression(true);
    if (!std::holds_alternative<CallExpr>(call->node))
      fail("{% call %} expects a macro call", opener);
    expect_block_end();
    CallBlockStmt node{std::move(call),
                       parse_macro_body("caller", std::move(params), opener, "endcall")};
    return make_stmt(std::move(node), opener.line);
  }

  StmtPtr parse_filter_block() {
    const Token& opener = cur();
    advance();
    FilterBlockStmt node;
    node.filters.push_back(parse_filter(nullptr));
    while (skip_op("|")) node.filters.push_back(parse_filter(nullptr));
    expect_block_end();
    FlagScope soft(soft_, false);
    node.body = subparse({"endfilter"}, &opener);
    advance();
    expect_block_end();
    return make_stmt(std::move(node), opener.line);
  }

  // transformers' {% generation %} marks assistant text for its masks and renders its body as is
  // (in a scope of its own, like the call block it becomes).
  StmtPtr parse_generation_block() {
    const Token& opener = cur();
    advance();
    expect_block_end();
    FilterBlockStmt node;
    FlagScope soft(soft_, false);
    node.body = subparse({"endgeneration"}, &opener);
    advance();
    expect_block_end();
    return make_stmt(std::move(node), opener.line);
  }

  // ---------------------------------------------------------------- expressions
  bool is_tuple_end(std::initializer_list<std::string_view> extra_ends) const {
    const Token& t = cur();
    if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || is_op(")"))
      return true;
    return t.type == TokenType::Name &&
           std::find(extra_ends.begin(), extra_ends.end(), t.text) != extra_ends.end();
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr,
                      std::initializer_list<std::string_view> extra_ends, bool explicit_parens) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_ends)) break;
      items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(","))
        is_tuple = true;
      else
        break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail_expected("an expression");
    }
    return make_expr(TupleExpr{std::move(items)}, line);
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    const int line = cur().line;
    ExprPtr expr = parse_or();
    while (skip_name("if")) {
      FlagScope soft(soft_, true);
      ConditionalExpr node;
      node.condition = parse_or();
      node.then_value = std::move(expr);
      if (skip_name("else")) node.else_value = parse_condexpr();
      expr = make_expr(std::move(node), line);
    }
    return expr;
  }

  ExprPtr parse_or() {
    const int line = cur().line;
    ExprPtr left = parse_and();
    while (skip_name("or")) left = make_expr(OrExpr{std::move(left), parse_and()}, line);
    return left;
  }

  ExprPtr parse_and() {
    const int line = cur().line;
    ExprPtr left = parse_not();
    while (skip_name("and")) left = make_expr(AndExpr{std::move(left), parse_not()}, line);
    return left;
  }

  ExprPtr parse_not() {
    DepthGuard guard(*this);
    const int line = cur().line;
    if (skip_name("not")) return make_expr(NotExpr{parse_not()}, line);
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    CompareExpr node;
    for (;;) {
      CompareKind kind;
      if (cur().type == TokenType::Operator && cur().text == "==") {
        kind = CompareKind::Eq;
      } else if (is_op("!=")) {
        kind = CompareKind::Ne;
      } else if (is_op("<")) {
        kind = CompareKind::Lt;
      } else if (is_op("<=")) {
        kind = CompareKind::Le;
      } else if (is_op(">")) {
        kind = CompareKind::Gt;
      } else if (is_op(">=")) {
        kind = CompareKind::Ge;
      } else if (is_name("in")) {
        kind = CompareKind::In;
      } else if (is_name("not") && look().type == TokenType::Name && look().text == "in") {
        advance();
        kind = CompareKind::NotIn;
      } else {
        break;
      }
      advance();
      node.rest.emplace_back(kind, parse_math1());
    }
    if (node.rest.empty()) return first;
    node.first = std::move(first);
    return make_expr(std::move(node), line);
  }

  ExprPtr parse_math1() {
    const int line = cur().line;
    ExprPtr left = parse_concat();
    for (;;) {
      BinaryOp op;
      if (is_op("+"))
        op = BinaryOp::Add;
      else if (is_op("-"))
        op = BinaryOp::Sub;
      else
        break;
      advance();
      left = make_expr(BinaryExpr{op, std::move(left), parse_concat()}, line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    ConcatExpr node;
    node.parts.push_back(std::move(first));
    while (skip_op("~")) node.parts.push_back(parse_math2());
    return make_expr(std::move(node), line);
  }

  ExprPtr parse_math2() {
    const int line = cur().line;
    ExprPtr left = parse_pow();
    for (;;) {
      BinaryOp op;
      if (is_op("*"))
        op = BinaryOp::Mul;
      else if (is_op("/"))
        op = BinaryOp::TrueDiv;
      else if (is_op("//"))
        op = BinaryOp::FloorDiv;
      else if (is_op("%"))
        op = BinaryOp::Mod;
      else
        break;
      advance();
      left = make_expr(BinaryExpr{op, std::move(left), parse_pow()}, line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    const int line = cur().line;
    ExprPtr left = parse_unary(true);
    while (skip_op("**"))
      left = make_expr(BinaryExpr{BinaryOp::Pow, std::move(left), parse_unary(true)}, line);
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const int line = cur().line;
    ExprPtr node;
    if (skip_op("-"))
      node = make_expr(NegateExpr{parse_unary(false), false}, line);
    else if (skip_op("+"))
      node = make_expr(NegateExpr{parse_unary(false), true}, line);
    else
      node = parse_primary();
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    DepthGuard guard(*this);
    const Token& t = cur();
    const int line = t.line;
    switch (t.type) {
      case TokenType::Name: {
        ExprPtr e;
        if (t.text == "true" || t.text == "True")
          e = make_expr(Literal{Value::boolean(true)}, line);
        else if (t.text == "false" || t.text == "False")
          e = make_expr(Literal{Value::boolean(false)}, line);
        else if (t.text == "none" || t.text == "None")
          e = make_expr(Literal{Value::none()}, line);
        else
          e = make_expr(Name{t.text}, line);
        advance();
        return e;
      }
      case TokenType::String: {
        // Adjacent string literals concatenate, as in Python.
        std::string text;
        while (cur().type == TokenType::String) {
          text += cur().text;
          advance();
        }
        return make_expr(Literal{Value::string(std::move(text))}, line);
      }
      case TokenType::Integer: {
        ExprPtr e = make_expr(Literal{Value::integer(t.integer)}, line);
        advance();
        return e;
      }
      case TokenType::Float: {
        ExprPtr e = make_expr(Literal{Value::number(t.real)}, line);
        advance();
        return e;
      }
      case TokenType::Operator:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(false, true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail("unexpected " + describe(t), t);
  }

  ExprPtr parse_list() {
    const int line = cur().line;
    advance();
    ListExpr node;
    while (!is_op("]")) {
      if (!node.items.empty()) expect_op(",");
      if (is_op("]")) break;
      node.items.push_back(parse_expression(true));
    }
    advance();
    return make_expr(std::move(node), line);
  }

  ExprPtr parse_dict() {
    const int line = cur().line;
    advance();
    DictExpr node;
    while (!is_op("}")) {
      if (!node.items.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprPtr key = parse_expression(true);
      expect_op(":");
      node.items.emplace_back(std::move(key), parse_expression(true));
    }
    advance();
    return make_expr(std::move(node), line);
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".") || is_op("["))
        node = parse_subscript(std::move(node));
      else if (is_op("("))
        node = parse_call(std::move(node));
      else
        return node;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      if (is_op("|")) {
        advance();
        node = parse_filter(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object) {
    const int line = cur().line;
    if (skip_op(".")) {
      const Token& attr = cur();
      if (attr.type == TokenType::Name) {
        advance();
        return make_expr(AttributeExpr{std::move(object), attr.text}, line);
      }
      if (attr.type == TokenType::Integer) {
        SubscriptExpr node;
        node.object = std::move(object);
        node.index = make_expr(Literal{Value::integer(attr.integer)}, line);
        advance();
        return make_expr(std::move(node), line);
      }
      fail_expected("a name or number after '.'");
    }
    advance();  // [
    std::vector<ExprPtr> keys;
    SubscriptExpr node;
    node.object = std::move(object);
    while (!is_op("]")) {
      if (!keys.empty() || node.slice) expect_op(",");
      if (node.slice) fail("a subscript takes one slice", cur());
      if (auto key = parse_subscribed(node)) keys.push_back(std::move(key));
    }
    advance();
    if (node.slice) {
      if (!keys.empty()) fail("a subscript takes one slice", cur());
      return make_expr(std::move(node), line);
    }
    if (keys.empty()) fail("empty subscript", cur());
    node.index =
        keys.size() == 1 ? std::move(keys[0]) : make_expr(TupleExpr{std::move(keys)}, line);
    return make_expr(std::move(node), line);
  }

  // One subscript entry: an expression (returned) or a slice (stored into `node`).
  ExprPtr parse_subscribed(SubscriptExpr& node) {
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (!is_op(":")) return start;
    }
    advance();  // first ':'
    node.slice = true;
    node.start = std::move(start);
    if (!is_op(":") && !is_op("]") && !is_op(",")) node.stop = parse_expression(true);
    if (skip_op(":")) {
      if (!is_op("]") && !is_op(",")) node.step = parse_expression(true);
    }
    return nullptr;
  }

  Arguments parse_call_args() {
    const Token& open = cur();
    expect_op("(");
    Arguments args;
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported", cur());
      if (cur().type == TokenType::Name && look().type == TokenType::Operator &&
          look().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        args.keyword.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!args.keyword.empty()) fail("invalid syntax for function call expression", open);
        args.positional.push_back(parse_expression(true));
      }
    }
    advance();
    return args;
  }

  ExprPtr parse_call(ExprPtr callee) {
    const int line = cur().line;
    Arguments args = parse_call_args();
    return make_expr(CallExpr{std::move(callee), std::move(args)}, line);
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  ExprPtr parse_filter(ExprPtr operand) {
    const Token& at = cur();
    std::string name = parse_dotted_name();
    // jinja2 rejects an unknown filter when compiling, except inside if/else (a "soft" frame),
    // where it fails only if evaluated.
    if (!soft_ && !find_filter(name)) fail("no filter named '" + name + "'", at);
    Arguments args;
    if (is_op("(")) args = parse_call_args();
    return make_expr(FilterExpr{std::move(operand), std::move(name), std::move(args)}, at.line);
  }

  ExprPtr parse_test(ExprPtr operand) {
    const int line = cur().line;
    advance();  // is
    const bool negated = skip_name("not");
    const Token& at = cur();
    std::string name = parse_dotted_name();
    if (!soft_ && !find_test(name)) fail("no test named '" + name + "'", at);
    Arguments args;
    const Token& t = cur();
    if (is_op("(")) {
      args = parse_call_args();
    } else if ((t.type == TokenType::Name && t.text != "else" && t.text != "or" &&
                t.text != "and") ||
               t.type == TokenType::String || t.type == TokenType::Integer ||
               t.type == TokenType::Float || is_op("[") || is_op("{")) {
      if (is_name("is")) fail("you cannot chain multiple tests with 'is'", t);
      args.positional.push_back(parse_postfix(parse_primary()));
    }
    return make_expr(TestExpr{std::move(operand), std::move(name), std::move(args), negated}, line);
  }

  // ---------------------------------------------------------------- macro special names
  static void scan_expr(const Expr* e, MacroStmt& m) {
    if (!e) return;
    std::visit(
        [&](const auto& n) {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, Name>) {
            m.uses_varargs |= n.name == "varargs";
            m.uses_kwargs |= n.name == "kwargs";
            m.uses_caller |= n.name == "caller";
          } else if constexpr (std::is_same_v<T, ListExpr> || std::is_same_v<T, TupleExpr>) {
            for (const auto& i : n.items) scan_expr(i.get(), m);
          } else if constexpr (std::is_same_v<T, DictExpr>) {
            for (const auto& [k, v] : n.items) {
              scan_expr(k.get(), m);
              scan_expr(v.get(), m);
            }
          } else if constexpr (std::is_same_v<T, AttributeExpr>) {
            scan_expr(n.object.get(), m);
          } else if constexpr (std::is_same_v<T, SubscriptExpr>) {
            for (const Expr* p :
                 {n.object.get(), n.index.get(), n.start.get(), n.stop.get(), n.step.get()})
              scan_expr(p, m);
          } else if constexpr (std::is_same_v<T, CallExpr>) {
            scan_expr(n.callee.get(), m);
            scan_args(n.args, m);
          } else if constexpr (std::is_same_v<T, FilterExpr> || std::is_same_v<T, TestExpr>) {
            scan_expr(n.operand.get(), m);
            scan_args(n.args, m);
          } else if constexpr (std::is_same_v<T, NotExpr> || std::is_same_v<T, NegateExpr>) {
            scan_expr(n.operand.get(), m);
          } else if constexpr (std::is_same_v<T, BinaryExpr> || std::is_same_v<T, AndExpr> ||
                               std::is_same_v<T, OrExpr>) {
            scan_expr(n.left.get(), m);
            scan_expr(n.right.get(), m);
          } else if constexpr (std::is_same_v<T, ConcatExpr>) {
            for (const auto& p : n.parts) scan_expr(p.get(), m);
          } else if constexpr (std::is_same_v<T, CompareExpr>) {
            scan_expr(n.first.get(), m);
            for (const auto& r : n.rest) scan_expr(r.second.get(), m);
          } else if constexpr (std::is_same_v<T, ConditionalExpr>) {
            scan_expr(n.condition.get(), m);
            scan_expr(n.then_value.get(), m);
            scan_expr(n.else_value.get(), m);
          }
        },
        e->node);
  }

  static void scan_args(const Arguments& args, MacroStmt& m) {
    for (const auto& a : args.positional) scan_expr(a.get(), m);
    for (const auto& kv : args.keyword) scan_expr(kv.second.get(), m);
  }

  static void scan_body(const Body& body, MacroStmt& m) {
    for (const auto& s : body) {
      std::visit(
          [&](const auto& n) {
            using T = std::decay_t<decltype(n)>;
            if constexpr (std::is_same_v<T, PrintStmt>) {
              scan_expr(n.value.get(), m);
            } else if constexpr (std::is_same_v<T, IfStmt>) {
              for (const auto& [test, branch] : n.branches) {
                scan_expr(test.get(), m);
                scan_body(branch, m);
              }
              scan_body(n.otherwise, m);
            } else if constexpr (std::is_same_v<T, ForStmt>) {
              scan_expr(n.iterable.get(), m);
              scan_expr(n.filter.get(), m);
              scan_body(n.body, m);
              scan_body(n.otherwise, m);
            } else if constexpr (std::is_same_v<T, SetStmt>) {
              scan_expr(n.value.get(), m);
            } else if constexpr (std::is_same_v<T, SetBlockStmt> ||
                                 std::is_same_v<T, FilterBlockStmt>) {
              for (const auto& f : n.filters) scan_expr(f.get(), m);
              scan_body(n.body, m);
            } else if constexpr (std::is_same_v<T, MacroStmt>) {
              for (const auto& p : n.params) scan_expr(p.default_value.get(), m);
              scan_body(n.body, m);
            } else if constexpr (std::is_same_v<T, CallBlockStmt>) {
              scan_expr(n.call.get(), m);
              scan_body(n.caller.body, m);
            }
          },
          s->node);
    }
  }

  static void scan_special_names(MacroStmt& m) {
    scan_body(m.body, m);
    for (const auto& p : m.params) scan_expr(p.default_value.get(), m);
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool in_loop_ = false;
  bool soft_ = false;
};

}  // namespace

Program parse(std::string_view source) { return Parser(tokenize(source)).run(); }

}  // namespace hearth::jinja
