// nfjit-bench update: rules of chain CB inserted and deleted while a
// classifier thread keeps searching the trace.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir/Ruleset.h"
#include "compiler/jit/Key.h"

namespace nfjit::bench {

struct UpdateBenchInput {
  const Ruleset* rs;
  std::string rulesText;  // parsed again for the rules to insert
  size_t table, chain;
  std::vector<jit::JitKey> keys;    // the trace
  std::vector<int32_t> want, ids;   // ground truth; rule id of each CB rule
  uint32_t groupRules;
  size_t ops;
};

// Prints the report; returns the exit code.
int runUpdateBench(const UpdateBenchInput& in);

}  // namespace nfjit::bench
