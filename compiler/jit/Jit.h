// The JIT classifier (LLVM 19 ORC). Each chain becomes one native function
// "first rule at or after `from` whose matches hold", found by bit-vector
// search: per packet field, a binary search over the chain's interval
// boundaries gives a precomputed bitset of the rules that admit the value;
// the AND of those bitsets lists the candidates in rule order. What the
// intervals cannot express (interfaces, -f, TCP flags, IPv6 addresses,
// non-contiguous masks) is checked per candidate in generated code, and
// extension matches the JIT cannot lower are called back, in rule order.
// Jumps, targets and counters stay in C++ (JitClassifier::run) with the
// interpreter's traversal, so verdicts and counters are the same.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/interp/Interpreter.h"
#include "compiler/ir/Ruleset.h"
#include "compiler/jit/Key.h"

namespace nfjit::jit {

struct PhaseTime {
  std::string phase;
  double seconds = 0;
};

struct JitStats {
  size_t tables = 0, chains = 0, rules = 0;
  size_t loweredRules = 0;     // rules whose matches are all in native code
  size_t callbackMatches = 0;  // extension matches left to their match()
  size_t dimensions = 0;       // field lookups over all chains
  size_t intervals = 0;        // interval boundaries over all chains
  size_t bitsetRows = 0;       // distinct bitset rows over all chains
  size_t tableBytes = 0;       // boundaries + row indexes + bitsets
  size_t irInstructions = 0;
  std::vector<PhaseTime> phases;
};

struct JitOptions {
  unsigned optLevel = 1;  // LLVM codegen / pass level
};

class Plan;
class Engine;

// A ruleset compiled to native code; not thread-safe (counters, like the interpreter's).
class JitClassifier final : public Classifier {
 public:
  // Throws std::runtime_error when LLVM fails.
  explicit JitClassifier(const Ruleset& rs, JitOptions opts = {});
  ~JitClassifier();
  JitClassifier(const JitClassifier&) = delete;
  JitClassifier& operator=(const JitClassifier&) = delete;

  // Same contract as Interpreter::run.
  TraversalResult run(std::string_view table, Hook hook, EvalContext& ctx) override;
  CounterSet& counters() override { return counters_; }
  const Ruleset& ruleset() const { return rs_; }
  const JitStats& stats() const { return stats_; }

  // First rule of chain (table ti, chain ci) at or after `from` that matches,
  // -1 for none, -2 when a match hot-dropped the packet. For tests/benchmarks.
  int32_t findNext(size_t ti, size_t ci, uint32_t from, EvalContext& ctx);

  // The native search of one chain, for benchmarks: fn(key, from, rt).
  // `rt` may be null only when the chain makes no callbacks.
  using ChainFunction = int32_t (*)(const JitKey*, uint32_t, void*);
  ChainFunction chainFunction(size_t ti, size_t ci) const;
  bool chainCallsBack(size_t ti, size_t ci) const;
  // The key of a packet; false when it takes the slow path.
  bool makeKey(const PacketView& p, JitKey& k) const;

 private:
  struct Impl;
  const Ruleset& rs_;
  CounterSet counters_;
  JitStats stats_;
  std::unique_ptr<Impl> impl_;
};

enum class EmitKind { LlvmIr, Asm, Obj };

// Builds the module for `rs` and writes it as text IR, assembly or an object
// file (for `nfjit compile --emit`). Returns false with `error` set on failure.
bool emitCode(const Ruleset& rs, EmitKind kind, std::string& out, std::string& error, JitStats* stats = nullptr,
              JitOptions opts = {});

}  // namespace nfjit::jit
