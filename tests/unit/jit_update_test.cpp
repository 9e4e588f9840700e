// Incremental updates of the JIT classifier: after a random sequence of
// rule inserts and deletes, every packet gets the same matching rules as
// from a fresh build of the resulting chain and from the interpreter; and
// searches running on another thread during updates see consistent results.
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "compiler/frontend/RestoreParser.h"
#include "tests/support/RulesetFixture.h"
#include "compiler/interp/Interpreter.h"
#include "compiler/jit/Jit.h"
#include "compiler/jit/TupleIndex.h"
#include "compiler/jit/SearchSimd.h"
#include "runtime/packet/PacketParser.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RandomRuleset.h"

namespace nfjit {
namespace {

using testing::PacketSpec;
using testing::Rng;

Ruleset parse(const std::string& text, Family f) { return testsupport::parseRules(text, f); }

// FORWARD jumps to chain c; c's rules have no target, so a traversal lists
// every rule of c that matches.
std::string rulesetText(const std::vector<std::string>& lines) {
  std::ostringstream t;
  t << "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:c - [0:0]\n-A FORWARD -j c\n";
  for (const auto& l : lines) t << "-A c" << l << "\n";
  t << "COMMIT\n";
  return t.str();
}

std::string v4(Rng& rng) { return "10." + std::to_string(rng.below(4)) + "." + std::to_string(rng.below(256)) + ".7"; }

// A rule over the fields the search indexes, plus what it leaves to
// residual code (interfaces, TCP flags) and to callbacks (-m length).
std::string randomRule(Rng& rng, Family f, bool callbacks = true) {
  std::ostringstream t;
  if (f == Family::IPv4) {
    if (rng.chance(50)) t << (rng.chance(15) ? " ! -s " : " -s ") << "10." << rng.below(4) << ".0.0/" << 14 + rng.below(10);
    if (rng.chance(40)) t << (rng.chance(15) ? " ! -d " : " -d ") << "192.0.2." << rng.below(4) * 64 << "/26";
  } else {
    if (rng.chance(50)) t << (rng.chance(15) ? " ! -s " : " -s ") << "2001:db8:" << rng.below(4) << "::/" << 40 + rng.below(20);
  }
  if (rng.chance(60)) {
    bool tcp = rng.chance(50);
    t << (tcp ? " -p tcp -m tcp" : " -p udp -m udp");
    unsigned lo = unsigned(rng.below(300));
    if (rng.chance(70)) t << (rng.chance(15) ? " ! --dport " : " --dport ") << lo << ":" << lo + rng.below(100);
    if (rng.chance(30)) t << " --sport " << 1000 + rng.below(50);
    if (tcp && rng.chance(10)) t << " --tcp-flags SYN,ACK SYN";
  } else if (rng.chance(20)) {
    t << " -p icmp";
  }
  if (rng.chance(8)) t << (rng.chance(30) ? " ! -i " : " -i ") << "in" << rng.below(2);
  if (rng.chance(5) && callbacks) t << " -m length --length " << 40 + rng.below(40) << ":200";
  return t.str();
}

std::shared_ptr<const Rule> parseRule(const std::string& line, Family f) {
  Ruleset rs = parse(rulesetText({line}), f);
  Chain* c = rs.tables[0].findChain("c");
  return std::make_shared<const Rule>(std::move(c->rules.at(0)));
}

struct Probe {
  std::vector<uint8_t> bytes;
  std::string in;
};

Probe randomPacket(Rng& rng, Family f) {
  PacketSpec s;
  s.family = f;
  if (f == Family::IPv4) {
    s.src = v4(rng);
    s.dst = "192.0.2." + std::to_string(rng.below(256));
  } else {
    s.src = "2001:db8:" + std::to_string(rng.below(5)) + "::" + std::to_string(rng.below(100));
    s.dst = "2001:db8:ff::1";
  }
  s.proto = uint8_t(rng.chance(45) ? 6 : rng.chance(80) ? 17 : 1);
  if (f == Family::IPv6 && s.proto == 1) s.proto = 58;
  s.sport = uint16_t(rng.chance(30) ? 1000 + rng.below(60) : rng.below(420));
  s.dport = uint16_t(rng.below(420));
  s.tcpFlags = rng.chance(50) ? 0x02 : 0x12;
  s.payload = rng.below(150);
  return {testing::buildPacket(s), rng.chance(50) ? "in0" : "in1"};
}

// Every matching rule of chain c, in order, by repeated findNext.
std::vector<int32_t> jitMatches(jit::JitClassifier& j, size_t ti, size_t ci, const Probe& pr, Family f) {
  auto bytes = pr.bytes;
  PacketView p;
  EXPECT_EQ(parseL3(f, bytes.data(), uint32_t(bytes.size()), p), L3Status::Ok);
  p.inIface = pr.in;
  p.outIface = "out0";
  std::vector<int32_t> out;
  for (uint32_t from = 0;;) {
    EvalContext ctx{p};
    int32_t r = j.findNext(ti, ci, from, ctx);
    if (r < 0) {
      if (r == -2) out.push_back(-2);
      return out;
    }
    if (uint32_t(r) < from) {  // a search that went back would loop forever
      ADD_FAILURE() << "findNext from " << from << " gave " << r;
      return out;
    }
    out.push_back(r);
    from = uint32_t(r) + 1;
  }
}

// The rules of chain c a whole traversal (FORWARD → c) matched, by either engine's run().
std::vector<int32_t> interpMatches(Classifier& in, size_t ci, const Probe& pr, Family f) {
  auto bytes = pr.bytes;
  PacketView p;
  EXPECT_EQ(parseL3(f, bytes.data(), uint32_t(bytes.size()), p), L3Status::Ok);
  p.inIface = pr.in;
  p.outIface = "out0";
  EvalContext ctx{p};
  TraversalResult r = in.run("filter", Hook::Forward, ctx);
  std::vector<int32_t> out;
  for (const auto& m : r.matched)
    if (!m.isPolicy && m.chain == ci) out.push_back(int32_t(m.rule));
  if (r.hotdrop) out.push_back(-2);
  return out;
}

// callbacks: whether rules may use -m length (called back; then the batched
// search, which the tests run without a runtime, is not checked).
// updateCross: JitOptions::updateCrossEntries (0: every rebuilt group's
// cross product comes from the background thread). simd: JitOptions::simd.
void randomUpdates(Family f, uint64_t seed, uint32_t groupRules, size_t packRowsAbove = jit::JitOptions{}.packRowsAbove,
                   bool callbacks = true, size_t updateCross = jit::JitOptions{}.updateCrossEntries,
                   bool simd = true, bool tupleIndex = true) {
  Rng rng(seed);
  std::vector<std::string> lines;
  for (unsigned i = 0; i < 400; ++i) lines.push_back(randomRule(rng, f, callbacks));
  Ruleset rs = parse(rulesetText(lines), f);
  jit::JitOptions opts;
  opts.groupRules = opts.largeGroupRules = groupRules;
  opts.packRowsAbove = packRowsAbove;
  opts.largeCrossEntriesPerRule = 0;  // above packRowsAbove: packed rows
  opts.updateCrossEntries = updateCross;
  opts.simd = simd;
  opts.tupleIndex = tupleIndex;
  jit::JitClassifier updated(rs, opts);
  const size_t ti = 0, ci = size_t(rs.tables[0].findChain("c") - rs.tables[0].chains.data());
  // A packed IPv4 chain without callbacks is searched through its TupleIndex, before and after the updates.
  const bool tuples = tupleIndex && packRowsAbove == 0 && !callbacks && f == Family::IPv4;
  auto expectTuples = [&] {
    jit::EpochDomain::Reader reader(updated.epochs());
    jit::ReadSection section(reader);
    EXPECT_EQ(updated.chainSearch(ti, ci).current()->tuples != nullptr, tuples);
  };
  expectTuples();

  for (unsigned op = 0; op < 300; ++op) {
    if (lines.empty() || rng.chance(55)) {
      uint32_t pos = uint32_t(rng.below(lines.size() + 1));
      std::string line = randomRule(rng, f, callbacks);
      updated.insertRule(ti, ci, pos, parseRule(line, f));
      lines.insert(lines.begin() + pos, line);
    } else {
      uint32_t pos = uint32_t(rng.below(lines.size()));
      updated.deleteRule(ti, ci, pos);
      lines.erase(lines.begin() + pos);
    }
  }

  expectTuples();
  Ruleset fresh = parse(rulesetText(lines), f), forInterp = parse(rulesetText(lines), f);
  jit::JitClassifier rebuilt(fresh, opts);
  Interpreter interp(forInterp);
  std::vector<Probe> probes;
  for (unsigned i = 0; i < 600; ++i) probes.push_back(randomPacket(rng, f));
  // The first rule of every probe from the batched search of the updated chain.
  auto batchFirst = [&] {
    std::vector<jit::JitKey> keys;
    for (const Probe& pr : probes) {
      auto bytes = pr.bytes;
      PacketView p;
      EXPECT_EQ(parseL3(f, bytes.data(), uint32_t(bytes.size()), p), L3Status::Ok);
      p.inIface = pr.in;
      p.outIface = "out0";
      keys.emplace_back();
      EXPECT_TRUE(updated.makeKey(p, keys.back()));
    }
    std::vector<int32_t> out(keys.size());
    jit::EpochDomain::Reader reader(updated.epochs());
    jit::ReadSection section(reader);
    // The probes' -m length rules call back into the runtime: no batch for them.
    if (!updated.chainCallsBack(ti, ci))
      jit::ChainSearch::findBatch(*updated.chainSearch(ti, ci).current(), keys.data(), keys.size(), out.data(), nullptr);
    else
      out.clear();
    return out;
  };
  size_t checked = 0, nonEmpty = 0;
  std::vector<std::vector<int32_t>> wants;  // the interpreter runs once per probe (its counters are compared below)
  for (const Probe& pr : probes) wants.push_back(interpMatches(interp, ci, pr, f));
  for (int round = 0; round < 2; ++round) {
    std::vector<int32_t> batch = batchFirst();
    for (size_t i = 0; i < probes.size(); ++i) {
      const Probe& pr = probes[i];
      const auto& want = wants[i];
      if (round == 0) {
        ASSERT_EQ(jitMatches(rebuilt, ti, ci, pr, f), want) << "fresh build, packet " << i;
      }
      ASSERT_EQ(jitMatches(updated, ti, ci, pr, f), want) << "updated, round " << round << ", packet " << i;
      if (!batch.empty() && (want.empty() || want[0] >= 0)) {
        ASSERT_EQ(batch[i], want.empty() ? -1 : want[0]) << "batch, round " << round << ", packet " << i;
      }
      // The whole traversal of the updated classifier follows the updated chain.
      if (round == 0) {
        ASSERT_EQ(interpMatches(updated, ci, pr, f), want) << "updated run(), packet " << i;
      }
      ++checked;
      nonEmpty += !want.empty();
    }
    // Round 1: after the background thread has given every group its cross product back.
    jit::ChainSearch& search = updated.chainSearch(ti, ci);
    search.settle();
    const jit::Snapshot& snap = *search.current();
    EXPECT_EQ(snap.simd, !snap.tuples && simd && jit::simd::available());
    const bool packed = lines.size() > packRowsAbove;
    if (!packed && snap.dims.size() >= 2) {
      EXPECT_EQ(snap.crossGroups, snap.groups.size());
    }
    if (packed) {
      EXPECT_EQ(snap.crossGroups, 0u);
    }
  }
  EXPECT_EQ(checked, 1200u);
  EXPECT_GT(nonEmpty, 200u) << "the packets should hit rules";
  EXPECT_EQ(updated.chainSearch(ti, ci).current()->rules, lines.size());
  // Per-rule counters of the updated chain, inserted rules included, as the interpreter counted them.
  std::vector<Counters> got = updated.chainCounters(ti, ci);
  ASSERT_EQ(got.size(), lines.size());
  for (size_t r = 0; r < lines.size(); ++r) {
    EXPECT_EQ(got[r].packets, interp.counters().rule(ti, ci, r).packets) << "rule " << r << ":" << lines[r];
    EXPECT_EQ(got[r].bytes, interp.counters().rule(ti, ci, r).bytes) << "rule " << r;
  }
}

TEST(JitUpdate, RandomUpdatesSmallGroupsIPv4) { randomUpdates(Family::IPv4, 11, 64); }
// Without callbacks, so that the batched search (cross products rebuilt in
// the update or in the background) is checked too.
TEST(JitUpdate, RandomUpdatesBatchedIPv4) { randomUpdates(Family::IPv4, 16, 2048, SIZE_MAX, false); }
TEST(JitUpdate, RandomUpdatesCrossProductsInTheBackground) { randomUpdates(Family::IPv4, 19, 128, SIZE_MAX, false, 0); }
TEST(JitUpdate, RandomUpdatesBatchedSmallGroupsIPv4) { randomUpdates(Family::IPv4, 17, 64, SIZE_MAX, false); }
TEST(JitUpdate, RandomUpdatesBatchedIPv6) { randomUpdates(Family::IPv6, 18, 2048, SIZE_MAX, false); }
// The scalar batch search (what a CPU without AVX-512 runs).
TEST(JitUpdate, RandomUpdatesBatchedScalarIPv4) { randomUpdates(Family::IPv4, 20, 64, SIZE_MAX, false, 0, false); }
TEST(JitUpdate, RandomUpdatesBatchedScalarIPv6) { randomUpdates(Family::IPv6, 21, 2048, SIZE_MAX, false, 0, false); }
TEST(JitUpdate, RandomUpdatesBatchedPackedRowsIPv4) {
  randomUpdates(Family::IPv4, 22, 128, 0, false, jit::JitOptions{}.updateCrossEntries, true, false);
}
TEST(JitUpdate, RandomUpdatesTupleIndexIPv4) { randomUpdates(Family::IPv4, 23, 128, 0, false); }
TEST(JitUpdate, RandomUpdatesTupleIndexScalarIPv4) { randomUpdates(Family::IPv4, 24, 256, 0, false, 0, false); }
TEST(JitUpdate, RandomUpdatesDefaultGroupsIPv4) { randomUpdates(Family::IPv4, 12, 2048); }
TEST(JitUpdate, RandomUpdatesIPv6) { randomUpdates(Family::IPv6, 13, 64); }
// Groups of 256 rules (4 words a row) with packed rows, rebuilt by updates.
TEST(JitUpdate, RandomUpdatesPackedRowsIPv4) { randomUpdates(Family::IPv4, 14, 256, 0); }
TEST(JitUpdate, RandomUpdatesPackedRowsIPv6) { randomUpdates(Family::IPv6, 15, 256, 0); }

// A chain emptied by deletes and refilled by inserts.
TEST(JitUpdate, EmptyChainAndBack) {
  Ruleset rs = parse(rulesetText({" -p tcp -m tcp --dport 80"}), Family::IPv4);
  jit::JitClassifier j(rs);
  const size_t ci = size_t(rs.tables[0].findChain("c") - rs.tables[0].chains.data());
  Probe http = {testing::buildPacket(PacketSpec{}), "in0"};
  EXPECT_EQ(jitMatches(j, 0, ci, http, Family::IPv4), std::vector<int32_t>{0});
  j.deleteRule(0, ci, 0);
  EXPECT_EQ(jitMatches(j, 0, ci, http, Family::IPv4), std::vector<int32_t>{});
  j.insertRule(0, ci, 0, parseRule(" -s 192.0.2.0/24", Family::IPv4));  // a field the chain did not use
  j.insertRule(0, ci, 0, parseRule(" -p udp", Family::IPv4));
  j.insertRule(0, ci, 2, parseRule(" -i in+", Family::IPv4));  // a new interface pattern: whole-rule callback
  EXPECT_EQ(jitMatches(j, 0, ci, http, Family::IPv4), (std::vector<int32_t>{1, 2}));
  // run() follows the updated chain, and the counters go with the rules.
  EXPECT_EQ(interpMatches(j, ci, http, Family::IPv4), (std::vector<int32_t>{1, 2}));
  j.insertRule(0, ci, 0, parseRule(" -p icmp", Family::IPv4));
  EXPECT_EQ(interpMatches(j, ci, http, Family::IPv4), (std::vector<int32_t>{2, 3}));
  std::vector<Counters> c = j.chainCounters(0, ci);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].packets, 0u);
  EXPECT_EQ(c[1].packets, 0u);
  EXPECT_EQ(c[2].packets, 2u);
  EXPECT_EQ(c[3].packets, 2u);
  EXPECT_EQ(c[2].bytes, 2 * http.bytes.size());
}

