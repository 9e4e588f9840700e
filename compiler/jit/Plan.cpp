#include "compiler/jit/Plan.h"

namespace nfjit::jit {

Plan::Plan(const Ruleset& rs) : family(rs.family) {
  uint32_t id = 0;
  for (size_t ti = 0; ti < rs.tables.size(); ++ti)
    for (size_t ci = 0; ci < rs.tables[ti].chains.size(); ++ci) {
      ChainPlan cp;
      cp.table = ti;
      cp.chain = ci;
      cp.id = id++;
      for (const Rule& r : rs.tables[ti].chains[ci].rules) {
        cp.lowered.push_back(lowerRule(family, r, ifaces, callbackMatches));
        if (cp.lowered.back().plan.callbackFrom == kNoCallback) ++loweredRules;
      }
      chains.push_back(std::move(cp));
    }
}

}  // namespace nfjit::jit
