#include "compiler/frontend/RestoreParser.h"

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "IptablesRestoreLexer.h"
#include "IptablesRestoreParser.h"
#include "antlr4-runtime.h"
#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RuleParser.h"
#include "compiler/frontend/TableChecks.h"

namespace nfjit {
namespace {

constexpr size_t kMaxLineLength = 10240;  // iptables-restore's line buffer
constexpr size_t kMaxParamLength = 1023;  // and its per-argument buffer

using grammar::IptablesRestoreLexer;
using grammar::IptablesRestoreParser;

// Control bytes cannot be part of a rules file, and the ANTLR input stream
// needs strict UTF-8 (RFC 3629): its decoder throws on overlong forms,
// surrogates and code points past U+10FFFF, so those are bad bytes too.
size_t firstBadByte(std::string_view line) {
  auto byteAt = [&](size_t k) { return static_cast<unsigned char>(line[k]); };
  size_t i = 0;
  while (i < line.size()) {
    unsigned char c = byteAt(i);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\r') return i;
      if (c == 0x7f) return i;
      ++i;
      continue;
    }
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) lo = 0xa0;  // overlong below U+0800
      if (c == 0xed) hi = 0x9f;  // UTF-16 surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) lo = 0x90;  // overlong below U+10000
      if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
    }
    if (n == 0 || i + n > line.size()) return i;
    if (byteAt(i + 1) < lo || byteAt(i + 1) > hi) return i;
    for (size_t k = 2; k < n; ++k)
      if ((byteAt(i + k) & 0xc0) != 0x80) return i;
    i += n;
  }
  return std::string_view::npos;
}

class SyntaxErrorCollector : public antlr4::BaseErrorListener {
 public:
  explicit SyntaxErrorCollector(DiagnosticEngine& d) : diags_(d) {}
  void syntaxError(antlr4::Recognizer*, antlr4::Token*, size_t line, size_t col, const std::string& msg,
                   std::exception_ptr) override {
    diags_.error({static_cast<uint32_t>(line), static_cast<uint32_t>(col + 1)}, "syntax error: " + msg);
  }

 private:
  DiagnosticEngine& diags_;
};

Token makeToken(antlr4::Token* t, DiagnosticEngine& diags) {
  Token out;
  out.loc = {static_cast<uint32_t>(t->getLine()), static_cast<uint32_t>(t->getCharPositionInLine() + 1)};
  std::string s = t->getText();
  // A quoted part runs from the first `"' to the end of the token (the
  // lexer ends a word at its closing quote).
  size_t q = t->getType() == IptablesRestoreLexer::QUOTED ? 0 : s.find('"');
  if (q == std::string::npos) {
    out.text = std::move(s);
  } else {
    out.quoted = q == 0;
    std::string_view tail = std::string_view(s).substr(q);
    bool closed = tail.size() >= 2 && tail.back() == '"';
    // A trailing backslash-quote is an escaped quote, not the end.
    if (closed) {
      size_t bs = 0;
      for (size_t i = tail.size() - 1; i > 1 && tail[i - 1] == '\\'; --i) ++bs;
      closed = bs % 2 == 0;
    }
    if (!closed) diags.error(shiftedCol(out.loc, static_cast<uint32_t>(q)), "unterminated quoted string");
    std::string_view body = tail.substr(1, closed ? tail.size() - 2 : tail.size() - 1);
    out.text = s.substr(0, q);
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\\' && i + 1 < body.size()) ++i;
      out.text += body[i];
    }
  }
  if (out.text.size() > kMaxParamLength)
    diags.error(out.loc, "parameter too long (" + std::to_string(out.text.size()) + " characters, at most " +
                             std::to_string(kMaxParamLength) + ")");
  return out;
}

// Interprets statements in order, with iptables-restore's state machine.
class RestoreBuilder : public ChainLookup {
 public:
  RestoreBuilder(Family f, DiagnosticEngine& d, bool permissive) : family_(f), diags_(d), permissive_(permissive) {
    rs_.family = f;
  }

