// The reference interpreter's traversal: first match, jumps and RETURN,
// goto, policies, non-terminating rules, counters, hotdrop.
#include <gtest/gtest.h>

#include "compiler/frontend/RestoreParser.h"
#include "tests/support/RulesetFixture.h"
#include "compiler/interp/Interpreter.h"
#include "runtime/packet/PacketParser.h"
#include "tests/support/PacketBuilder.h"

namespace nfjit {
namespace {

using testing::PacketSpec;

Ruleset parse(const std::string& text, Family f = Family::IPv4) { return testsupport::parseRules(text, f); }

struct Run {
  TraversalResult res;
  std::vector<uint8_t> bytes;
};

TraversalResult runPacket(Interpreter& in, const PacketSpec& spec, Hook hook = Hook::LocalIn,
                          const std::string& table = "filter", const std::string& iif = "in0") {
  auto bytes = testing::buildPacket(spec);
  PacketView pv;
  EXPECT_EQ(parseL3(spec.family, bytes.data(), static_cast<uint32_t>(bytes.size()), pv), L3Status::Ok);
  pv.inIface = iif;
  EvalContext ctx{pv};
  return in.run(table, hook, ctx);
}

const char* kChains = R"(*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ssh - [0:0]
:tail - [0:0]
:gone - [0:0]
-A INPUT -s 203.0.113.0/24
-A INPUT -p tcp -m tcp --dport 22 -j ssh
-A INPUT -p tcp -m tcp --dport 23 -g gone
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
-A ssh -s 192.0.2.0/25 -j RETURN
-A ssh -p tcp -m tcp --sport 1000:2000 -j tail
-A ssh -j ACCEPT
-A tail -j DROP
-A gone -s 192.0.2.10/32 -j RETURN
COMMIT
)";

TEST(Interpreter, FirstMatchAccept) {
  Ruleset rs = parse(kChains);
  Interpreter in(rs);
  PacketSpec p;
  p.dport = 80;
  auto r = runPacket(in, p);
  EXPECT_EQ(r.verdict, Verdict::Accept);
  ASSERT_EQ(r.matched.size(), 1u);
  EXPECT_EQ(r.matched[0].rule, 3u);
}

TEST(Interpreter, ReturnFromUserChainContinuesInCaller) {
  Ruleset rs = parse(kChains);
  Interpreter in(rs);
  PacketSpec p;  // 192.0.2.10 -> RETURN in ssh, then no rule in INPUT matches port 22 -> policy DROP
  p.dport = 22;
  auto r = runPacket(in, p);
  EXPECT_EQ(r.verdict, Verdict::Drop);
  ASSERT_EQ(r.matched.size(), 3u);
  EXPECT_TRUE(r.matched.back().isPolicy);
  EXPECT_EQ(in.counters().policy(0, 0).packets, 1u);
}

TEST(Interpreter, NestedJumpDrops) {
  Ruleset rs = parse(kChains);
  Interpreter in(rs);
  PacketSpec p;
  p.src = "192.0.2.200";
  p.dport = 22;
  p.sport = 1500;
  auto r = runPacket(in, p);
  EXPECT_EQ(r.verdict, Verdict::Drop);
  EXPECT_FALSE(r.matched.back().isPolicy);
}

TEST(Interpreter, UserChainEndReturnsToCaller) {
  Ruleset rs = parse(kChains);
  Interpreter in(rs);
  PacketSpec p;
  p.src = "192.0.2.200";
  p.dport = 22;
  p.sport = 3000;
  auto r = runPacket(in, p);
  EXPECT_EQ(r.verdict, Verdict::Accept);  // ssh's last rule
}

TEST(Interpreter, GotoReturnsToCallersCaller) {
  Ruleset rs = parse(kChains);
  Interpreter in(rs);
  PacketSpec p;  // RETURN in `gone` leaves INPUT (entered by goto from a built-in): the policy decides
  p.dport = 23;
  auto r = runPacket(in, p);
  EXPECT_EQ(r.verdict, Verdict::Drop);
  EXPECT_TRUE(r.matched.back().isPolicy);
}

TEST(Interpreter, TargetlessRuleCountsAndContinues) {
  Ruleset rs = parse(kChains);
  Interpreter in(rs);
  PacketSpec p;
  p.src = "203.0.113.5";
  p.dport = 80;
  auto bytes = testing::buildPacket(p);
  auto r = runPacket(in, p);
  EXPECT_EQ(r.verdict, Verdict::Accept);
  ASSERT_EQ(r.matched.size(), 2u);
  EXPECT_EQ(in.counters().rule(0, 0, 0).packets, 1u);
  EXPECT_EQ(in.counters().rule(0, 0, 0).bytes, bytes.size());
}

TEST(Interpreter, TableWithoutHookChainAccepts) {
  Ruleset rs = parse(kChains);
  Interpreter in(rs);
  PacketSpec p;
  auto r = runPacket(in, p, Hook::PreRouting, "filter");
  EXPECT_EQ(r.verdict, Verdict::Accept);
  EXPECT_TRUE(r.matched.empty());
}

TEST(Interpreter, TruncatedTcpHeaderIsHotdropped) {
  Ruleset rs = parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n");
  Interpreter in(rs);
  PacketSpec p;
  auto bytes = testing::buildPacket(p);
  // Cut the TCP header short and fix the IP total length and checksum.
  bytes.resize(30);
  bytes[2] = 0;
  bytes[3] = 30;
  bytes[10] = bytes[11] = 0;
  uint16_t c = internetChecksum(bytes.data(), 20);
  bytes[10] = static_cast<uint8_t>(c >> 8);
  bytes[11] = static_cast<uint8_t>(c);
  PacketView pv;
  ASSERT_EQ(parseL3(Family::IPv4, bytes.data(), 30, pv), L3Status::Ok);
  EvalContext ctx{pv};
  auto r = in.run("filter", Hook::LocalIn, ctx);
  EXPECT_TRUE(r.hotdrop);
  EXPECT_EQ(r.verdict, Verdict::Drop);
}

TEST(Interpreter, InterfaceWildcardAndNegation) {
  Ruleset rs = parse("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -i eth+ ! -o eth1 -j ACCEPT\nCOMMIT\n");
  Interpreter in(rs);
  PacketSpec p;
  auto bytes = testing::buildPacket(p);
  PacketView pv;
  ASSERT_EQ(parseL3(Family::IPv4, bytes.data(), static_cast<uint32_t>(bytes.size()), pv), L3Status::Ok);
  pv.inIface = "eth7";
  pv.outIface = "eth2";
  EvalContext ctx{pv};
  EXPECT_EQ(in.run("filter", Hook::Forward, ctx).verdict, Verdict::Accept);
  pv.outIface = "eth1";
  EvalContext ctx2{pv};
  EXPECT_EQ(in.run("filter", Hook::Forward, ctx2).verdict, Verdict::Drop);
  pv.inIface = "et";
  pv.outIface = "eth2";
  EvalContext ctx3{pv};
  EXPECT_EQ(in.run("filter", Hook::Forward, ctx3).verdict, Verdict::Drop);
}

TEST(Interpreter, Ipv6ProtocolAfterExtensionHeaders) {
  Ruleset rs = parse("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT\nCOMMIT\n", Family::IPv6);
  Interpreter in(rs);
  PacketSpec p;
  p.family = Family::IPv6;
  p.src = "2001:db8:1::10";
  p.dst = "2001:db8:2::20";
  p.dport = 443;
  auto bytes = testing::buildPacket(p);
  // Insert an 8-byte destination-options header before TCP.
  std::vector<uint8_t> dstopts = {6, 0, 1, 4, 0, 0, 0, 0};
  bytes[6] = 60;
  bytes.insert(bytes.begin() + 40, dstopts.begin(), dstopts.end());
  uint16_t pl = static_cast<uint16_t>(bytes.size() - 40);
  bytes[4] = static_cast<uint8_t>(pl >> 8);
  bytes[5] = static_cast<uint8_t>(pl);
  PacketView pv;
  ASSERT_EQ(parseL3(Family::IPv6, bytes.data(), static_cast<uint32_t>(bytes.size()), pv), L3Status::Ok);
  EXPECT_EQ(pv.protocol, 6);
  EXPECT_EQ(pv.thoff, 48u);
  EvalContext ctx{pv};
  EXPECT_EQ(in.run("filter", Hook::LocalIn, ctx).verdict, Verdict::Accept);
}

TEST(PacketParser, RejectsMalformedIpv4) {
  PacketSpec p;
  auto bytes = testing::buildPacket(p);
  PacketView pv;
  EXPECT_EQ(parseL3(Family::IPv4, bytes.data(), 10, pv), L3Status::Truncated);
  auto bad = bytes;
  bad[0] = 0x44;  // IHL 16 bytes
  EXPECT_EQ(parseL3(Family::IPv4, bad.data(), static_cast<uint32_t>(bad.size()), pv), L3Status::BadHeaderLength);
  bad = bytes;
  bad[10] ^= 0xff;
  EXPECT_EQ(parseL3(Family::IPv4, bad.data(), static_cast<uint32_t>(bad.size()), pv), L3Status::BadChecksum);
  bad = bytes;
  bad[0] = 0x65;
  EXPECT_EQ(parseL3(Family::IPv4, bad.data(), static_cast<uint32_t>(bad.size()), pv), L3Status::BadVersion);
  // Link-layer padding beyond the IP total length is not part of the packet.
  auto padded = bytes;
  padded.resize(bytes.size() + 6, 0);
  ASSERT_EQ(parseL3(Family::IPv4, padded.data(), static_cast<uint32_t>(padded.size()), pv), L3Status::Ok);
  EXPECT_EQ(pv.len, bytes.size());
}

}  // namespace
}  // namespace nfjit
