#include "verifier/DiffProbes.h"

#include "verifier/ConcreteSearch.h"

namespace nfjit::verifier {

void probeChangedOccurrences(const ChainModel& m, const Traversal& tr, const std::vector<bool>& changed,
                             size_t maxProbes, const std::function<bool(const Witness&)>& visit) {
  ConcreteSearch search(m, m.ruleset().family);
  size_t probes = 0;
  for (size_t i = 0; i < tr.occs.size() && probes < maxProbes; ++i) {
    const Occurrence& o = tr.occs[i];
    const bool decides = o.action == Action::Terminal ||
                         (o.parent < 0 && (o.action == Action::Return || o.action == Action::Goto));
    if (!changed[i] || !decides || o.pathBox.empty) continue;
    ++probes;
    // Stateful matches off: the replay evaluates them from empty state.
    if (search.reaches(tr, i, false) && !visit(search.lastPacket())) return;
  }
}

}  // namespace nfjit::verifier
