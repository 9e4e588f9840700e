// A rule group's exact answer in a few table loads: recursive flow
// classification (Gupta & McKeown) over the group's bit-vector rows.
//
// Each dimension already maps a packet to one of the group's distinct rows.
// The rows are combined in a chain: step 0 maps (row of dims[0], row of
// dims[1]) to a class (a distinct AND of the two rows), step k maps (class,
// row of dims[k+1]) to the next class, and the last step's table holds the
// first rule of the AND of every row instead of a class. A search is then
// one load per step instead of AND-ing the rows' summaries and words (and
// never meets a summary bit whose words do not intersect).
//
// The tables are a product of row and class counts: they are built only
// where they fit a budget of entries, otherwise the group keeps its
// bit-vector search alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nfjit::jit {

// The distinct rows of one dimension of a group: `count` rows of `words`
// words each (dense), with their summaries (`sumWords` each: bit w = word w
// is non-zero).
struct RowSet {
  const uint64_t* rows = nullptr;
  const uint64_t* sums = nullptr;
  uint32_t count = 0;
};

struct CrossProduct {
  static constexpr unsigned kMaxDims = 5;
  static constexpr uint16_t kNoRule = 0xffff;

  unsigned dims = 0;                 // 0: not built
  uint8_t order[kMaxDims] = {};      // the dimensions in chain order
  uint32_t width[kMaxDims - 1] = {};  // step k's rows of order[k + 1]
  std::vector<uint16_t> table[kMaxDims - 1];  // step k: [class * width[k] + row], and one entry of padding

  bool empty() const { return dims == 0; }
  size_t entries() const;
  size_t bytes() const { return entries() * sizeof(uint16_t); }

  // The group's first rule whose every dimension allows the packet, or
  // kNoRule; rowOf[d]: the packet's row of dimension d.
  uint32_t lookup(const uint32_t* rowOf) const {
    uint32_t c = rowOf[order[0]];
    for (unsigned k = 0; k + 1 < dims; ++k) c = table[k][size_t(c) * width[k] + rowOf[order[k + 1]]];
    return c;
  }

  // Builds the chain over `dims` (2..kMaxDims) of a group of `rules` rules
  // (`words` = ceil(rules / 64) words per row, `sumWords` summary words),
  // in the order whose tables have the fewest entries. Returns false (and
  // stays empty) when the tables would pass `budgetEntries` entries or a
  // step would have more than 65,535 classes.
  bool build(std::span<const RowSet> rows, uint32_t rules, uint32_t words, uint32_t sumWords,
             size_t budgetEntries);
};

}  // namespace nfjit::jit
