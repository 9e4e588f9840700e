// TupleIndex (compiler/jit/TupleIndex.h) at its edges: the search from a
// rule other than the first, a bucket too long to index, and rules the
// index may not reorder (match() callbacks). The random differential tests
// are JitBatch.TupleIndex* and JitUpdate.RandomUpdatesTupleIndex*.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "compiler/interp/Interpreter.h"
#include "compiler/jit/Jit.h"
#include "compiler/jit/TupleIndex.h"
#include "runtime/packet/PacketParser.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RulesetFixture.h"

namespace nfjit {
namespace {

// Every chain "large": packed rows in groups of 256, with a TupleIndex where it applies.
jit::JitOptions largeChains() {
  jit::JitOptions o;
  o.groupRules = o.largeGroupRules = 256;
  o.packRowsAbove = 0;
  o.largeCrossEntriesPerRule = 0;
  return o;
}

std::string chainText(const std::vector<std::string>& lines) {
  std::ostringstream t;
  t << "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:c - [0:0]\n-A FORWARD -j c\n";
  for (const auto& l : lines) t << "-A c" << l << "\n";
  t << "COMMIT\n";
  return t.str();
}

struct Built {
  Ruleset rs;
  std::unique_ptr<jit::JitClassifier> jit;
  size_t ci = 0;
  explicit Built(const std::vector<std::string>& lines, jit::JitOptions o = largeChains())
      : rs(testsupport::parseRules(chainText(lines), Family::IPv4)) {
    jit = std::make_unique<jit::JitClassifier>(rs, o);
    ci = size_t(rs.tables[0].findChain("c") - rs.tables[0].chains.data());
  }
  bool indexed() {
    jit::EpochDomain::Reader r(jit->epochs());
    jit::ReadSection s(r);
    return jit->chainSearch(0, ci).current()->tuples != nullptr;
  }
  // Every rule of c that matches, by repeated findNext from the rule after the last match.
  std::vector<int32_t> matches(const testing::PacketSpec& spec, const std::string& in = "in0") {
    std::vector<uint8_t> bytes = testing::buildPacket(spec);
    PacketView p;
    EXPECT_EQ(parseL3(Family::IPv4, bytes.data(), uint32_t(bytes.size()), p), L3Status::Ok);
    p.inIface = in;
    std::vector<int32_t> out;
    for (uint32_t from = 0;;) {
      EvalContext ctx{p};
      int32_t r = jit->findNext(0, ci, from, ctx);
      if (r < 0) return out;
      if (uint32_t(r) < from) {  // a search that went back would loop forever
        ADD_FAILURE() << "findNext from " << from << " gave " << r;
        return out;
      }
      out.push_back(r);
      from = uint32_t(r) + 1;
    }
  }
};

testing::PacketSpec packet(const std::string& src, const std::string& dst, uint16_t dport) {
  testing::PacketSpec s;
  s.src = src, s.dst = dst, s.dport = dport;
  return s;
}

// Rules of different tables (cut lengths) that all match one packet, in an
// order that is not the tables' order: each search from rule i finds rule i.
TEST(TupleIndex, SearchFromEveryRule) {
  std::vector<std::string> lines;
  const char* shapes[] = {" -s 192.0.2.7/32 -d 198.51.100.9/32", " -s 192.0.2.0/24", " -d 198.51.100.0/22",
                          " -p tcp --dport 80", " -s 192.0.0.0/12 -d 198.51.100.9", " ! -s 10.0.0.0/8 -p tcp",
                          " -s 192.0.2.7 ! -d 203.0.113.0/24 -p tcp ! --dport 81:90"};
  for (int round = 0; round < 40; ++round)
    for (const char* s : shapes) lines.push_back(s);
  lines.push_back(" -s 203.0.113.1");  // never for this packet
  Built b(lines);
  ASSERT_TRUE(b.indexed());
  std::vector<int32_t> got = b.matches(packet("192.0.2.7", "198.51.100.9", 80));
  ASSERT_EQ(got.size(), lines.size() - 1);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], int32_t(i));
  // Another packet: the /24 source and "! -s 10.0.0.0/8 -p tcp"; the
  // inverted destination and port ranges (two intervals each) exclude it.
  got = b.matches(packet("192.0.2.7", "203.0.113.5", 85));
  for (int32_t r : got) EXPECT_TRUE(r % 7 == 1 || r % 7 == 5) << lines[size_t(r)];
  EXPECT_EQ(got.size(), 80u);
  got = b.matches(packet("192.0.2.7", "203.0.112.5", 91));  // outside both inverted ranges
  EXPECT_EQ(std::count_if(got.begin(), got.end(), [](int32_t r) { return r % 7 == 6; }), 40);
}

// 5,000 rules differing only in their port: one bucket past kMaxBucket, so
// the chain keeps its packed rows; the search stays right.
TEST(TupleIndex, LongBucketKeepsPackedRows) {
  std::vector<std::string> lines;
  for (int i = 0; i < 5000; ++i) lines.push_back(" -p tcp --dport " + std::to_string(1 + i));
  Built b(lines);
  EXPECT_FALSE(b.indexed());
  EXPECT_EQ(b.matches(packet("192.0.2.1", "198.51.100.1", 4321)), std::vector<int32_t>{4320});
  // Split over two /16s of destination: two buckets within the limit.
  for (int i = 0; i < 5000; ++i) lines[size_t(i)] += i % 2 ? " -d 198.51.0.0/16" : " -d 198.52.0.0/16";
  Built split(lines);
  EXPECT_TRUE(split.indexed());
  EXPECT_EQ(split.matches(packet("192.0.2.1", "198.51.100.1", 4320)), std::vector<int32_t>{4319});
  EXPECT_TRUE(split.matches(packet("192.0.2.1", "198.51.100.1", 4321)).empty());
}

// A match() callback (here -m length) may have effects that must follow
// rule order: no index. Interfaces and TCP flags are key tests: indexed.
TEST(TupleIndex, CallbacksKeepPackedRows) {
  Built withLength({" -s 192.0.2.0/24 -i in0", " -p tcp -m length --length 0:1000", " -p tcp --tcp-flags SYN SYN"});
  EXPECT_FALSE(withLength.indexed());
  Built keyTests({" -s 192.0.2.0/24 -i in1", " -p tcp --tcp-flags SYN,ACK ACK", " -p tcp --tcp-flags SYN SYN"});
  EXPECT_TRUE(keyTests.indexed());
  EXPECT_EQ(keyTests.matches(packet("192.0.2.1", "198.51.100.1", 22), "in0"), std::vector<int32_t>{2});
  EXPECT_EQ(keyTests.matches(packet("192.0.2.1", "198.51.100.1", 22), "in1"), (std::vector<int32_t>{0, 2}));
  // Off by option, and for chains below packRowsAbove.
  jit::JitOptions off = largeChains();
  off.tupleIndex = false;
  EXPECT_FALSE(Built({" -s 192.0.2.0/24"}, off).indexed());
  EXPECT_FALSE(Built({" -s 192.0.2.0/24"}, jit::JitOptions{}).indexed());
}

}  // namespace
}  // namespace nfjit