  void table(const Token& head, const TokenList& rest);
  void chainDecl(const Token& head, const TokenList& rest);
  void commit(const Token& head, const TokenList& rest);
  void command(const std::optional<Token>& counters, const TokenList& args);
  void finish(uint32_t lastLine);
  Ruleset take() { return std::move(rs_); }

  bool isUserChain(std::string_view n) const override {
    const Chain* c = cur_ ? cur_->findChain(n) : nullptr;
    return c && !c->builtin;
  }
  bool isBuiltinChain(std::string_view n) const override {
    const Chain* c = cur_ ? cur_->findChain(n) : nullptr;
    return c && c->builtin;
  }

 private:
  void applyCommand(ParsedCommand& pc);
  Chain* requireChain(const std::string& name, SourceLoc loc);
  void commitTable(SourceLoc loc);

  Family family_;
  DiagnosticEngine& diags_;
  bool permissive_ = false;
  Ruleset rs_;
  Table pending_;  // the table being restored
  Table* cur_ = nullptr;
  bool inTable_ = false;
  bool tableBroken_ = false;
};

std::optional<Counters> parseCounterToken(std::string_view s) {
  // "[packets:bytes]"
  if (s.size() < 5 || s.front() != '[' || s.back() != ']') return std::nullopt;
  auto body = s.substr(1, s.size() - 2);
  auto colon = body.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto digits = [](std::string_view d) {
    if (d.empty() || d.size() > 20) return false;
    for (char c : d)
      if (c < '0' || c > '9') return false;
    return true;
  };
  auto p = body.substr(0, colon), b = body.substr(colon + 1);
  if (!digits(p) || !digits(b)) return std::nullopt;
  Counters c;
  try {
    c.packets = std::stoull(std::string(p));
    c.bytes = std::stoull(std::string(b));
  } catch (...) {
    return std::nullopt;
  }
  return c;
}

void RestoreBuilder::table(const Token& head, const TokenList& rest) {
  if (inTable_) {
    diags_.error(head.loc, "table `" + pending_.name + "' is not committed before the next *table line (missing COMMIT)");
    return;
  }
  std::string name = head.text.substr(1);
  if (name.empty()) {
    diags_.error(head.loc, "empty table name after `*'");
    return;
  }
  if (!rest.empty()) diags_.error(rest[0].loc, "unexpected `" + rest[0].text + "' after table name");
  if (!isKnownTable(name)) {
    diags_.error(shiftedCol(head.loc, 1), "table `" + name + "' does not exist (expected filter, nat, mangle, raw or security)");
    tableBroken_ = true;
  }
  inTable_ = true;
  pending_ = Table{};
  pending_.name = name;
  pending_.loc = head.loc;
  // Restoring a table replaces it: start from its built-in chains.
  for (Hook h : tableHooks(name, family_)) {
    Chain c;
    c.name = std::string(hookChainName(h));
    c.builtin = true;
    c.policy = Policy::Accept;
    c.loc = head.loc;
    pending_.chains.push_back(std::move(c));
  }
  cur_ = &pending_;
}

