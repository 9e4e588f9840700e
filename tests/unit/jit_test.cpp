// The JIT classifier against the reference interpreter: random rulesets
// with boundary packets (both families), stateful matches called back in
// rule order, slow-path packets (fragments, truncated headers), and the
// ClassBench 1k sets against their ground truth.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

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

Ruleset parse(const std::string& text, Family f) { return testsupport::parseRules(text, f); }

std::string describe(const TraversalResult& r) {
  std::ostringstream o;
  o << "verdict " << int(r.verdict) << (r.hotdrop ? " hotdrop" : "") << " matched";
  for (const auto& m : r.matched) o << " " << m.table << "/" << m.chain << "/" << (m.isPolicy ? "P" : std::to_string(m.rule));
  return o.str();
}

// Runs every packet through every table and hook of two copies of the
// ruleset (stateful matches keep state in the IR), one per engine.
struct Differential {
  Ruleset a, b;
  Interpreter interp;
  jit::JitClassifier jit;
  Differential(const std::string& text, Family f, jit::JitOptions opts = {})
      : a(parse(text, f)), b(parse(text, f)), interp(a), jit(b, opts) {}

  // Returns "" or the first difference.
  std::string packet(std::vector<uint8_t> bytes, Family f, const std::string& in, const std::string& out,
                     uint32_t mark) {
    for (const auto& t : a.tables)
      for (Hook h : tableHooks(t.name, f)) {
        auto b1 = bytes, b2 = bytes;
        PacketView p1, p2;
        if (parseL3(f, b1.data(), uint32_t(b1.size()), p1) != L3Status::Ok) return "";
        parseL3(f, b2.data(), uint32_t(b2.size()), p2);
        for (PacketView* p : {&p1, &p2}) {
          p->inIface = in;
          p->outIface = out;
          p->mark = mark;
        }
        EvalContext c1{p1}, c2{p2};
        c1.nowNs = c2.nowNs = 1'000'000'000;
        TraversalResult r1 = interp.run(t.name, h, c1), r2 = jit.run(t.name, h, c2);
        if (r1.verdict != r2.verdict || r1.hotdrop != r2.hotdrop || !(r1.matched == r2.matched) || b1 != b2)
          return "table " + t.name + " hook " + std::to_string(int(h)) + "\n  interp: " + describe(r1) +
                 "\n  jit:    " + describe(r2);
      }
    return "";
  }

  std::string counters() {
    for (size_t t = 0; t < a.tables.size(); ++t)
      for (size_t c = 0; c < a.tables[t].chains.size(); ++c) {
        if (!(interp.counters().policy(t, c) == jit.counters().policy(t, c)))
          return "policy counters differ in chain " + a.tables[t].chains[c].name;
        for (size_t r = 0; r < a.tables[t].chains[c].rules.size(); ++r)
          if (!(interp.counters().rule(t, c, r) == jit.counters().rule(t, c, r)))
            return "rule counters differ in chain " + a.tables[t].chains[c].name + " rule " + std::to_string(r);
      }
    return "";
  }
};

void randomRulesets(Family f, uint64_t seedBase, unsigned cases, jit::JitOptions opts = {}) {
  static const std::vector<std::string> ins = {"in0", "in1", "eth0", ""}, outs = {"out0", "out7", "lo", ""};
  unsigned failures = 0;
  for (unsigned i = 0; i < cases && failures < 3; ++i) {
    uint64_t seed = seedBase + i;
    testing::GeneratedCase gc = testing::generateCase(f, seed, 12, 60);
    Differential d(gc.rules, f, opts);
    testing::Rng rng(seed * 7 + 1);
    for (size_t k = 0; k < gc.packets.size(); ++k) {
      std::string diff = d.packet(gc.packets[k], f, rng.pick(ins), rng.pick(outs), uint32_t(rng.below(4)));
      if (!diff.empty()) {
        ADD_FAILURE() << "seed " << seed << " packet " << k << ": " << diff << "\nruleset:\n" << gc.rules;
        ++failures;
        break;
      }
    }
    std::string c = d.counters();
    if (!c.empty()) ADD_FAILURE() << "seed " << seed << ": " << c;
  }
}

