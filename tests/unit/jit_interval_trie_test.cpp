// IntervalTrie against std::upper_bound: the interval of a value is the
// number of bounds <= it, for random and adversarial bound sets, at every
// bound, next to it and at the ends of the range.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "compiler/jit/IntervalTrie.h"

namespace nfjit::jit {
namespace {

using Bounds = std::vector<uint64_t>;
using Strides = std::vector<unsigned>;

uint32_t expected(const Bounds& b, uint64_t v) { return uint32_t(std::upper_bound(b.begin(), b.end(), v) - b.begin()); }

Bounds normalised(Bounds b, uint64_t max) {
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  b.erase(std::remove_if(b.begin(), b.end(), [&](uint64_t v) { return v == 0 || v > max; }), b.end());
  return b;
}

// Checks every bound, its neighbours, the ends and `extra` random values.
void check(const Bounds& raw, unsigned bits, const Strides& strides, std::mt19937_64& rng, size_t extra = 2000) {
  const uint64_t max = (uint64_t(1) << bits) - 1;
  const Bounds b = normalised(raw, max);
  IntervalTrie t;
  ASSERT_TRUE(t.build(b, bits, strides, size_t(1) << 30));
  ASSERT_FALSE(t.empty());
  std::vector<uint64_t> probes{0, 1, max, max - 1, max / 2, max / 2 + 1};
  for (uint64_t v : b) probes.insert(probes.end(), {v - 1, v, v + 1});
  for (size_t i = 0; i < extra; ++i) probes.push_back(rng() & max);
  for (uint64_t v : probes) {
    if (v > max) continue;
    ASSERT_EQ(t.find(uint32_t(v)), expected(b, v)) << "value " << v << ", " << b.size() << " bounds";
    // The stepwise walk the batch search uses gives the same.
    uint32_t node = 0, found = 0;
    for (unsigned l = 0; l < t.levels(); ++l) t.step(l, uint32_t(v), node, found);
    ASSERT_EQ(t.last(uint32_t(v), node, found), expected(b, v)) << "value " << v;
  }
}

const std::vector<Strides> kWide = {{16, 8, 8}, {8, 8, 8, 8}, {12, 12, 8}, {24, 8}, {8, 8, 8, 4, 4}};
const std::vector<Strides> kNarrow = {{8, 8}, {16, 0}, {12, 4}, {4, 4, 4, 4}};

TEST(IntervalTrie, RandomBounds) {
  std::mt19937_64 rng(7);
  for (size_t n : {1, 2, 10, 300, 5000}) {
    Bounds b;
    for (size_t i = 0; i < n; ++i) b.push_back(rng() & 0xffffffffu);
    for (const auto& s : kWide) check(b, 32, s, rng);
    for (auto& v : b) v &= 0xffff;
    for (const auto& s : kNarrow) check(b, 16, s, rng);
  }
}

// Prefix-like bounds crowded into few /16s, as ClassBench addresses are:
// starts and ends (+1) of /32, /24 and odd-length prefixes.
TEST(IntervalTrie, CrowdedPrefixes) {
  std::mt19937_64 rng(11);
  Bounds b;
  for (int i = 0; i < 3000; ++i) {
    uint64_t net = 0x0a000000u | (rng() % 3) << 16;
    unsigned len = 16 + unsigned(rng() % 17);
    uint64_t lo = (net | (rng() & 0xffff)) & ~((uint64_t(1) << (32 - len)) - 1);
    b.push_back(lo);
    b.push_back(lo + (uint64_t(1) << (32 - len)));
  }
  for (const auto& s : kWide) check(b, 32, s, rng);
}

TEST(IntervalTrie, EdgeBounds) {
  std::mt19937_64 rng(3);
  const std::vector<Bounds> sets = {
      {},                                  // one interval
      {1},                                 // the first value alone
      {0xffffffffu},                       // the last value alone
      {0x80000000u},                       // a root-aligned bound
      {0x0a000001u},                       // inside a byte-level node
      {0x0a000100u},                       // aligned to a /24
      {0x00010000u, 0x00010001u},          // a /32 at a /16 start
      {0xfffffffeu, 0xffffffffu},          // the top values
      {1, 2, 3, 0xfffffffdu, 0xfffffffeu}, // both ends dense
  };
  for (const auto& b : sets)
    for (const auto& s : kWide) check(b, 32, s, rng);
  for (const auto& s : kNarrow) {
    check({}, 16, s, rng);
    check({1}, 16, s, rng);
    check({0xffff}, 16, s, rng);
    check({0x100, 0x101, 0xfffe, 0xffff}, 16, s, rng);
  }
}

// Every value of one /24 a bound (256 intervals in one byte-level node,
// the widest offset), and the next /24 half full.
TEST(IntervalTrie, DenseBlock) {
  std::mt19937_64 rng(5);
  Bounds b;
  for (uint64_t v = 0; v < 256; ++v) b.push_back(0xc0a80100u + v);
  for (uint64_t v = 0; v < 256; v += 2) b.push_back(0xc0a80200u + v);
  for (const auto& s : kWide) check(b, 32, s, rng);
  Bounds ports;
  for (uint64_t v = 1; v < 600; ++v) ports.push_back(v);
  for (const auto& s : kNarrow) check(ports, 16, s, rng);
}

TEST(IntervalTrie, BudgetRefuses) {
  Bounds b;
  for (uint64_t v = 1; v < 100000; ++v) b.push_back(v * 40503);
  IntervalTrie t;
  EXPECT_FALSE(t.build(b, 32, {16, 8, 8}, 300 << 10));
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.bytes(), 0u);
  EXPECT_FALSE(t.build(Bounds{}, 32, {16, 8, 8}, 1000));  // the root alone is 256 KiB
  // The size is counted before building: exactly that budget builds, one byte less does not.
  std::mt19937_64 rng(9);
  Bounds c;
  for (int k = 0; k < 400; ++k) c.push_back(0x0a000000u | (rng() & 0x3ffff));
  c = normalised(c, 0xffffffffu);
  ASSERT_TRUE(t.build(c, 32, {16, 8, 8}, size_t(1) << 30));
  const size_t need = t.bytes();
  EXPECT_TRUE(t.build(c, 32, {16, 8, 8}, need));
  EXPECT_EQ(t.bytes(), need);
  EXPECT_FALSE(t.build(c, 32, {16, 8, 8}, need - 1));
  ASSERT_TRUE(t.build(Bounds{5}, 16, {8, 8}, 1 << 12));
  EXPECT_EQ(t.find(4), 0u);
  EXPECT_EQ(t.find(5), 1u);
}

}  // namespace
}  // namespace nfjit::jit