void RestoreBuilder::chainDecl(const Token& head, const TokenList& rest) {
  if (!inTable_) {
    diags_.error(head.loc, "chain declaration outside a table (missing *table line)");
    return;
  }
  std::string name = head.text.substr(1);
  SourceLoc nameLoc = shiftedCol(head.loc, 1);
  if (name.empty()) {
    diags_.error(head.loc, "empty chain name");
    return;
  }
  if (name.size() > 28) {
    diags_.error(nameLoc, "invalid chain name `" + name + "' (28 chars max)");
    return;
  }
  if (rest.empty()) {
    diags_.error(head.loc, "chain `" + name + "' has no policy (use `-' for a user chain)");
    return;
  }
  const Token& pol = rest[0];
  std::optional<Counters> ctr;
  if (rest.size() >= 2) {
    ctr = parseCounterToken(rest[1].text);
    if (!ctr) {
      diags_.error(rest[1].loc, "invalid chain counters `" + rest[1].text + "' (expected [packets:bytes])");
      return;
    }
  }
  // iptables-restore reads the line with strtok() and ignores further words.
  Chain* c = pending_.findChain(name);
  if (c && c->builtin) {
    if (pol.text == "ACCEPT") c->policy = Policy::Accept;
    else if (pol.text == "DROP") c->policy = Policy::Drop;
    else if (pol.text != "-") {
      diags_.error(pol.loc, "invalid policy `" + pol.text + "' for built-in chain `" + name + "' (ACCEPT or DROP)");
      return;
    }
    if (ctr) c->counters = *ctr;
    return;
  }
  if (pol.text != "-") {
    diags_.error(pol.loc, "cannot set policy `" + pol.text + "' on user-defined chain `" + name + "'");
    return;
  }
  if (name == "ACCEPT" || name == "DROP" || name == "QUEUE" || name == "RETURN") {
    diags_.error(nameLoc, "chain name `" + name + "' is reserved for a standard target");
    return;
  }
  if (ExtensionRegistry::instance().findTarget(name, family_)) {
    diags_.error(nameLoc, "chain name `" + name + "' clashes with a target of that name");
    return;
  }
  if (c) {
    diags_.error(nameLoc, "chain `" + name + "' already exists");
    return;
  }
  Chain nc;
  nc.name = name;
  nc.loc = head.loc;
  if (ctr) nc.counters = *ctr;
  pending_.chains.push_back(std::move(nc));
}

Chain* RestoreBuilder::requireChain(const std::string& name, SourceLoc loc) {
  Chain* c = pending_.findChain(name);
  if (!c) diags_.error(loc, "chain `" + name + "' does not exist in table `" + pending_.name + "'");
  return c;
}

void RestoreBuilder::command(const std::optional<Token>& counters, const TokenList& args) {
  SourceLoc at = counters ? counters->loc : (args.empty() ? SourceLoc{} : args[0].loc);
  if (!inTable_) {
    diags_.error(at, "command outside a table (missing *table line)");
    return;
  }
  std::optional<Counters> ctr;
  if (counters) {
    ctr = parseCounterToken(counters->text);
    if (!ctr) {
      diags_.error(counters->loc, "invalid rule counters `" + counters->text + "' (expected [packets:bytes])");
      return;
    }
  }
  if (args.empty()) {
    diags_.error(at, "counters without a command");
    return;
  }
  // iptables-restore builds an argv of at most 255 entries: its own name,
  // -t TABLE, and with counters --set-counters P B, then the line's words.
  const size_t maxWords = counters ? 248 : 251;
  if (args.size() > maxWords) {
    diags_.error(args[maxWords].loc, "too many arguments (iptables-restore handles at most " +
                                         std::to_string(maxWords) + " words in a " +
                                         (counters ? "line with counters" : "line") + ")");
    return;
  }
  try {
    RuleParser rp(family_, pending_.name, *this, permissive_);
    ParsedCommand pc = rp.parse(args);
    if (pc.skipLine) return;
    if (ctr)
      for (auto& r : pc.rules)
        if (!r.counters) r.counters = ctr;
    for (auto& r : pc.rules) r.loc = at;
    applyCommand(pc);
    for (auto& w : pc.warnings) diags_.report(std::move(w));
  } catch (const DroppedRule& e) {
    diags_.warning(e.loc(), std::string("rule dropped: ") + e.what() + " (--permissive)");
  } catch (const ParseError& e) {
    diags_.error(e.loc(), e.what());
  }
}