TEST(Jit, RandomRulesetsIPv4) { randomRulesets(Family::IPv4, 7000, 100); }
TEST(Jit, RandomRulesetsIPv6) { randomRulesets(Family::IPv6, 9000, 100); }
// Groups searched through their rows alone (no cross-product tables).
TEST(Jit, RandomRulesetsWithoutCrossProducts) {
  jit::JitOptions opts;
  opts.crossEntries = 0;
  randomRulesets(Family::IPv4, 13000, 60, opts);
  randomRulesets(Family::IPv6, 14000, 30, opts);
}
// Packed rows (what chains above 32k rules use).
TEST(Jit, RandomRulesetsPackedRows) {
  jit::JitOptions opts;
  opts.packRowsAbove = 0;
  opts.largeCrossEntriesPerRule = 0;
  randomRulesets(Family::IPv4, 11000, 60, opts);
  randomRulesets(Family::IPv6, 12000, 30, opts);
}

const char* kStateful = R"(*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:c1 - [0:0]
-A FORWARD -p tcp -m statistic --mode nth --every 3 --packet 0 -m tcp --dport 80 -j c1
-A FORWARD -p tcp -m tcp --dport 80 -m statistic --mode nth --every 2 --packet 0 -j ACCEPT
-A FORWARD -m quota --quota 300 -p udp -j ACCEPT
-A FORWARD -i in+ -p udp -m udp --dport 53 -m statistic --mode nth --every 2 --packet 1
-A FORWARD -s 10.0.0.0/8 -m comment --comment "x" -m length --length 60:100 -j DROP
-A c1 -m statistic --mode nth --every 2 --packet 1 -j RETURN
-A c1 -p tcp -m tcp --tcp-flags SYN,ACK SYN -j DROP
-A c1 -j ACCEPT
COMMIT
)";

TEST(Jit, StatefulMatchesRunInRuleOrder) {
  Differential d(kStateful, Family::IPv4);
  for (unsigned i = 0; i < 200; ++i) {
    PacketSpec s;
    s.src = i % 3 ? "10.1.2.3" : "192.0.2.9";
    s.proto = i % 2 ? 6 : 17;
    s.dport = i % 5 ? 80 : 53;
    s.tcpFlags = i % 4 ? 0x02 : 0x12;
    s.payload = i % 70;
    std::string diff = d.packet(testing::buildPacket(s), Family::IPv4, i % 2 ? "in0" : "x0", "out0", 0);
    ASSERT_EQ(diff, "") << "packet " << i;
  }
  EXPECT_EQ(d.counters(), "");
}

// Later fragments and truncated transport headers take the slow path
// (match() hot-drops them); the verdicts stay the interpreter's.
TEST(Jit, FragmentsAndTruncatedHeaders) {
  const char* rules = R"(*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --dport 80 -j DROP
-A FORWARD -f -j DROP
-A FORWARD ! -f -p udp -j ACCEPT
-A FORWARD -p 47 -j DROP
COMMIT
)";
  Differential d(rules, Family::IPv4);
  for (uint16_t frag : {0, 1, 2, 100})
    for (uint8_t proto : {6, 17, 47})
      for (bool truncate : {false, true}) {
        PacketSpec s;
        s.proto = proto;
        s.fragOffset = frag;
        auto bytes = testing::buildPacket(s);
        if (truncate) {
          // Cut the transport header short and fix the total length and checksum.
          bytes.resize(20 + 6);
          bytes[2] = 0, bytes[3] = 26;
          bytes[10] = bytes[11] = 0;
          uint16_t c = internetChecksum(bytes.data(), 20);
          bytes[10] = uint8_t(c >> 8), bytes[11] = uint8_t(c);
        }
        EXPECT_EQ(d.packet(bytes, Family::IPv4, "in0", "out0", 0), "") << "frag " << frag << " proto " << int(proto)
                                                                        << " truncated " << truncate;
      }
  EXPECT_EQ(d.counters(), "");
}

