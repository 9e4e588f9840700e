// Relations between rules of one built-in chain traversal (Al-Shaer style
// anomalies, decided exactly with Z3):
//   -Wredundant      removing the rule changes no verdict for any packet;
//   -Wconflict       the rule partially overlaps an earlier one with a
//                    different action (the overlap gets the earlier action);
//   -Wgeneralization the rule strictly contains an earlier one with a
//                    different action (the earlier one is an exception).
// Candidate pairs are pruned with the rules' boxes before the solver sees them.
#pragma once
#include "verifier/Verifier.h"

namespace nfjit::verifier {

// The -W names this file implements, and whether `check` runs them unasked.
struct AnomalyKind {
  const char* name;
  bool onByDefault;
  const char* description;
};
const std::vector<AnomalyKind>& anomalyKinds();

// Appends the findings of the analyses named in opts.analyses. `r` holds the
// base findings already: rules reported shadowed or unsatisfiable, and the
// rules of unreachable chains, are not analysed again.
void findAnomalies(const Ruleset& rs, const CheckOptions& opts, CheckResult& r);

}  // namespace nfjit::verifier