void RestoreBuilder::applyCommand(ParsedCommand& pc) {
  auto ruleCmd = pc.kind == CommandKind::Append || pc.kind == CommandKind::Insert ||
                 pc.kind == CommandKind::Replace || pc.kind == CommandKind::Delete;
  if (!ruleCmd && pc.hasRuleSpec)
    throw ParseError(pc.loc, std::string("-") + char(pc.kind) + " does not take rule options");
  switch (pc.kind) {
    case CommandKind::Append:
    case CommandKind::Insert:
    case CommandKind::Replace: {
      Chain* c = requireChain(pc.chain, pc.chainLoc);
      if (!c) return;
      for (auto& r : pc.rules) {
        // iptables refuses interfaces that cannot exist at a built-in hook.
        if ((c->name == "PREROUTING" || c->name == "INPUT") && !r.ip.outIface.empty())
          throw ParseError(pc.loc, "can't use -o with " + c->name + " (no output interface there)");
        if ((c->name == "POSTROUTING" || c->name == "OUTPUT") && !r.ip.inIface.empty())
          throw ParseError(pc.loc, "can't use -i with " + c->name + " (no input interface there)");
        if (permissive_) finalCheckRulePermissive(r, family_, pending_.name, c->name, pc.warnings);
        else finalCheckRule(r, family_, pending_.name, c->name);
      }
      if (pc.kind == CommandKind::Append) {
        for (auto& r : pc.rules) c->rules.push_back(std::move(r));
      } else if (pc.kind == CommandKind::Insert) {
        size_t at = pc.ruleNum ? *pc.ruleNum - 1 : 0;
        if (at > c->rules.size())
          throw ParseError(pc.chainLoc, "index of insertion too big (chain `" + c->name + "' has " +
                                            std::to_string(c->rules.size()) + " rules)");
        for (auto& r : pc.rules) c->rules.insert(c->rules.begin() + static_cast<long>(at++), std::move(r));
      } else {
        size_t at = *pc.ruleNum - 1;
        if (at >= c->rules.size() || pc.rules.size() != 1)
          throw ParseError(pc.chainLoc, "index of replacement too big");
        c->rules[at] = std::move(pc.rules[0]);
      }
      return;
    }
    case CommandKind::Delete: {
      Chain* c = requireChain(pc.chain, pc.chainLoc);
      if (!c) return;
      if (pc.ruleNum) {
        if (*pc.ruleNum > c->rules.size()) throw ParseError(pc.chainLoc, "index of deletion too big");
        c->rules.erase(c->rules.begin() + (*pc.ruleNum - 1));
        return;
      }
      for (auto& want : pc.rules) {
        std::string key = printRule(want, c->name, family_);
        bool found = false;
        for (auto it = c->rules.begin(); it != c->rules.end(); ++it) {
          if (printRule(*it, c->name, family_) == key) {
            c->rules.erase(it);
            found = true;
            break;
          }
        }
        if (!found) throw ParseError(pc.loc, "bad rule (does a matching rule exist in that chain?)");
      }
      return;
    }
    case CommandKind::NewChain: {
      if (pc.chain.size() > 28) throw ParseError(pc.chainLoc, "chain name `" + pc.chain + "' too long (28 chars max)");
      if (pending_.findChain(pc.chain)) throw ParseError(pc.chainLoc, "chain `" + pc.chain + "' already exists");
      if (ExtensionRegistry::instance().findTarget(pc.chain, family_) || pc.chain == "ACCEPT" ||
          pc.chain == "DROP" || pc.chain == "RETURN" || pc.chain == "QUEUE")
        throw ParseError(pc.chainLoc, "chain name `" + pc.chain + "' clashes with a target name");
      Chain nc;
      nc.name = pc.chain;
      nc.loc = pc.loc;
      pending_.chains.push_back(std::move(nc));
      return;
    }
    case CommandKind::Policy: {
      Chain* c = requireChain(pc.chain, pc.chainLoc);
      if (!c) return;
      if (!c->builtin) throw ParseError(pc.chainLoc, "cannot set a policy on user-defined chain `" + c->name + "'");
      if (pc.arg == "ACCEPT") c->policy = Policy::Accept;
      else if (pc.arg == "DROP") c->policy = Policy::Drop;
      else throw ParseError(pc.argLoc, "invalid policy `" + pc.arg + "' (ACCEPT or DROP)");
      return;
    }
    case CommandKind::Flush:
    case CommandKind::Zero: {
      for (auto& c : pending_.chains) {
        if (!pc.chain.empty() && c.name != pc.chain) continue;
        if (pc.kind == CommandKind::Flush) c.rules.clear();
        else {
          c.counters = {};
          for (auto& r : c.rules) r.counters.reset();
        }
      }
      if (!pc.chain.empty() && !pending_.findChain(pc.chain)) requireChain(pc.chain, pc.chainLoc);
      return;
    }
    case CommandKind::DeleteChain: {
      auto referenced = [&](const std::string& n) {
        for (const auto& c : pending_.chains)
          for (const auto& r : c.rules)
            if ((r.target.kind == Target::Kind::Jump || r.target.kind == Target::Kind::Goto) && r.target.chain == n)
              return true;
        return false;
      };
      // Check everything before removing anything.
      if (!pc.chain.empty()) {
        const Chain* c = pending_.findChain(pc.chain);
        if (!c) throw ParseError(pc.chainLoc, "chain `" + pc.chain + "' does not exist");
        if (c->builtin) throw ParseError(pc.chainLoc, "cannot delete built-in chain `" + pc.chain + "'");
        if (!c->rules.empty()) throw ParseError(pc.chainLoc, "chain `" + c->name + "' is not empty");
        if (referenced(c->name)) throw ParseError(pc.chainLoc, "chain `" + c->name + "' is still referenced");
      }
      std::erase_if(pending_.chains,
                    [&](const Chain& c) { return !c.builtin && (pc.chain.empty() || c.name == pc.chain); });
      return;
    }
    case CommandKind::Rename: {
      Chain* c = requireChain(pc.chain, pc.chainLoc);
      if (!c) return;
      if (c->builtin) throw ParseError(pc.chainLoc, "cannot rename built-in chain `" + c->name + "'");
      if (pending_.findChain(pc.arg)) throw ParseError(pc.argLoc, "chain `" + pc.arg + "' already exists");
      if (pc.arg.size() > 28) throw ParseError(pc.argLoc, "chain name `" + pc.arg + "' too long (28 chars max)");
      std::string old = c->name;
      c->name = pc.arg;
      for (auto& ch : pending_.chains)
        for (auto& r : ch.rules)
          if (r.target.chain == old) r.target.chain = pc.arg;
      return;
    }
    case CommandKind::None:
      return;
  }
}

