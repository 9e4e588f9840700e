// The batched search (AVX-512 and scalar) against the one-packet search
// ChainSearch::find, on chains of specific rules whose first matches spread
// over every group and often stop at a rule with residual checks
// (interfaces, TCP flags) that fails, so that every way out of a vector
// block is taken: no rule, a clean rule, a residual check, the next group.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <set>
#include <sstream>

#include "compiler/jit/Jit.h"
#include "compiler/jit/SearchSimd.h"
#include "compiler/jit/TupleIndex.h"
#include "runtime/packet/PacketParser.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RandomRuleset.h"
#include "tests/support/RulesetFixture.h"

namespace nfjit {
namespace {

using testing::PacketSpec;
using testing::Rng;

struct Shape {
  Family family = Family::IPv4;
  bool ports = true;  // rules constrain protocol and ports (else addresses only: 2 dimensions)
};

// A rule's fields; a packet made from a rule matches its fields (its
// interface and TCP flags only half of the time).
struct RuleSpec {
  int src = -1, dst = -1;  // -1: any
  int proto = 0;           // 0: any, else 6 or 17
  int dportLo = -1, dportHi = -1, sport = -1;
  bool synOnly = false;
  int iface = -1;
};

std::string srcText(Family f, int src) {
  const std::string a = std::to_string(src / 32), b = std::to_string(src % 32);
  return f == Family::IPv4 ? "10." + a + "." + b : "2001:db8:" + a + ":" + b;
}
std::string dstText(Family f, int dst) {
  return (f == Family::IPv4 ? "192.0.2." : "2001:db8:ff::") + std::to_string(dst);
}

RuleSpec randomSpec(Rng& rng, const Shape& s) {
  RuleSpec r;
  if (!s.ports || !rng.chance(5)) r.src = int(rng.below(128));
  if (!rng.chance(10)) r.dst = int(rng.below(64));
  if (s.ports && !rng.chance(5)) {
    r.proto = rng.chance(60) ? 6 : 17;
    if (!rng.chance(10)) r.dportLo = int(rng.below(60)), r.dportHi = r.dportLo + int(rng.below(3));
    if (rng.chance(20)) r.sport = 1000 + int(rng.below(4));
    r.synOnly = r.proto == 6 && rng.chance(20);
  }
  if (rng.chance(20)) r.iface = int(rng.below(2));
  return r;
}

std::string ruleText(const RuleSpec& r, Family f) {
  std::ostringstream t;
  if (r.src >= 0) t << " -s " << srcText(f, r.src) << (f == Family::IPv4 ? ".0/24" : "::/64");
  if (r.dst >= 0) t << " -d " << dstText(f, r.dst) << (f == Family::IPv4 ? "/32" : "/128");
  if (r.proto) t << (r.proto == 6 ? " -p tcp -m tcp" : " -p udp -m udp");
  if (r.dportLo >= 0) t << " --dport " << r.dportLo << ":" << r.dportHi;
  if (r.sport >= 0) t << " --sport " << r.sport;
  if (r.synOnly) t << " --tcp-flags SYN,ACK SYN";
  if (r.iface >= 0) t << " -i in" << r.iface;
  return t.str();
}

std::vector<uint8_t> packetFor(Rng& rng, const RuleSpec& r, Family f) {
  PacketSpec p;
  p.family = f;
  p.src = srcText(f, r.src >= 0 ? r.src : int(rng.below(128))) + (f == Family::IPv4 ? ".7" : "::7");
  p.dst = dstText(f, r.dst >= 0 ? r.dst : int(rng.below(64)));
  p.proto = uint8_t(r.proto ? r.proto : rng.chance(50) ? 6 : 17);
  p.sport = uint16_t(r.sport >= 0 ? r.sport : 2000);
  p.dport = uint16_t(r.dportLo >= 0 ? r.dportLo + int(rng.below(unsigned(r.dportHi - r.dportLo + 1))) : rng.below(64));
  p.tcpFlags = rng.chance(50) ? 0x02 : 0x12;
  return testing::buildPacket(p);
}

struct Outcome {
  size_t groups = 0, crossGroups = 0, groupsHit = 0, residualHits = 0;
  bool simd = false, simdCross = false, simdPacked = false;
  size_t tupleTables = 0;  // the chain's TupleIndex (0: none)
};

// Builds chain c of `rules` rules, searches `packets` packets in batches
// with and without the vector stages and one by one, and expects the same
// first rule from all three.
// halfCross: the cross-product budget is set so that about half of the
// groups get one.
// againstInterpreter: also the JIT's first rule (findNext, with its
// residual functions) against the interpreter's, for the first 500 packets.
Outcome compare(const Shape& shape, uint64_t seed, size_t rules, jit::JitOptions opts, size_t packets = 3000,
                bool halfCross = false, bool againstInterpreter = false) {
  Rng rng(seed);
  std::ostringstream text;
  text << "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:c - [0:0]\n-A FORWARD -j c\n";
  std::vector<RuleSpec> specs;
  std::vector<std::string> lines;
  for (size_t i = 0; i < rules; ++i) {
    specs.push_back(randomSpec(rng, shape));
    lines.push_back(ruleText(specs.back(), shape.family));
  }
  for (const auto& l : lines) text << "-A c" << l << "\n";
  text << "COMMIT\n";
  Ruleset vecRs = testsupport::parseRules(text.str(), shape.family);
  Ruleset scalarRs = testsupport::parseRules(text.str(), shape.family);
  if (halfCross) {
    Ruleset probeRs = testsupport::parseRules(text.str(), shape.family);
    jit::JitClassifier probe(probeRs, opts);
    jit::EpochDomain::Reader r(probe.epochs());
    jit::ReadSection section(r);
    std::vector<size_t> entries;
    for (const auto& g : probe.chainSearch(0, size_t(probeRs.tables[0].findChain("c") - probeRs.tables[0].chains.data())).current()->groups) entries.push_back(g->cross.entries());
    std::sort(entries.begin(), entries.end());
    opts.crossEntries = entries[entries.size() / 2];
  }
  opts.simd = true;
  jit::JitClassifier vec(vecRs, opts);
  opts.simd = false;
  jit::JitClassifier scalar(scalarRs, opts);
  const size_t ci = size_t(vecRs.tables[0].findChain("c") - vecRs.tables[0].chains.data());
  EXPECT_FALSE(vec.chainCallsBack(0, ci));

  std::vector<jit::JitKey> keys;
  Interpreter interp(scalarRs);
  for (size_t i = 0; i < packets; ++i) {
    // Mostly packets made from a rule anywhere in the chain, some from none.
    RuleSpec none;
    std::vector<uint8_t> bytes = packetFor(rng, rng.chance(90) ? specs[rng.below(specs.size())] : none, shape.family);
    PacketView p;
    EXPECT_EQ(parseL3(shape.family, bytes.data(), uint32_t(bytes.size()), p), L3Status::Ok);
    p.inIface = rng.chance(50) ? "in0" : "in1";
    keys.emplace_back();
    EXPECT_TRUE(vec.makeKey(p, keys.back()));
    if (againstInterpreter && i < 500) {
      EvalContext ictx{p}, jctx{p};
      int32_t want = -1;
      for (const RuleRef& m : interp.run("filter", Hook::Forward, ictx).matched)
        if (!m.isPolicy && m.chain == ci) {
          want = int32_t(m.rule);
          break;
        }
      EXPECT_EQ(vec.findNext(0, ci, 0, jctx), want) << "packet " << i;
    }
  }
  jit::EpochDomain::Reader vr(vec.epochs()), sr(scalar.epochs());
  jit::ReadSection vs(vr), ss(sr);
  const jit::Snapshot& v = *vec.chainSearch(0, ci).current();
  const jit::Snapshot& s = *scalar.chainSearch(0, ci).current();
  std::vector<int32_t> gotVec(keys.size()), gotScalar(keys.size());
  // An odd count, so that the last block is partial.
  const size_t n = keys.size() - 5;
  jit::ChainSearch::findBatch(v, keys.data(), n, gotVec.data(), nullptr);
  jit::ChainSearch::findBatch(s, keys.data(), n, gotScalar.data(), nullptr);
  Outcome o{v.groups.size(), v.crossGroups, 0, 0, v.simd, v.simdCross, v.simdPacked, v.tuples ? v.tuples->tables() : 0};
  std::set<size_t> hit;
  size_t failures = 0;
  for (size_t i = 0; i < n && failures < 5; ++i) {
    const int32_t want = jit::ChainSearch::find(v, keys[i], 0, nullptr);
    if (gotVec[i] != want || gotScalar[i] != want) {
      ADD_FAILURE() << "packet " << i << ": find " << want << ", vector batch " << gotVec[i] << ", scalar batch "
                    << gotScalar[i];
      ++failures;
    }
    if (want < 0) continue;
    hit.insert(v.groupOf(uint32_t(want)));
    const std::string& line = lines[size_t(want)];
    o.residualHits += line.find(" -i ") != std::string::npos || line.find("--tcp-flags") != std::string::npos;
  }
  o.groupsHit = hit.size();
  // A chain searched through its TupleIndex has no vector tables.
  EXPECT_EQ(v.simd, !v.tuples && jit::simd::available());
  EXPECT_FALSE(s.simd);
  return o;
}

jit::JitOptions groupsOf(uint32_t rules) {
  jit::JitOptions o;
  o.groupRules = o.largeGroupRules = rules;
  return o;
}

// A single group: its cross product answers alone.
TEST(JitBatch, OneGroupIPv4) {
  Outcome o = compare({}, 1, 900, groupsOf(2048));
  EXPECT_EQ(o.groups, 1u);
  EXPECT_EQ(o.simdCross, o.simd);
  EXPECT_GT(o.residualHits, 50u);
}
TEST(JitBatch, OneGroupIPv6) {
  Outcome o = compare({Family::IPv6}, 2, 900, groupsOf(2048));
  EXPECT_EQ(o.groups, 1u);
  EXPECT_GT(o.residualHits, 50u);
}
// Sixteen groups, every one with a cross product: rounds over the groups.
TEST(JitBatch, ManyGroupsIPv4) {
  Outcome o = compare({}, 3, 1024, groupsOf(64));
  EXPECT_EQ(o.groups, 16u);
  EXPECT_EQ(o.crossGroups, 16u);
  EXPECT_EQ(o.simdCross, o.simd);
  EXPECT_GE(o.groupsHit, 12u);
  EXPECT_GT(o.residualHits, 50u);
}
TEST(JitBatch, ManyGroupsIPv6) {
  Outcome o = compare({Family::IPv6}, 4, 1024, groupsOf(64));
  EXPECT_EQ(o.groups, 16u);
  EXPECT_GE(o.groupsHit, 12u);
}
// Two dimensions (addresses only).
TEST(JitBatch, AddressesOnly) {
  Outcome o = compare({Family::IPv4, false}, 5, 700, groupsOf(128));
  EXPECT_GE(o.groupsHit, 4u);
}
// Some groups over the cross-product budget: those lanes leave the vector rounds.
TEST(JitBatch, MixedCrossProducts) {
  Outcome o = compare({}, 6, 1024, groupsOf(128), 3000, true);
  EXPECT_GT(o.crossGroups, 0u);
  EXPECT_LT(o.crossGroups, o.groups);
  EXPECT_GE(o.groupsHit, 6u);
}
// Every chain "large": dense groups of 64 while their cross products fit
// largeCrossEntriesPerRule, else packed rows in groups of 256.
jit::JitOptions largeChains(size_t crossEntriesPerRule) {
  jit::JitOptions opts = groupsOf(64);
  opts.largeDenseGroupRules = 64;
  opts.largeGroupRules = 256;
  opts.packRowsAbove = 0;
  opts.largeCrossEntriesPerRule = crossEntriesPerRule;
  opts.tupleIndex = false;
  return opts;
}
// A chain above packRowsAbove whose cross products outgrow their budget is
// built again with packed rows in groups of largeGroupRules; its residual
// functions (rules with -i and --tcp-flags) must follow those groups.
TEST(JitBatch, LargeChainOverCrossBudgetPacksRows) {
  Outcome o = compare({}, 9, 1024, largeChains(1), 3000, false, true);
  EXPECT_EQ(o.groups, 4u);
  EXPECT_EQ(o.crossGroups, 0u);
  EXPECT_GT(o.residualHits, 50u);
}
// Within the budget the large chain keeps dense groups with cross products.
TEST(JitBatch, LargeChainWithinCrossBudgetKeepsThem) {
  Outcome o = compare({}, 10, 1024, largeChains(jit::JitOptions{}.largeCrossEntriesPerRule), 3000, false, true);
  EXPECT_EQ(o.groups, 16u);
  EXPECT_EQ(o.crossGroups, 16u);
  EXPECT_EQ(o.simdCross, o.simd);
  EXPECT_GT(o.residualHits, 50u);
}
// More than 64 groups (two mask words): the scalar search, vector option or not.
TEST(JitBatch, MoreThan64Groups) {
  Outcome o = compare({}, 7, 80 * 64, groupsOf(64), 2000);
  EXPECT_EQ(o.groups, 80u);
  EXPECT_FALSE(o.simdCross);
  EXPECT_GE(o.groupsHit, 40u);
}
// Packed rows (no cross products): vector rounds over each packet's groups
// and their first candidate words (SearchSimd.h packedBlock).
jit::JitOptions packedRows() {
  jit::JitOptions opts = groupsOf(256);
  opts.packRowsAbove = 0;
  opts.largeCrossEntriesPerRule = 0;
  opts.tupleIndex = false;
  return opts;
}
TEST(JitBatch, PackedRowsIPv4) {
  Outcome o = compare({}, 8, 1024, packedRows());
  EXPECT_EQ(o.crossGroups, 0u);
  EXPECT_EQ(o.simdPacked, o.simd);
  EXPECT_GE(o.groupsHit, 3u);
  EXPECT_GT(o.residualHits, 50u);
}
TEST(JitBatch, PackedRowsIPv6) {
  Outcome o = compare({Family::IPv6}, 11, 1024, packedRows());
  EXPECT_EQ(o.simdPacked, o.simd);
  EXPECT_GE(o.groupsHit, 3u);
}

// A large IPv4 chain without match() callbacks: its TupleIndex, built
// instead of the dense attempt, against the interpreter (with the residual
// functions of -i and --tcp-flags rules) and its batch against find().
TEST(JitBatch, TupleIndexInsteadOfDenseRows) {
  jit::JitOptions opts = largeChains(jit::JitOptions{}.largeCrossEntriesPerRule);
  opts.tupleIndex = true;
  Outcome o = compare({}, 12, 1024, opts, 3000, false, true);
  EXPECT_GT(o.tupleTables, 1u);
  EXPECT_EQ(o.crossGroups, 0u);
  EXPECT_GE(o.groupsHit, 3u);
  EXPECT_GT(o.residualHits, 50u);
}
TEST(JitBatch, TupleIndexAddressesOnly) {
  jit::JitOptions opts = packedRows();
  opts.tupleIndex = true;
  Outcome o = compare({Family::IPv4, false}, 13, 2000, opts, 3000, false, true);
  EXPECT_GT(o.tupleTables, 1u);
  EXPECT_GE(o.groupsHit, 6u);
}
// IPv6 addresses are key tests, not fields: no TupleIndex.
TEST(JitBatch, NoTupleIndexForIPv6) {
  jit::JitOptions opts = packedRows();
  opts.tupleIndex = true;
  Outcome o = compare({Family::IPv6}, 14, 1024, opts);
  EXPECT_EQ(o.tupleTables, 0u);
  EXPECT_EQ(o.simdPacked, o.simd);
}

// Prefixes spread over the whole address space: a trie over the chain's
// 8k+ bounds per address would pass its budget, so the search starts from
// a radix table (ChainDim::radix). Packets at both ends of rules' prefixes
// and one past them, against the interpreter, through the one-packet
// search and both batch searches.
TEST(JitBatch, RadixSearchAtPrefixEnds) {
  Rng rng(15);
  struct Prefix {
    uint32_t lo, hi;
  };
  auto prefix = [&] {
    const unsigned len = 20 + unsigned(rng.below(13));
    const uint32_t mask = len == 32 ? ~0u : ~(~0u >> len);
    const uint32_t lo = uint32_t(rng.below(uint64_t(1) << 32)) & mask;
    return Prefix{lo, lo | ~mask};
  };
  auto text = [](const Prefix& p) {
    const uint32_t a = p.lo;
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
           "." + std::to_string(a & 255) + "/" + std::to_string(32 - std::bit_width(p.hi - p.lo));
  };
  std::ostringstream rules;
  rules << "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:c - [0:0]\n-A FORWARD -j c\n";
  std::vector<std::pair<Prefix, Prefix>> specs;
  for (int i = 0; i < 5000; ++i) {
    specs.push_back({prefix(), prefix()});
    rules << "-A c -s " << text(specs.back().first) << " -d " << text(specs.back().second) << " -p tcp -j ACCEPT\n";
  }
  rules << "COMMIT\n";
  Ruleset vecRs = testsupport::parseRules(rules.str(), Family::IPv4);
  Ruleset scalarRs = testsupport::parseRules(rules.str(), Family::IPv4);
  jit::JitOptions opts;
  jit::JitClassifier vec(vecRs, opts);
  opts.simd = false;
  jit::JitClassifier scalar(scalarRs, opts);
  const size_t ci = size_t(vecRs.tables[0].findChain("c") - vecRs.tables[0].chains.data());
  jit::EpochDomain::Reader vr(vec.epochs()), sr(scalar.epochs());
  jit::ReadSection vs(vr), ss(sr);
  const jit::Snapshot& v = *vec.chainSearch(0, ci).current();
  const jit::Snapshot& s = *scalar.chainSearch(0, ci).current();
  ASSERT_EQ(v.dims.size(), 3u);  // src, dst, proto
  EXPECT_FALSE(v.dims[0].radix.empty());
  EXPECT_FALSE(v.dims[1].radix.empty());
  EXPECT_LT(v.dims[1].steps, 8u);

  Interpreter interp(scalarRs);
  std::vector<jit::JitKey> keys;
  std::vector<int32_t> want;
  uint8_t buf[40] = {};
  for (size_t i = 0; i < 1500; ++i) {
    const auto& [sp, dp] = specs[rng.below(specs.size())];
    const uint32_t srcs[] = {sp.lo, sp.hi, sp.lo - 1, sp.hi + 1}, dsts[] = {dp.lo, dp.hi, dp.hi + 1};
    PacketView p;
    p.data = buf;
    p.len = 40;
    p.thoff = 20;
    p.protocol = 6;
    p.src = IpAddr::fromV4(srcs[i % 4]);
    p.dst = IpAddr::fromV4(dsts[i % 3]);
    keys.emplace_back();
    ASSERT_TRUE(vec.makeKey(p, keys.back()));
    EvalContext ctx{p};
    int32_t first = -1;
    for (const RuleRef& m : interp.run("filter", Hook::Forward, ctx).matched)
      if (!m.isPolicy && m.chain == ci) {
        first = int32_t(m.rule);
        break;
      }
    want.push_back(first);
  }
  std::vector<int32_t> gotVec(keys.size()), gotScalar(keys.size());
  jit::ChainSearch::findBatch(v, keys.data(), keys.size(), gotVec.data(), nullptr);
  jit::ChainSearch::findBatch(s, keys.data(), keys.size(), gotScalar.data(), nullptr);
  size_t failures = 0, matched = 0;
  for (size_t i = 0; i < keys.size() && failures < 5; ++i) {
    const int32_t one = jit::ChainSearch::find(s, keys[i], 0, nullptr);
    matched += want[i] >= 0;
    if (one != want[i] || gotVec[i] != want[i] || gotScalar[i] != want[i]) {
      ADD_FAILURE() << "packet " << i << ": interpreter " << want[i] << ", find " << one << ", vector batch "
                    << gotVec[i] << ", scalar batch " << gotScalar[i];
      ++failures;
    }
  }
  EXPECT_GT(matched, keys.size() / 4);  // the ends of the prefixes match, the values past them mostly not
}

}  // namespace
}  // namespace nfjit