// Boundaries of prefixes and port ranges, inverted and not.
TEST(Jit, PrefixAndPortBoundaries) {
  const char* rules = R"(*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -s 10.0.0.0/8 -p tcp -m tcp --sport 1024:2047 -j ACCEPT
-A FORWARD ! -d 192.0.2.0/25 -p udp -m udp ! --dport 1:1023
-A FORWARD -s 0.0.0.0/0 -d 255.255.255.255/32 -j ACCEPT
-A FORWARD -s 10.0.0.1/255.0.255.0 -j ACCEPT
-A FORWARD -p tcp -m tcp --sport 65535 --dport 0 -j ACCEPT
-A FORWARD ! -p tcp -d 192.0.2.127 -j ACCEPT
COMMIT
)";
  Differential d(rules, Family::IPv4);
  const std::vector<std::string> addrs = {"9.255.255.255", "10.0.0.0",  "10.255.255.255", "11.0.0.0",
                                          "192.0.2.0",     "192.0.2.127", "192.0.2.128",  "255.255.255.255",
                                          "0.0.0.0",       "10.7.0.9",  "99.0.77.0"};
  const std::vector<uint16_t> ports = {0, 1, 1023, 1024, 2047, 2048, 65534, 65535};
  for (const auto& src : addrs)
    for (const auto& dst : addrs)
      for (uint8_t proto : {6, 17, 1})
        for (uint16_t sp : ports) {
          PacketSpec s;
          s.src = src;
          s.dst = dst;
          s.proto = proto;
          s.sport = sp;
          s.dport = ports[(sp + dst.size()) % ports.size()];
          ASSERT_EQ(d.packet(testing::buildPacket(s), Family::IPv4, "in0", "out0", 0), "")
              << src << " -> " << dst << " proto " << int(proto) << " sport " << sp;
        }
  EXPECT_EQ(d.counters(), "");
}

// A chain of several bitset words with accounting rules, so that the search
// resumes after non-terminating rules across word and summary boundaries.
TEST(Jit, LongChainResumesAcrossWords) {
  testing::Rng rng(42);
  std::ostringstream t;
  t << "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:long - [0:0]\n";
  t << "-A FORWARD -p tcp -j long\n-A FORWARD -p udp -m udp --dport 100:200 -j long\n";
  for (unsigned i = 0; i < 4200; ++i) {
    t << "-A long";
    if (rng.chance(50)) t << " -s 10." << rng.below(4) << ".0.0/" << (14 + rng.below(3));
    if (rng.chance(30)) t << (rng.chance(20) ? " ! -d " : " -d ") << "192.0.2." << rng.below(4) * 64 << "/26";
    if (rng.chance(60)) {
      t << (rng.chance(50) ? " -p tcp -m tcp" : " -p udp -m udp");
      unsigned lo = unsigned(rng.below(300));
      t << (rng.chance(15) ? " ! --dport " : " --dport ") << lo << ":" << lo + rng.below(100);
    }
    if (rng.chance(5)) t << " -i in" << rng.below(2);
    unsigned r = unsigned(rng.below(1000));
    t << (r < 3 ? " -j ACCEPT" : r < 5 ? " -j RETURN" : r < 7 ? " -j DROP" : "") << "\n";
  }
  t << "COMMIT\n";
  Differential d(t.str(), Family::IPv4);
  for (unsigned i = 0; i < 150; ++i) {
    PacketSpec s;
    s.src = "10." + std::to_string(rng.below(5)) + "." + std::to_string(rng.below(256)) + ".1";
    s.dst = "192.0.2." + std::to_string(rng.below(256));
    s.proto = rng.chance(50) ? 6 : 17;
    s.dport = uint16_t(rng.below(420));
    ASSERT_EQ(d.packet(testing::buildPacket(s), Family::IPv4, rng.chance(50) ? "in0" : "in1", "out0", 0), "")
        << "packet " << i;
  }
  EXPECT_EQ(d.counters(), "");
}

// A target that rewrites a field the key caches: ECN clears ECE/CWR, and a
// later --tcp-flags test must see the new flags.
TEST(Jit, KeyFollowsTargetRewrites) {
  const char* rules = R"(*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --tcp-flags ECE ECE
-A FORWARD -p tcp -j ECN --ecn-tcp-remove
-A FORWARD -p tcp -m tcp --tcp-flags ECE ECE -j DROP
-A FORWARD -p tcp -m tcp --tcp-flags ECE NONE
COMMIT
)";
  Differential d(rules, Family::IPv4);
  for (uint8_t flags : {0x02, 0x42, 0xc2, 0x10}) {
    PacketSpec s;
    s.tcpFlags = flags;
    EXPECT_EQ(d.packet(testing::buildPacket(s), Family::IPv4, "in0", "out0", 0), "") << "flags " << int(flags);
  }
  EXPECT_EQ(d.counters(), "");
}

// ClassBench: the rule id of each iptables rule (a rule split in tcp and
// udp keeps its id), then the trace against its ground truth.
std::vector<int> ruleIds(const std::string& canon) {
  std::ifstream in(canon);
  std::vector<int> ids;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    long id, slen, dlen, splo, sphi, dplo, dphi, proto;
    std::string sip, dip;
    f >> id >> sip >> slen >> dip >> dlen >> splo >> sphi >> dplo >> dphi >> proto;
    bool ports = !(splo == 0 && sphi == 65535 && dplo == 0 && dphi == 65535);
    ids.push_back(int(id));
    if (proto == -1 && ports) ids.push_back(int(id));
  }
  return ids;
}