void RestoreBuilder::commit(const Token& head, const TokenList& rest) {
  if (!rest.empty()) diags_.error(rest[0].loc, "unexpected `" + rest[0].text + "' after COMMIT");
  if (!inTable_) {
    diags_.error(head.loc, "COMMIT outside a table");
    return;
  }
  commitTable(head.loc);
}

void RestoreBuilder::commitTable(SourceLoc loc) {
  inTable_ = false;
  if (!tableBroken_) {
    checkTable(pending_, family_, diags_);
    // User chains print sorted by name, after the built-ins, as libiptc keeps them.
    std::stable_sort(pending_.chains.begin(), pending_.chains.end(), [](const Chain& a, const Chain& b) {
      if (a.builtin != b.builtin) return a.builtin;
      if (a.builtin) return false;
      return a.name < b.name;
    });
    if (Table* existing = rs_.findTable(pending_.name))
      *existing = std::move(pending_);
    else
      rs_.tables.push_back(std::move(pending_));
  }
  (void)loc;
  pending_ = Table{};
  cur_ = nullptr;
  tableBroken_ = false;
}

void RestoreBuilder::finish(uint32_t lastLine) {
  if (inTable_)
    diags_.error({lastLine + 1, 1}, "COMMIT expected at end of file (table `" + pending_.name + "' is not committed)");
}

}  // namespace

SourceLoc shiftedCol(SourceLoc l, uint32_t by) {
  l.col += by;
  return l;
}

std::optional<std::string> readInputFile(const std::string& path, DiagnosticEngine& diags) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error({}, "cannot open file: " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  ss << in.rdbuf();
  return ss.str();
}

