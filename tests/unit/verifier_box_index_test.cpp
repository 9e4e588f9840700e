// BoxIndex (the concrete search's index over path boxes) against a plain
// Box::contains over every occurrence: random boxes, and points on, just
// inside and just outside their bounds, where an off-by-one would show.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/RandomRuleset.h"
#include "verifier/BoxIndex.h"

namespace nfjit {
namespace {

using testing::Rng;
using verifier::Box;
using verifier::BoxDim;
using verifier::BoxIndex;
using verifier::kNumDims;
using verifier::Occurrence;
using verifier::Traversal;
using verifier::u128;

u128 randomValue(Rng& rng, bool wide) {
  u128 v = rng.below(1u << 16);
  if (wide) v = (v << 64) | rng.below(1u << 30);
  return v;
}

Traversal randomTraversal(Rng& rng, size_t n, bool wide) {
  Traversal tr;
  for (size_t k = 0; k < n; ++k) {
    Occurrence o;
    if (rng.below(20) == 0) {
      o.pathBox = Box::none();
    } else {
      for (int d = 0; d < kNumDims; ++d) {
        if (rng.below(3) == 0) continue;  // the whole range
        u128 a = randomValue(rng, wide), b = randomValue(rng, wide);
        o.pathBox.restrict(BoxDim(d), a < b ? a : b, a < b ? b : a);
      }
      if (rng.below(10) == 0) o.pathBox.restrict(verifier::kDimSrc, ~u128(0) - 3, ~u128(0));  // the top end
    }
    tr.occs.push_back(o);
  }
  return tr;
}

TEST(BoxIndex, CandidatesAreExactlyTheBoxesHoldingThePoint) {
  Rng rng(7);
  size_t checked = 0, held = 0;
  for (int round = 0; round < 40; ++round) {
    const bool wide = round % 2 == 1;  // IPv6-sized values
    const Traversal tr = randomTraversal(rng, 1 + rng.below(300), wide);
    const BoxIndex idx(tr);
    std::vector<uint64_t> cand;
    for (int q = 0; q < 200; ++q) {
      BoxIndex::Point p{};
      const Occurrence& near = tr.occs[rng.below(static_cast<uint32_t>(tr.occs.size()))];
      for (int d = 0; d < kNumDims; ++d) {
        const Box::Iv& iv = near.pathBox.d[static_cast<size_t>(d)];
        // Mostly inside the chosen box (on its bounds), sometimes just outside.
        switch (rng.below(16)) {
          case 0: p[d] = iv.lo - 1; break;  // wraps at 0: the top of the range
          case 1: p[d] = iv.hi + 1; break;
          case 2: p[d] = randomValue(rng, wide); break;
          case 3: p[d] = ~u128(0); break;
          default: p[d] = rng.below(2) ? iv.lo : iv.hi; break;
        }
      }
      idx.candidates(p, cand);
      ASSERT_EQ(cand.size(), idx.words());
      for (size_t k = 0; k < tr.occs.size(); ++k) {
        const bool expected = tr.occs[k].pathBox.contains(p);
        const bool got = (cand[k / 64] >> (k % 64)) & 1;
        ASSERT_EQ(got, expected) << "round " << round << " occurrence " << k;
        held += expected;
        ++checked;
      }
      // nextSet walks exactly the set bits, in order, and stops at `to`.
      size_t at = 0, count = 0;
      while ((at = BoxIndex::nextSet(cand, at, tr.occs.size())) < tr.occs.size()) {
        ASSERT_TRUE(tr.occs[at].pathBox.contains(p));
        ++count, ++at;
      }
      size_t expectedCount = 0;
      for (const auto& o : tr.occs) expectedCount += o.pathBox.contains(p);
      ASSERT_EQ(count, expectedCount);
    }
  }
  // The points must have exercised both answers.
  EXPECT_GT(held, 1000u);
  EXPECT_LT(held, checked / 2);
}

}  // namespace
}  // namespace nfjit
