// Which occurrences of a traversal have a path box that holds a point, for
// the concrete search: per dimension, the elementary intervals between the
// boxes' bounds and, per interval, a bitset of the occurrences that cover it
// (distinct bitsets stored once). A point's candidates are the AND of one
// row per dimension, so a run skips the occurrences that cannot match it
// without looking at them: on ClassBench's fw1 at 10k rules the linear
// walk over every box had been 70% of `check -Wall`.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "verifier/ChainModel.h"

namespace nfjit::verifier {

class BoxIndex {
 public:
  explicit BoxIndex(const Traversal& tr);
  using Point = std::array<u128, kNumDims>;
  // Bit k of `out`: occurrence k's path box holds p.
  void candidates(const Point& p, std::vector<uint64_t>& out) const;
  // The first set bit of `bits` in [from, to), or `to`.
  static size_t nextSet(const std::vector<uint64_t>& bits, size_t from, size_t to);
  size_t words() const { return words_; }

 private:
  struct Dim {
    std::vector<u128> starts;      // interval k is [starts[k], starts[k + 1])
    std::vector<uint32_t> rowOf;   // per interval
    std::vector<uint64_t> rows;    // words_ per distinct row
  };
  std::array<Dim, kNumDims> dims_;
  size_t words_ = 0;
};

}  // namespace nfjit::verifier
