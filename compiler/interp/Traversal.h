// Netfilter's walk through one table for one packet (ipt_do_table): jumps,
// goto, RETURN, policies, non-terminating targets, counters. Engines differ
// only in how they find the next matching rule, which they supply.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/interp/Interpreter.h"

namespace nfjit {

class RuleSearch {
 public:
  virtual ~RuleSearch() = default;
  // Called once before the walk of table `table`.
  virtual void begin(size_t table, EvalContext& ctx) {}
  // First rule of the chain at or after `from` whose matches all hold;
  // -1 for none, -2 when a match hot-dropped the packet.
  virtual int64_t next(size_t table, size_t chain, size_t from, EvalContext& ctx) = 0;
  // A non-terminating target rewrote the packet.
  virtual void packetChanged(EvalContext& ctx) {}
  // The chain a jump/goto rule targets and the chain of a hook, when the
  // engine has them resolved; -1 makes the traversal look the name up.
  virtual int64_t jumpTarget(size_t table, size_t chain, size_t rule) { return -1; }
  virtual int64_t hookChain(size_t table, Hook hook) { return -1; }
  // Engines whose chains change after construction (rule updates) give the
  // rule at `pos` as their last next() on that chain saw it, and its
  // counters; null: the Ruleset's rule and the CounterSet's entry.
  virtual const Rule* rule(size_t table, size_t chain, size_t pos) { return nullptr; }
  virtual Counters* ruleCounters(size_t table, size_t chain, size_t pos) { return nullptr; }
};

// Chain name → index, per table.
using ChainIndex = std::vector<std::map<std::string, size_t, std::less<>>>;
ChainIndex buildChainIndex(const Ruleset& rs);

TraversalResult traverseTable(const Ruleset& rs, const ChainIndex& index, CounterSet& counters,
                              std::string_view table, Hook hook, EvalContext& ctx, RuleSearch& search);

}  // namespace nfjit
