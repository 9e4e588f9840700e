// The verdict of a built-in chain as a function of the symbolic packet.
// User chains are inlined at every jump/goto ("occurrences"), so each rule
// occurrence has an exact condition "the packet reaches it", built as a
// DAG in traversal order. A walk can be restricted to the occurrences whose
// boxes meet a given box: the others cannot match any packet in it, which
// keeps per-rule queries small on large rulesets.
#pragma once
#include <z3++.h>

#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/Ruleset.h"
#include "verifier/Lowering.h"
#include "verifier/Witness.h"

namespace nfjit::verifier {

enum class Action : uint8_t { Continue, Terminal, Return, Jump, Goto };

struct Occurrence {
  size_t table = 0, chain = 0, rule = 0;
  int parent = -1;        // the jump/goto occurrence that entered this chain
  size_t calleeEnd = 0;   // jump/goto: the callee's occurrences are (this, calleeEnd)
  Action action = Action::Continue;
  std::string label;      // Terminal: ACCEPT, DROP, QUEUE or the target's name
  Box pathBox;            // the rule's box within its callers' boxes
};

struct Traversal {
  size_t table = 0, chain = 0;
  Hook hook = Hook::LocalIn;
  std::string policyLabel;  // ACCEPT or DROP
  std::vector<Occurrence> occs;
};

struct WalkOptions {
  // Define mode: every intermediate condition gets a named variable whose
  // definition is asserted into this solver once, so one incremental solver
  // answers "is occurrence i reached and matched?" by assumptions alone.
  z3::solver* define = nullptr;
  int stopAt = -1;            // stop at this occurrence and report its reach condition
  const Box* filter = nullptr;
  bool guards = false;        // guard every occurrence with an assumption literal
  // Whole-path walks (verifier/PathModel.h) start from the state earlier
  // chains left: the mark on entry (default pkt.mark), the packet's fields
  // as rewritten before (substFrom[i] is seen as substTo[i]: the destination
  // after DNAT, the TTL before the forward decrement) and the fields earlier
  // targets changed in ways not modelled. Unset: the plain chain.
  std::optional<z3::expr> entryMark;
  const z3::expr_vector* substFrom = nullptr;
  const z3::expr_vector* substTo = nullptr;
  uint32_t entryHavoc = 0;
};

struct WalkResult {
  std::optional<z3::expr> reach;       // stopAt: the packet reaches the occurrence
  std::optional<z3::expr> matchAtStop; // stopAt: its match (with the mark as changed so far)
  std::vector<std::pair<std::string, z3::expr>> decided;  // label -> condition (policy included)
  std::vector<int> decidedAt;          // per `decided`: its occurrence, -1 for the policy
  std::optional<z3::expr> exitMark;    // the mark when the packet leaves the chain (any verdict)
  uint32_t exitHavoc = 0;              // entryHavoc plus what this chain's unknown targets changed
  std::vector<UnknownMatch> unknowns;  // unknown matches on the way (and at stopAt)
  std::vector<std::pair<z3::expr, int>> guards;  // literal, occurrence
  // Define mode: per occurrence, the variables for "reached" and "matches".
  std::vector<z3::expr> activeAt, matchAt;
};

class ChainModel {
 public:
  // `tag` keeps variable names apart when two rulesets share one solver.
  // With tagByText, a rule's unknown matches are named after its canonical
  // text, so identical rules in two rulesets (diff) share them.
  ChainModel(z3::context& c, const Ruleset& rs, const SymPacket& pkt, std::string tag, bool tagByText = false);
  const Ruleset& ruleset() const { return rs_; }
  const std::vector<Traversal>& traversals() const { return trav_; }
  const LoweredRule& lowered(size_t table, size_t chain, size_t rule) const {
    return lowered_[table][chain][rule];
  }
  const TargetEffect& effect(size_t table, size_t chain, size_t rule) const { return effects_[table][chain][rule]; }
  // Occurrences in all traversals together.
  size_t occurrences() const { return total_; }
  WalkResult walk(const Traversal& t, const WalkOptions& opt) const;
  // The condition that the traversal ends with `label`.
  z3::expr verdict(const WalkResult& w, const std::string& label) const;
  const SymPacket& packet() const { return pkt_; }
  // Records in `w` what model `m` assumes each unparsed match does.
  void assumeUnparsed(const z3::model& m, Witness& w) const;

 private:
  void flatten(Traversal& t, size_t table, size_t chain, int parent, const Box& box, int depth);
  z3::context& c_;
  const Ruleset& rs_;
  const SymPacket& pkt_;
  std::string tag_;
  std::vector<std::vector<std::vector<LoweredRule>>> lowered_;
  std::vector<std::vector<std::vector<TargetEffect>>> effects_;
  std::vector<Traversal> trav_;
  size_t total_ = 0;
};

std::string targetLabel(const Target& t);

}  // namespace nfjit::verifier
