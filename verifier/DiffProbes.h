// Concrete probes for nfjit diff: a packet that reaches a changed deciding
// occurrence of one version is a candidate difference, settled by replaying
// it through both versions. Differences found this way need no solver call,
// and when every verdict pair is found, neither does the proof that none is
// left (TUM's 900-box changes: 6 pair queries of ~1 s each, plus witnesses).
#pragma once
#include <functional>
#include <vector>

#include "verifier/ChainModel.h"
#include "verifier/Witness.h"

namespace nfjit::verifier {

// Calls `visit` with a packet that reaches and matches each changed
// occurrence that decides (a terminal target, a top-level RETURN or GOTO),
// in traversal order, at most `maxProbes` times, until it returns false.
void probeChangedOccurrences(const ChainModel& m, const Traversal& tr, const std::vector<bool>& changed,
                             size_t maxProbes, const std::function<bool(const Witness&)>& visit);

}  // namespace nfjit::verifier
