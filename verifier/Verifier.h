// The static analyser (Z3): `nfjit check`, `nfjit diff` and `nfjit query`.
// Rulesets are lowered to formulas over one symbolic packet
// (verifier/Lowering.h), each built-in chain becomes an exact verdict
// function with user chains inlined (verifier/ChainModel.h), and every
// finding carries a witness packet replayed through the reference
// interpreter (verifier/Witness.h).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/Ruleset.h"
#include "verifier/Witness.h"

namespace nfjit::verifier {

struct RuleRefV {
  size_t table = 0, chain = 0, rule = 0;
  SourceLoc loc;
  std::string tableName, chainName;
  std::string text;   // the rule in canonical form
  std::string label;  // its action (ACCEPT, DROP, RETURN, a chain name, ...)
};

struct Finding {
  std::string name;      // the -W name: shadowed, unsatisfiable, unreachable-chain
  Severity severity = Severity::Warning;
  RuleRefV rule;         // the rule (or the chain's declaration) the finding is about
  std::string message;   // one line
  std::vector<RuleRefV> related;  // e.g. the earlier rules that block a shadowed rule
  // Three-valued matches: true when the finding holds whatever stateful or
  // unmodelled matches do; false when it holds only for some behaviours.
  bool definite = true;
  std::vector<std::string> dependsOn;  // the unknown matches involved
  std::optional<Witness> witness;
  std::string witnessRole;  // what the witness shows
  bool replayed = false;    // the witness went through the interpreter as claimed
  Hook hook = Hook::LocalIn;
};

struct CheckOptions {
  // Called now and then on long runs: (rules done, rules total).
  std::function<void(size_t, size_t)> progress;
};

struct CheckStats {
  size_t rules = 0, solverCalls = 0, pruned = 0;
  double seconds = 0;
};

struct CheckResult {
  std::vector<Finding> findings;
  CheckStats stats;
};

CheckResult checkRuleset(const Ruleset& rs, const CheckOptions& opts = {});

// diff: one entry per built-in chain of the filter table.
struct Difference {
  Witness witness;
  std::string oldVerdict, newVerdict;       // as the model says
  std::string oldReplay, newReplay;         // as the interpreter says
  std::vector<RuleRefV> oldRules, newRules;  // the rules that decided (policy: none)
  bool definite = true;
  bool replayed = false;
};
struct ChainDiff {
  std::string chain;
  Hook hook = Hook::LocalIn;
  bool equivalent = true;
  bool definite = true;  // false: equivalence or difference depends on unknown matches
  std::vector<Difference> differences;
};
std::vector<ChainDiff> diffRulesets(const Ruleset& oldRs, const Ruleset& newRs, const std::string& table = "filter");

// query: a packet satisfying `where` (a rule's match part) decided with `verdict` in `chain`.
struct QueryResult {
  bool found = false;
  bool definite = true;
  std::optional<Witness> witness;
  std::string verdict;
  std::vector<RuleRefV> decidedBy;
  bool replayed = false;
};
QueryResult queryRuleset(const Ruleset& rs, const std::string& table, const std::string& chain, const Rule& where,
                         const std::string& verdict);

// The interpreter's view of a target label: ACCEPT, DROP, QUEUE or the label itself.
std::string verdictClass(const std::string& label);

}  // namespace nfjit::verifier
