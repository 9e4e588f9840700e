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
};

// Looks up what the target name means in the current table.
struct ChainLookup {
  virtual ~ChainLookup() = default;
  virtual bool isUserChain(std::string_view name) const = 0;
  virtual bool isBuiltinChain(std::string_view name) const = 0;
};

class RuleParser {
 public:
  RuleParser(Family family, std::string table, const ChainLookup& chains)
      : family_(family), table_(std::move(table)), chains_(chains) {}
  // Throws ParseError on the first problem, as iptables stops at it.
  ParsedCommand parse(const TokenList& args);

 private:
  Family family_;
  std::string table_;
  const ChainLookup& chains_;
};

// Runs the extensions' final checks for a fully parsed rule in a chain.
void finalCheckRule(const Rule& rule, Family family, std::string_view table, std::string_view chain);

}  // namespace nfjit
