// Parses the option words of one iptables command (`-A INPUT -p tcp ...`)
// the way iptables' getopt loop does: base options, `-m` modules that bring
// their own options, the implicit protocol match, `!` inversion, and the
// target. Extensions parse their own option values.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/Token.h"
#include "compiler/ir/Ruleset.h"

namespace nfjit {

enum class CommandKind : char {
  None = 0,
  Append = 'A',
  Insert = 'I',
  Delete = 'D',
  Replace = 'R',
  NewChain = 'N',
  DeleteChain = 'X',
  Flush = 'F',
  Zero = 'Z',
  Policy = 'P',
  Rename = 'E',
};

struct ParsedCommand {
  CommandKind kind = CommandKind::None;
  SourceLoc loc;          // of the command option
  std::string chain;      // may be empty for -F/-X/-Z without a chain
  SourceLoc chainLoc;
  std::optional<uint32_t> ruleNum;  // -I/-D/-R position
  std::string arg;        // -P policy, -E new name
  SourceLoc argLoc;
  bool skipLine = false;  // "-6" in an IPv4 file: iptables-restore ignores the line
  bool hasRuleSpec = false;
  // Every rule the command denotes: -s/-d lists expand into one rule each.
  std::vector<Rule> rules;
  // Permissive mode: the options kept as unparsed matches, as warnings.
  std::vector<Diagnostic> warnings;
};

// Permissive mode: the rule cannot be kept at all (its target is unknown or
// invalid); the caller drops it with a warning instead of failing.
class DroppedRule : public ParseError {
 public:
  using ParseError::ParseError;
};

// Looks up what the target name means in the current table.
struct ChainLookup {
  virtual ~ChainLookup() = default;
  virtual bool isUserChain(std::string_view name) const = 0;
  virtual bool isBuiltinChain(std::string_view name) const = 0;
};

class RuleParser {
 public:
  // permissive: an option that fails to parse becomes an UnparsedMatch
  // (compiler/extensions/Unparsed.h) with a warning; a bad target throws
  // DroppedRule. Never the default: iptables-restore rejects such lines.
  RuleParser(Family family, std::string table, const ChainLookup& chains, bool permissive = false)
      : family_(family), table_(std::move(table)), chains_(chains), permissive_(permissive) {}
  // Throws ParseError on the first problem, as iptables stops at it.
  ParsedCommand parse(const TokenList& args);

 private:
  Family family_;
  std::string table_;
  const ChainLookup& chains_;
  bool permissive_ = false;
};

// Runs the extensions' final checks for a fully parsed rule in a chain.
void finalCheckRule(const Rule& rule, Family family, std::string_view table, std::string_view chain);
// The same in permissive mode: a match that fails its check becomes an
// UnparsedMatch (a warning is added); a target that fails throws DroppedRule.
void finalCheckRulePermissive(Rule& rule, Family family, std::string_view table, std::string_view chain,
                              std::vector<Diagnostic>& warnings);

}  // namespace nfjit