// Through run() (the traversal) and through the batched search of chain
// CB; the interpreter on the first `interpPackets` packets (it is slow).
// `crossGroups`: how many of CB's groups must have cross-product tables
// (-1: every group).
void classbench(const std::string& set, size_t interpPackets = 5000, jit::JitOptions opts = {}, int crossGroups = -1) {
  std::string base = std::string(NFJIT_SHARED_DIR) + "/classbench/" + set;
  std::ifstream rulesIn(base + ".iptables");
  if (!rulesIn) GTEST_SKIP() << "no " << base;
  std::stringstream text;
  text << rulesIn.rdbuf();
  Ruleset rs = parse(text.str(), Family::IPv4);
  Ruleset rs2 = interpPackets ? parse(text.str(), Family::IPv4) : Ruleset{};
  std::vector<int> ids = ruleIds(base + ".canon");
  jit::JitClassifier jit(rs, opts);
  std::unique_ptr<Interpreter> interp = interpPackets ? std::make_unique<Interpreter>(rs2) : nullptr;
  const Table& t = *rs.findTable("filter");
  size_t cb = 0;
  while (t.chains[cb].name != "CB") ++cb;
  ASSERT_EQ(ids.size(), t.chains[cb].rules.size());
  {
    jit::EpochDomain::Reader reader(jit.epochs());
    jit::ReadSection section(reader);
    const jit::Snapshot& snap = *jit.chainSearch(size_t(&t - rs.tables.data()), cb).current();
    EXPECT_EQ(snap.crossGroups, crossGroups < 0 ? snap.groups.size() : size_t(crossGroups)) << set;
    // A large chain keeps packed rows only when its cross products outgrew
    // their budget, or it is searched through its TupleIndex (no vector tables).
    const bool large = t.chains[cb].rules.size() > opts.packRowsAbove;
    const bool tuple = large && opts.tupleIndex;
    EXPECT_EQ(snap.tuples != nullptr, tuple) << set;
    EXPECT_EQ(snap.simd, !tuple && opts.simd && jit::simd::available()) << set;
    // CB is the one chain with fields (FORWARD only jumps to it); the vector
    // search takes its cross products, or its packed rows.
    const bool vector = snap.simd && snap.maskWords == 1 && (snap.crossGroups > 0 || large);
    EXPECT_EQ(jit.stats().vectorChains, vector ? 1u : 0u) << set;
    EXPECT_EQ(snap.simdPacked, vector && snap.crossGroups == 0) << set;
    EXPECT_EQ(jit.chainSearch(size_t(&t - rs.tables.data()), cb).packedRows(), large && snap.crossGroups == 0) << set;
    EXPECT_EQ(jit.stats().packedChains, large && snap.crossGroups == 0 ? 1u : 0u) << set;
  }

  std::ifstream trace(base + ".trace"), match(base + ".trace.match");
  uint64_t sip, dip, sport, dport, proto, flags, aimed;
  long expected;
  size_t n = 0, mismatches = 0, interpDiffs = 0;
  std::vector<jit::JitKey> keys;
  std::vector<long> want;
  uint8_t buf[40] = {};
  while (trace >> sip >> dip >> sport >> dport >> proto >> flags >> aimed && match >> expected) {
    PacketView p;
    p.data = buf;
    p.len = 40;
    p.thoff = 20;
    p.src = IpAddr::fromV4(uint32_t(sip));
    p.dst = IpAddr::fromV4(uint32_t(dip));
    p.protocol = uint8_t(proto);
    buf[20] = uint8_t(sport >> 8), buf[21] = uint8_t(sport);
    buf[22] = uint8_t(dport >> 8), buf[23] = uint8_t(dport);
    keys.emplace_back();
    ASSERT_TRUE(jit.makeKey(p, keys.back()));
    want.push_back(expected);
    EvalContext ctx{p};
    TraversalResult r = jit.run("filter", Hook::Forward, ctx);
    long got = -1;
    for (const auto& m : r.matched)
      if (!m.isPolicy && m.chain == cb) got = ids[m.rule];
    if (got != expected && ++mismatches <= 5)
      ADD_FAILURE() << set << " line " << n + 1 << ": jit rule id " << got << ", ground truth " << expected;
    if (n < interpPackets) {
      EvalContext c2{p};
      TraversalResult r2 = interp->run("filter", Hook::Forward, c2);
      if (!(r2.matched == r.matched) || r2.verdict != r.verdict) ++interpDiffs;
    }
    ++n;
  }
  EXPECT_GT(n, 0u);
  EXPECT_EQ(mismatches, 0u) << set;
  EXPECT_EQ(interpDiffs, 0u) << set;

  std::vector<int32_t> idx(keys.size());
  jit::EpochDomain::Reader reader(jit.epochs());
  jit::ReadSection section(reader);
  jit::ChainSearch::findBatch(*jit.chainSearch(size_t(&t - rs.tables.data()), cb).current(), keys.data(), keys.size(), idx.data(), nullptr);
  size_t batchMismatches = 0;
  for (size_t i = 0; i < keys.size(); ++i) batchMismatches += (idx[i] < 0 ? -1 : ids[size_t(idx[i])]) != want[i];
  EXPECT_EQ(batchMismatches, 0u) << set << " (batched search)";
}

