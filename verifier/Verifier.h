// The static analyser (Z3): `nfjit check`, `nfjit diff` and `nfjit query`.
// Rulesets are lowered to formulas over one symbolic packet
// (verifier/Lowering.h), each built-in chain becomes an exact verdict
// function with user chains inlined (verifier/ChainModel.h), and every
// finding carries a witness packet replayed through the reference
// interpreter (verifier/Witness.h).
#pragma once
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/ir/Ruleset.h"
#include "runtime/pipeline/HookPipeline.h"
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
  // Overlap findings name at most a few related rules; this many more were left out.
  size_t moreRelated = 0;
  // A folded note on a stateful rule that may block everything after it:
  // the rules possibly shadowed only through it (all of them), and a few of
  // their own findings, with witnesses, as examples.
  std::vector<RuleRefV> folded;
  std::vector<Finding> examples;
};

struct CheckOptions {
  // Called now and then on long runs: (rules done, rules total).
  std::function<void(size_t, size_t)> progress;
  // Analyses beyond shadowed / unsatisfiable / unreachable-chain (always on),
  // by -W name: "redundant", "conflict", "generalization"
  // (verifier/Anomalies.h). None unless asked for; the command line turns
  // on "redundant".
  std::set<std::string> analyses;
  size_t maxRelated = 3;         // earlier rules named per overlap finding
  size_t overlapBudget = 20000;  // solver calls for overlap pairs before summarising the rest
  // The host replay simulates (--in-iface, --out-iface, --local): witnesses
  // then take the same path through `nfjit replay` (verifier/HostModel.h).
  std::optional<HostModel> host;
  // Rules -Wredundant hands to the solver before it summarises the rest
  // (each costs a walk of its chain restricted to the rule's box).
  size_t redundantBudget = 1000;
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

namespace nfjit::verifier {

// diff with statistics (nfjit-verify-bench).
struct DiffStats {
  size_t solverCalls = 0;
  size_t identicalChains = 0;  // decided equal without the solver (same rules, same order)
  size_t timeouts = 0;         // queries the solver gave up on (their chains are not definite)
  size_t probed = 0;           // differences found by concrete probes, without the solver
  size_t regions = 0;          // changed regions the solver compared the versions in
};
std::vector<ChainDiff> diffRulesets(const Ruleset& oldRs, const Ruleset& newRs, const std::string& table,
                                    DiffStats* stats);

}  // namespace nfjit::verifier

namespace nfjit::verifier {

// diff and query restricted to one host (--in-iface, --out-iface, --local,
// --route; verifier/HostModel.h): every witness then satisfies what `nfjit
// replay` with the same options guarantees at the chain's hook, so its
// arrival form (arrivalForm) takes that chain's path when replayed.
struct DiffOptions {
  std::optional<HostModel> host;
};
std::vector<ChainDiff> diffRulesets(const Ruleset& oldRs, const Ruleset& newRs, const std::string& table,
                                    DiffStats* stats, const DiffOptions& opts);
QueryResult queryRuleset(const Ruleset& rs, const std::string& table, const std::string& chain, const Rule& where,
                         const std::string& verdict, const std::optional<HostModel>& host);

}  // namespace nfjit::verifier
