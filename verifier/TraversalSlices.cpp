#include "verifier/TraversalSlices.h"

namespace nfjit::verifier {

std::vector<std::pair<size_t, size_t>> topLevelBlocks(const Traversal& t) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t i = 0; i < t.occs.size(); i = t.occs[i].calleeEnd) out.push_back({i, t.occs[i].calleeEnd});
  return out;
}

Traversal sliceTraversal(const Traversal& t, size_t begin, size_t end, const std::string& fallLabel) {
  Traversal s;
  s.table = t.table;
  s.chain = t.chain;
  s.hook = t.hook;
  s.policyLabel = fallLabel;
  s.occs.assign(t.occs.begin() + static_cast<long>(begin), t.occs.begin() + static_cast<long>(end));
  for (Occurrence& o : s.occs) {
    if (o.parent >= 0) o.parent -= static_cast<int>(begin);
    o.calleeEnd -= begin;  // every occurrence's subtree ends after itself
  }
  return s;
}

bool leavesOnlyAtEnd(const Traversal& slice) {
  for (const Occurrence& o : slice.occs)
    if (o.parent < 0 && (o.action == Action::Return || o.action == Action::Goto)) return false;
  return true;
}

}  // namespace nfjit::verifier