Ruleset parseRestore(std::string_view text, const ParseOptions& opts, DiagnosticEngine& diags) {
  // Screen lines the lexer must not see: over-long lines and bytes that are
  // not text are reported and blanked.
  std::string clean;
  clean.reserve(text.size() + 1);
  uint32_t lineNo = 0;
  size_t start = 0;
  while (start < text.size()) {
    ++lineNo;
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.size() >= kMaxLineLength) {
      diags.error({lineNo, 1}, "line too long (" + std::to_string(line.size()) + " characters, at most " +
                                   std::to_string(kMaxLineLength - 1) + ")");
      clean += '\n';
      continue;
    }
    // iptables-restore compares "COMMIT\n" exactly and reads any other
    // non-empty line as a command: blanks alone or after COMMIT are errors.
    std::string_view body = line;
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    if (!body.empty() && body.find_first_not_of(" \t") == std::string_view::npos) {
      diags.error({lineNo, 1}, "line of blanks: iptables-restore reads it as a command without words");
      clean += '\n';
      continue;
    }
    if (body.size() > 6 && body.substr(0, 6) == "COMMIT" && body.find_first_not_of(" \t", 6) == std::string_view::npos) {
      diags.error({lineNo, 7}, "blanks after COMMIT: iptables-restore then reads `COMMIT' as a command (bad argument)");
      clean += '\n';
      continue;
    }
    // The first byte decides a line's kind: after leading blanks, `*', `:',
    // `#' and COMMIT are words of a command line.
    if (size_t first = body.find_first_not_of(" \t"); first > 0 && first != std::string_view::npos) {
      std::string_view rest = body.substr(first);
      std::string_view word = rest.substr(0, rest.find_first_of(" \t"));
      if (word == "COMMIT" || rest[0] == '*' || rest[0] == ':' || rest[0] == '#') {
        diags.error({lineNo, static_cast<uint32_t>(first + 1)},
                    "bad argument `" + std::string(word) + "' (a line starting with a blank is a command line)");
        clean += '\n';
        continue;
      }
    }
    size_t bad = firstBadByte(line);
    if (bad != std::string_view::npos) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(line[bad]));
      diags.error({lineNo, static_cast<uint32_t>(bad + 1)}, std::string("invalid byte ") + hex + " in rules file");
      clean += '\n';
      continue;
    }
    clean += line;
    clean += '\n';
  }
  if (diags.hasErrors()) return Ruleset{opts.family, {}};

  antlr4::ANTLRInputStream input(clean);
  IptablesRestoreLexer lexer(&input);
  SyntaxErrorCollector errors(diags);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&errors);
  antlr4::CommonTokenStream tokens(&lexer);
  IptablesRestoreParser parser(&tokens);
  parser.removeErrorListeners();
  // SLL first; fall back to full LL only if SLL reports an error.
  parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::SLL);
  parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
  IptablesRestoreParser::FileContext* tree = nullptr;
  try {
    tree = parser.file();
  } catch (const antlr4::ParseCancellationException&) {
    tokens.reset();
    parser.reset();
    parser.addErrorListener(&errors);
    parser.setErrorHandler(std::make_shared<antlr4::DefaultErrorStrategy>());
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::LL);
    tree = parser.file();
  }
  if (diags.hasErrors()) return Ruleset{opts.family, {}};

  RestoreBuilder b(opts.family, diags, opts.permissive);
  auto collect = [&](const std::vector<IptablesRestoreParser::ArgContext*>& as) {
    TokenList out;
    for (auto* a : as) out.push_back(makeToken(a->getStart(), diags));
    return out;
  };
  for (auto* line : tree->line()) {
    auto* st = line->statement();
    if (!st) continue;
    size_t before = diags.diagnostics().size();
    if (auto* t = st->tableHeader()) {
      auto rest = collect(t->arg());
      b.table(makeToken(t->TABLE()->getSymbol(), diags), rest);
    } else if (auto* c = st->chainDecl()) {
      auto rest = collect(c->arg());
      b.chainDecl(makeToken(c->CHAIN()->getSymbol(), diags), rest);
    } else if (auto* m = st->commit()) {
      auto rest = collect(m->arg());
      b.commit(makeToken(m->COMMIT()->getSymbol(), diags), rest);
    } else if (auto* cmd = st->command()) {
      std::optional<Token> ctr;
      if (cmd->COUNTERS()) ctr = makeToken(cmd->COUNTERS()->getSymbol(), diags);
      auto args = collect(cmd->arg());
      if (diags.diagnostics().size() == before) b.command(ctr, args);
    }
  }
  b.finish(lineNo);
  return b.take();
}

}  // namespace nfjit
