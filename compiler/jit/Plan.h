// The classifier plan, computed without LLVM: every chain's rules lowered
// (field sets for the search, residual tests, callback points) and the
// interface patterns the key carries.
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/ir/Ruleset.h"
#include "compiler/jit/Key.h"
#include "compiler/jit/Lower.h"

namespace nfjit::jit {

struct ChainPlan {
  size_t table = 0, chain = 0;
  uint32_t id = 0;  // global chain id (callback argument)
  std::vector<LoweredRule> lowered;
};

class Plan {
 public:
  explicit Plan(const Ruleset& rs);
  Family family;
  IfacePatterns ifaces;
  std::vector<ChainPlan> chains;  // every chain of every table, in order
  size_t loweredRules = 0, callbackMatches = 0;
};

}  // namespace nfjit::jit
