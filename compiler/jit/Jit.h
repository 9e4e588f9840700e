// The JIT classifier. Each chain is searched by a ChainSearch ("first rule
// at or after `from` whose matches hold"): groups of consecutive rules,
// each a bit-vector search (per field, a branchless search over interval
// boundaries selects a precomputed bitset row; the AND of the rows lists
// the candidates in rule order). What intervals cannot express
// (interfaces, -f, TCP flags, IPv6 addresses, non-contiguous masks) is
// checked per candidate by native code generated with LLVM 19 ORC, and
// extension matches the JIT cannot lower are called back, in rule order.
// Jumps, targets and counters stay in C++ (the interpreter's traversal), so
// verdicts and counters are the same.
//
// Rules can be inserted and deleted while other threads classify: the
// search structure is versioned (see ChainSearch.h, Epoch.h).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/interp/Interpreter.h"
#include "compiler/ir/Ruleset.h"
#include "compiler/jit/ChainSearch.h"
#include "compiler/jit/Key.h"

namespace nfjit::jit {

struct PhaseTime {
  std::string phase;
  double seconds = 0;
};

struct JitStats {
  size_t tables = 0, chains = 0, rules = 0;
  size_t loweredRules = 0;     // rules whose matches are all in native code or tables
  size_t callbackMatches = 0;  // extension matches left to their match()
  size_t groups = 0;           // rule groups over all chains
  size_t dimensions = 0;       // field lookups over all chains
  size_t intervals = 0;        // global intervals over all chains (the 256 direct protocol entries included)
  size_t bitsetRows = 0;       // distinct group rows over all chains
  size_t crossGroups = 0;      // groups answered by cross-product tables
  size_t crossEntries = 0;     // their entries (u16)
  size_t vectorChains = 0;     // chains whose batch search runs in AVX-512 (SearchSimd.h)
  size_t packedChains = 0;     // chains with packed rows (large, cross products over budget)
  size_t tupleChains = 0;      // of those, chains searched through a TupleIndex
  size_t tableBytes = 0;       // every table of the search structures
  size_t residualFunctions = 0;
  size_t irInstructions = 0;
  std::vector<PhaseTime> phases;
};

struct JitOptions {
  unsigned optLevel = 1;       // LLVM codegen / pass level
  uint32_t groupRules = 2048;  // rules per group (64..4096): update cost vs groups per search
  // Chains above this many rules get dense rows with cross products (as
  // smaller chains do) only while all their cross products together take at
  // most largeCrossEntriesPerRule entries per rule; past it they keep packed
  // rows in groups of largeGroupRules. Dense tables of most large chains
  // outgrow the caches and rte_acl's memory (acl1_100k and ipc1_100k: 470-500
  // MB of cross products, 2,300-2,500 entries per rule); packing halves the
  // cost of doubling the group, and half the groups halve the per-interval
  // tables. Where the products stay small (fw1_100k: 540 entries per rule,
  // 131 MB of tables) they search 2.2-2.5x faster than packed rows. 0: packed
  // rows directly.
  size_t packRowsAbove = 32768;
  uint32_t largeGroupRules = 4096;
  size_t largeCrossEntriesPerRule = 1024;
  // The dense groups of such chains, and at least 1/64 of the chain (the
  // vector search takes up to 64 groups). fw1_100k, alternating runs:
  // groups of 1,536 / 1,792 / 2,048 searched 9.3-9.7 / 10.7-11.1 / 8.7-9.9
  // Mpps (smaller cross products per group, more groups per packet).
  uint32_t largeDenseGroupRules = 1792;
  // Entries (u16) of a group's cross-product tables (dense groups only).
  size_t crossEntries = size_t(1) << 23;
  // An update rebuilds a cross product of up to this many entries itself
  // (about 1 ms of CPU per 64k), larger ones in the background.
  size_t updateCrossEntries = size_t(1) << 16;
  // The AVX-512 batch search where the CPU has it; off: the scalar search only.
  bool simd = true;
  // Large IPv4 chains whose rules have no match() callbacks are searched
  // through a TupleIndex (ChainSearch.h) where one applies.
  bool tupleIndex = true;
  // The layout a chain is built with first (ChainSearch falls back to packed
  // rows when its cross products outgrow chainCrossEntries).
  ChainLayout layoutFor(size_t chainRules) const {
    ChainLayout dense{groupRules, false, crossEntries, updateCrossEntries, simd};
    if (chainRules <= packRowsAbove) return dense;
    dense.tupleIndex = tupleIndex;
    if (!largeCrossEntriesPerRule) {
      ChainLayout packed{largeGroupRules, true, 0, 0, simd};
      packed.tupleIndex = tupleIndex;
      return packed;
    }
    dense.groupRules = uint32_t(std::max<size_t>(largeDenseGroupRules, (chainRules + 63) / 64));
    dense.chainCrossEntries = std::max<size_t>(1, chainRules * largeCrossEntriesPerRule);
    dense.packedGroupRules = largeGroupRules;
    return dense;
  }
};

// A ruleset compiled for classification; run() is not thread-safe
// (counters, like the interpreter's).
class JitClassifier final : public Classifier {
 public:
  // Throws std::runtime_error when LLVM fails.
  explicit JitClassifier(const Ruleset& rs, JitOptions opts = {});
  ~JitClassifier();
  JitClassifier(const JitClassifier&) = delete;
  JitClassifier& operator=(const JitClassifier&) = delete;

