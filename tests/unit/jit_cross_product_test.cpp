// CrossProduct against the bit-vector AND it replaces: for every
// combination of rows (or a random sample), lookup() is the lowest bit of
// the AND of the rows, or kNoRule when it is empty; the budget refuses.
#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <vector>

#include "compiler/jit/CrossProduct.h"

namespace nfjit::jit {
namespace {

struct Dim {
  std::vector<uint64_t> rows, sums;
  uint32_t count = 0;
};

// `count` distinct-ish random rows over `rules` bits: each bit set with
// probability `density`, so that ANDs are often empty and sometimes not.
Dim randomDim(std::mt19937_64& rng, uint32_t rules, uint32_t count, double density) {
  const uint32_t words = (rules + 63) / 64, sumWords = (words + 63) / 64;
  Dim d;
  d.count = count;
  d.rows.assign(size_t(count) * words, 0);
  d.sums.assign(size_t(count) * sumWords, 0);
  std::bernoulli_distribution bit(density);
  for (uint32_t r = 0; r < count; ++r)
    for (uint32_t i = 0; i < rules; ++i)
      if (bit(rng)) {
        d.rows[size_t(r) * words + i / 64] |= uint64_t(1) << (i % 64);
        d.sums[size_t(r) * sumWords + i / 4096] |= uint64_t(1) << (i / 64 % 64);
      }
  return d;
}

uint32_t expectedFirst(const std::vector<Dim>& dims, const uint32_t* rowOf, uint32_t words) {
  for (uint32_t w = 0; w < words; ++w) {
    uint64_t v = ~uint64_t(0);
    for (size_t d = 0; d < dims.size(); ++d) v &= dims[d].rows[size_t(rowOf[d]) * words + w];
    if (v) return w * 64 + uint32_t(std::countr_zero(v));
  }
  return CrossProduct::kNoRule;
}

void check(uint64_t seed, uint32_t rules, std::vector<uint32_t> counts, double density) {
  std::mt19937_64 rng(seed);
  const uint32_t words = (rules + 63) / 64, sumWords = (words + 63) / 64;
  std::vector<Dim> dims;
  for (uint32_t c : counts) dims.push_back(randomDim(rng, rules, c, density));
  std::vector<RowSet> sets;
  for (const Dim& d : dims) sets.push_back({d.rows.data(), d.sums.data(), d.count});
  CrossProduct cp;
  ASSERT_TRUE(cp.build(sets, rules, words, sumWords, size_t(1) << 26));
  ASSERT_EQ(cp.dims, dims.size());
  std::vector<bool> seen(dims.size());
  for (unsigned k = 0; k < cp.dims; ++k) seen[cp.order[k]] = true;
  for (bool s : seen) ASSERT_TRUE(s) << "every dimension is in the chain";
  std::vector<uint32_t> rowOf(dims.size());
  size_t hits = 0;
  for (int i = 0; i < 20000; ++i) {
    for (size_t d = 0; d < dims.size(); ++d) rowOf[d] = uint32_t(rng() % dims[d].count);
    uint32_t want = expectedFirst(dims, rowOf.data(), words);
    hits += want != CrossProduct::kNoRule;
    ASSERT_EQ(cp.lookup(rowOf.data()), want) << "seed " << seed << " sample " << i;
  }
  EXPECT_GT(hits, 0u) << "the sample met no rule: the test would prove nothing";
}

TEST(CrossProduct, TwoDimensions) { check(1, 100, {17, 23}, 0.3); }
TEST(CrossProduct, FiveDimensionsOneWord) { check(2, 60, {9, 31, 4, 12, 7}, 0.6); }
TEST(CrossProduct, FiveDimensionsManyWords) { check(3, 2048, {40, 60, 3, 25, 8}, 0.7); }
// More than 64 words: the summaries take two words per row.
TEST(CrossProduct, LongRowsWithTwoSummaryWords) { check(4, 4100, {20, 30, 6}, 0.8); }
TEST(CrossProduct, SparseRowsMostlyEmpty) { check(5, 500, {50, 50, 10, 10}, 0.15); }

TEST(CrossProduct, BudgetRefuses) {
  std::mt19937_64 rng(6);
  const uint32_t rules = 128, words = 2, sumWords = 1;
  std::vector<Dim> dims{randomDim(rng, rules, 100, 0.5), randomDim(rng, rules, 100, 0.5)};
  std::vector<RowSet> sets;
  for (const Dim& d : dims) sets.push_back({d.rows.data(), d.sums.data(), d.count});
  CrossProduct cp;
  EXPECT_FALSE(cp.build(sets, rules, words, sumWords, 100 * 100 - 1));
  EXPECT_TRUE(cp.empty());
  EXPECT_TRUE(cp.build(sets, rules, words, sumWords, 100 * 100));
  EXPECT_EQ(cp.entries(), 100u * 100u);
  // One dimension has no chain to build.
  EXPECT_FALSE(cp.build(std::span<const RowSet>(sets.data(), 1), rules, words, sumWords, size_t(1) << 20));
}

}  // namespace
}  // namespace nfjit::jit
