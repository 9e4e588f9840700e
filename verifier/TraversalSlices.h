// Cutting a built-in chain's traversal into top-level blocks (a top-level
// rule with its inlined callees) for nfjit diff: two versions of a chain
// mostly hold the same blocks, some moved, added or removed. Each distinct
// block is walked once and both versions become short sequences of block
// outcomes, so the solver compares block orders instead of re-deriving the
// shared rules' first-match chains for each version.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "verifier/ChainModel.h"

namespace nfjit::verifier {

// [begin, end) of each top-level occurrence's subtree, in order.
std::vector<std::pair<size_t, size_t>> topLevelBlocks(const Traversal& t);

// The occurrences [begin, end) (whole top-level subtrees) as a traversal of
// their own whose policy is `fallLabel`: walking it gives, besides the
// decisions inside, the condition that a packet falls out of the end.
Traversal sliceTraversal(const Traversal& t, size_t begin, size_t end, const std::string& fallLabel);

// The slice can only be left by deciding or falling off its end: no
// top-level RETURN or GOTO (in a built-in chain those end the traversal
// with the policy, which a slice would mistake for falling through).
bool leavesOnlyAtEnd(const Traversal& slice);

}  // namespace nfjit::verifier