TEST(Jit, ClassBenchAcl1k) { classbench("acl1_1k"); }
TEST(Jit, ClassBenchFw1k) { classbench("fw1_1k"); }
TEST(Jit, ClassBenchIpc1k) { classbench("ipc1_1k"); }
// Several rule groups per chain; 100k rules within the memory the group partition bounds.
TEST(Jit, ClassBenchFw10k) { classbench("fw1_10k", 300); }
// Some groups with cross products, some without (over the budget).
TEST(Jit, ClassBenchFw10kMixedGroups) {
  jit::JitOptions opts;
  opts.crossEntries = size_t(1) << 21;
  classbench("fw1_10k", 0, opts, 3);
}
// The 100k sets through their TupleIndex (over packed rows, no cross products).
TEST(Jit, ClassBenchAcl100k) { classbench("acl1_100k", 0, {}, 0); }
TEST(Jit, ClassBenchIpc100k) { classbench("ipc1_100k", 0, {}, 0); }
TEST(Jit, ClassBenchFw100k) { classbench("fw1_100k", 0, {}, 0); }
// Without it (as for large IPv6 chains and chains with match() callbacks):
// acl1_100k's cross products would pass their budget (about 2,500 entries
// per rule): packed rows. fw1_100k's fit (about 540): dense groups, all with them.
jit::JitOptions noTupleIndex() {
  jit::JitOptions opts;
  opts.tupleIndex = false;
  return opts;
}
TEST(Jit, ClassBenchAcl100kPackedRows) { classbench("acl1_100k", 0, noTupleIndex(), 0); }
// Packed rows too; per packet 1.7 candidate groups without a match and 1.3
// empty first words, which the vector rounds leave to the scalar search.
TEST(Jit, ClassBenchIpc100kPackedRows) { classbench("ipc1_100k", 0, noTupleIndex(), 0); }
TEST(Jit, ClassBenchFw100kDenseRows) { classbench("fw1_100k", 0, noTupleIndex()); }
// The scalar batch search (what a CPU without AVX-512 runs); JitBatch.* compares it with the vector one
// on many groups.
TEST(Jit, ClassBenchScalarSearch) {
  jit::JitOptions opts;
  opts.simd = false;
  classbench("acl1_1k", 0, opts);
  classbench("ipc1_1k", 0, opts);
}

TEST(Jit, EmitsLlvmIrAsmAndObject) {
  Ruleset rs = parse(kStateful, Family::IPv4);
  std::string out, err;
  jit::JitStats st;
  ASSERT_TRUE(jit::emitCode(rs, jit::EmitKind::LlvmIr, out, err, &st)) << err;
  EXPECT_NE(out.find("@nfjit_chain_1_g0("), std::string::npos);  // FORWARD's residual checks
  EXPECT_NE(out.find("nfjit_rt_match"), std::string::npos);
  EXPECT_EQ(st.rules, 8u);
  ASSERT_TRUE(jit::emitCode(rs, jit::EmitKind::Asm, out, err)) << err;
  EXPECT_NE(out.find("nfjit_chain_1_g0"), std::string::npos);
  ASSERT_TRUE(jit::emitCode(rs, jit::EmitKind::Obj, out, err)) << err;
  ASSERT_GT(out.size(), 4u);
  EXPECT_EQ(out.substr(0, 4), "\x7f" "ELF");
}

}  // namespace
}  // namespace nfjit