  // Same contract as Interpreter::run. After insertRule/deleteRule the
  // traversal follows the updated chains: matched rule positions index the
  // chain as updated, and counters() still holds the counters of the
  // Ruleset's own rules (chainCounters() gives a chain's current rules').
  TraversalResult run(std::string_view table, Hook hook, EvalContext& ctx) override;
  CounterSet& counters() override { return counters_; }
  // The counters of the chain's current rules, in order (inserted rules included).
  std::vector<Counters> chainCounters(size_t ti, size_t ci);
  const Ruleset& ruleset() const { return rs_; }
  const JitStats& stats() const { return stats_; }

  // First rule of chain (table ti, chain ci) at or after `from` that matches,
  // -1 for none, -2 when a match hot-dropped the packet. For tests/benchmarks.
  int32_t findNext(size_t ti, size_t ci, uint32_t from, EvalContext& ctx);

  // The search of one chain, for benchmarks and concurrent classification:
  // a thread holds an EpochDomain::Reader of epochs() and searches
  // chainSearch(ti, ci).current() inside a ReadSection. `rt` may be null
  // only when the chain makes no callbacks.
  ChainSearch& chainSearch(size_t ti, size_t ci);
  EpochDomain& epochs();
  bool chainCallsBack(size_t ti, size_t ci) const;
  // The key of a packet; false when it takes the slow path.
  bool makeKey(const PacketView& p, JitKey& k) const;

  // Incremental updates, safe while other threads search: the new rule is
  // at position `pos` of the chain (later rules move by one). The rule is
  // evaluated by data-driven code until the next full build. Not
  // concurrent with each other per chain (a mutex serialises them).
  void insertRule(size_t ti, size_t ci, uint32_t pos, std::shared_ptr<const Rule> rule);
  void deleteRule(size_t ti, size_t ci, uint32_t pos);

 private:
  Counters& countersOf(size_t ti, size_t ci, const Rule* r, const std::shared_ptr<const Rule>& owner);
  struct Impl;
  const Ruleset& rs_;
  CounterSet counters_;
  JitStats stats_;
  std::unique_ptr<Impl> impl_;
};

enum class EmitKind { LlvmIr, Asm, Obj };

// Builds the module of residual checks for `rs` and writes it as text IR,
// assembly or an object file (for `nfjit compile --emit`); `stats` also
// gets the search structure's sizes. Returns false with `error` set on failure.
bool emitCode(const Ruleset& rs, EmitKind kind, std::string& out, std::string& error, JitStats* stats = nullptr,
              JitOptions opts = {});

}  // namespace nfjit::jit