// Counters of the Ruleset's own rules survive updates around them.
TEST(JitUpdate, OriginalRuleCountersFollowTheirRule) {
  Ruleset rs = parse(rulesetText({" -p tcp -m tcp --dport 80", " -p udp"}), Family::IPv4);
  jit::JitClassifier j(rs);
  const size_t ci = size_t(rs.tables[0].findChain("c") - rs.tables[0].chains.data());
  Probe http = {testing::buildPacket(PacketSpec{}), "in0"};
  EXPECT_EQ(interpMatches(j, ci, http, Family::IPv4), std::vector<int32_t>{0});
  j.insertRule(0, ci, 0, parseRule(" -p icmp", Family::IPv4));
  j.deleteRule(0, ci, 2);  // the udp rule
  EXPECT_EQ(interpMatches(j, ci, http, Family::IPv4), std::vector<int32_t>{1});
  EXPECT_EQ(j.counters().rule(0, ci, 0).packets, 2u);  // the Ruleset's view: rule 0 is the http rule
  std::vector<Counters> c = j.chainCounters(0, ci);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].packets, 0u);
  EXPECT_EQ(c[1].packets, 2u);
}

// Readers on another thread never see a result that no version gives:
// rule 0 matches the probe packets in every version and updates only touch
// later positions.
TEST(JitUpdate, ConcurrentReadersDuringUpdates) {
  Rng rng(5);
  std::vector<std::string> lines = {" -s 172.16.0.0/12"};
  for (unsigned i = 0; i < 3000; ++i) lines.push_back(randomRule(rng, Family::IPv4));
  Ruleset rs = parse(rulesetText(lines), Family::IPv4);
  jit::JitOptions opts;
  opts.groupRules = 256;
  jit::JitClassifier j(rs, opts);
  const size_t ci = size_t(rs.tables[0].findChain("c") - rs.tables[0].chains.data());
  jit::ChainSearch& search = j.chainSearch(0, ci);

  std::vector<jit::JitKey> keys(256);
  for (size_t i = 0; i < keys.size(); ++i) {
    PacketSpec s;
    s.src = "172.16.0." + std::to_string(i);
    auto bytes = testing::buildPacket(s);
    PacketView p;
    ASSERT_EQ(parseL3(Family::IPv4, bytes.data(), uint32_t(bytes.size()), p), L3Status::Ok);
    ASSERT_TRUE(j.makeKey(p, keys[i]));
  }
  std::atomic<bool> stop{false};
  std::atomic<size_t> wrong{0}, batches{0};
  std::thread reader([&] {
    jit::EpochDomain::Reader rd(j.epochs());
    std::vector<int32_t> out(keys.size());
    while (!stop.load()) {
      jit::ReadSection section(rd);
      jit::ChainSearch::findBatch(*search.current(), keys.data(), keys.size(), out.data(), nullptr);
      for (int32_t r : out) wrong += r != 0;
      ++batches;
    }
  });
  for (unsigned op = 0; op < 200; ++op) {
    uint32_t n = search.current()->rules;
    if (op % 2 == 0) j.insertRule(0, ci, 1 + uint32_t(rng.below(n)), parseRule(randomRule(rng, Family::IPv4), Family::IPv4));
    else j.deleteRule(0, ci, 1 + uint32_t(rng.below(n - 1)));
  }
  while (batches.load() < 10) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  j.epochs().reclaim();
  EXPECT_EQ(j.epochs().pending(), 0u) << "old versions are freed once no reader holds them";
}

}  // namespace
}  // namespace nfjit
