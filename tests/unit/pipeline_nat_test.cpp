// NAT in the reference pipeline (runtime/pipeline/HookPipeline.h): DNAT
// before routing changes the path and what filter sees, REDIRECT to the
// arrival interface, SNAT/MASQUERADE in the bytes that leave (checksums
// recomputed here from scratch), later and reply packets of a connection,
// IPv6, NETMAP, port choice, and the OUTPUT path of generated packets.
#include <gtest/gtest.h>

#include "runtime/packet/PacketParser.h"
#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RulesetFixture.h"

namespace nfjit {
namespace {

using testing::flowPacket;

using testing::PacketSpec;
using F = PipelineResult::Fate;

const char* kNat = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";

std::string filter(const std::string& policy, const std::string& body) {
  return "*filter\n:INPUT " + policy + " [0:0]\n:FORWARD " + policy + " [0:0]\n:OUTPUT " + policy + " [0:0]\n" +
         body + "COMMIT\n";
}

IpAddr addr(Family f, const char* s) { return *parseIpAddr(f, s); }

// 192.0.2.0/24 inside on in0 (the host is .1), the rest outside on out0
// (the host is 203.0.113.2 there).
HostModel host4() {
  HostModel h;
  h.localAddrs = {addr(Family::IPv4, "192.0.2.1"), addr(Family::IPv4, "203.0.113.2")};
  h.routes.push_back({addr(Family::IPv4, "192.0.2.0"), 24, "in0"});
  h.ifaceAddrs = {{"in0", addr(Family::IPv4, "192.0.2.1")}, {"out0", addr(Family::IPv4, "203.0.113.2")}};
  return h;
}

HostModel host6() {
  HostModel h;
  h.localAddrs = {addr(Family::IPv6, "2001:db8::1"), addr(Family::IPv6, "2001:db8:2::2")};
  h.routes.push_back({addr(Family::IPv6, "2001:db8::"), 64, "in0"});
  h.ifaceAddrs = {{"in0", addr(Family::IPv6, "2001:db8::1")}, {"out0", addr(Family::IPv6, "2001:db8:2::2")}};
  return h;
}

// The packet as the header says, and its checksums verified from scratch.
struct Seen {
  std::string src, dst;
  uint16_t sport = 0, dport = 0;
  uint8_t ttl = 0;
  bool ipCsumOk = true, l4CsumOk = true;
  uint16_t l4Csum = 0;
};

Seen look(Family f, std::vector<uint8_t> b) {
  Seen s;
  PacketView pv;
  EXPECT_EQ(parseL3(f, b.data(), uint32_t(b.size()), pv), L3Status::Ok);
  s.src = formatIpAddr(f, pv.src);
  s.dst = formatIpAddr(f, pv.dst);
  s.ttl = pv.ttl;
  const uint8_t* l4 = b.data() + pv.thoff;
  const uint32_t l4len = pv.len - pv.thoff;
  if (pv.protocol == 6 || pv.protocol == 17) {
    s.sport = be16(l4);
    s.dport = be16(l4 + 2);
  }
  if (f == Family::IPv4) s.ipCsumOk = internetChecksum(b.data(), (b[0] & 0xf) * 4u) == 0;
  uint32_t pseudo = 0;
  const unsigned n = f == Family::IPv4 ? 4 : 16;
  for (unsigned i = 0; i < n; i += 2)
    pseudo += (uint32_t(pv.src.b[i]) << 8 | pv.src.b[i + 1]) + (uint32_t(pv.dst.b[i]) << 8 | pv.dst.b[i + 1]);
  pseudo += pv.protocol + l4len;
  if (pv.protocol == 6) {
    s.l4Csum = be16(l4 + 16);
    s.l4CsumOk = internetChecksum(l4, l4len, pseudo) == 0;
  } else if (pv.protocol == 17) {
    s.l4Csum = be16(l4 + 6);
    s.l4CsumOk = s.l4Csum == 0 || internetChecksum(l4, l4len, pseudo) == 0;
  }
  return s;
}

PipelineResult receive(HookPipeline& p, std::vector<uint8_t>& b, const std::string& in = "") {
  return p.process(b.data(), uint32_t(b.size()), PktType::Host, {}, false, 0, 0, in);
}

bool ranChain(const PipelineResult& r, const std::string& table, Hook h) {
  for (const auto& s : r.steps)
    if (s.table == table && s.hook == h) return true;
  return false;
}

// A DNAT to an address that is not the host's turns a packet for the host
// into a forwarded one, and filter FORWARD sees the new destination/port.
TEST(PipelineNat, DnatChangesRouting) {
  const std::string f = filter("DROP", "-A FORWARD -d 192.0.2.10/32 -p tcp -m tcp --dport 8080 -j ACCEPT\n");
  Ruleset rs = testsupport::parseRules(
      std::string(kNat) + "-A PREROUTING -d 203.0.113.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination "
                          "192.0.2.10:8080\nCOMMIT\n" + f);
  HookPipeline pipe(rs, host4());
  auto b = testing::buildPacket(flowPacket(Family::IPv4, "198.51.100.7", "203.0.113.2", 6, 40000, 80));
  auto r = receive(pipe, b, "out0");
  ASSERT_EQ(r.fate, F::Forwarded) << r.reason;
  EXPECT_TRUE(r.forwardPath);
  ASSERT_TRUE(ranChain(r, "filter", Hook::Forward));
  ASSERT_EQ(r.natApplied.size(), 1u);
  EXPECT_EQ(r.natApplied[0].describe(Family::IPv4), "PREROUTING dst 203.0.113.2:80 -> 192.0.2.10:8080");
  ASSERT_EQ(r.emitted.size(), 1u);
  EXPECT_EQ(r.emitted[0].iface, "in0");
  Seen s = look(Family::IPv4, r.emitted[0].l3);
  EXPECT_EQ(s.dst, "192.0.2.10");
  EXPECT_EQ(s.dport, 8080);
  EXPECT_EQ(s.src, "198.51.100.7");
  EXPECT_EQ(s.ttl, 63);
  EXPECT_TRUE(s.ipCsumOk);
  EXPECT_TRUE(s.l4CsumOk);
  // Another port is not DNATed: it stays the host's, and INPUT drops it.
  auto other = testing::buildPacket(flowPacket(Family::IPv4, "198.51.100.7", "203.0.113.2", 6, 40000, 81));
  auto r2 = receive(pipe, other, "out0");
  EXPECT_EQ(r2.fate, F::Dropped);
  EXPECT_FALSE(r2.forwardPath);
  EXPECT_TRUE(r2.natApplied.empty());
}

// REDIRECT: the arrival interface's primary address, --to-ports; the RST
// the host answers with is un-DNATed on the way out.
TEST(PipelineNat, RedirectToTheInterfaceAddress) {
  Ruleset rs = testsupport::parseRules(
      std::string(kNat) + "-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 3128\nCOMMIT\n" +
      filter("DROP", "-A INPUT -d 192.0.2.1/32 -p tcp -m tcp --dport 3128 -j ACCEPT\n-A OUTPUT -j ACCEPT\n"));
  HookPipeline pipe(rs, host4());
  auto b = testing::buildPacket(flowPacket(Family::IPv4, "192.0.2.50", "198.51.100.20", 6, 40000, 80));
  auto r = receive(pipe, b, "in0");
  ASSERT_EQ(r.fate, F::Delivered) << r.reason;
  ASSERT_EQ(r.natApplied.size(), 1u);
  EXPECT_EQ(r.natApplied[0].describe(Family::IPv4), "PREROUTING dst 198.51.100.20:80 -> 192.0.2.1:3128");
  ASSERT_EQ(r.replies.size(), 1u);
  EXPECT_EQ(r.replies[0].fate, F::Sent);
  ASSERT_EQ(r.replies[0].natApplied.size(), 1u);
  EXPECT_TRUE(r.replies[0].natApplied[0].reply);
  EXPECT_TRUE(r.replies[0].natApplied[0].source);
  ASSERT_EQ(r.emitted.size(), 1u);
  Seen rst = look(Family::IPv4, r.emitted[0].l3);
  EXPECT_EQ(rst.src, "198.51.100.20");
  EXPECT_EQ(rst.sport, 80);
  EXPECT_EQ(rst.dst, "192.0.2.50");
  EXPECT_EQ(rst.dport, 40000);
  EXPECT_TRUE(rst.ipCsumOk);
  EXPECT_TRUE(rst.l4CsumOk);
}

// SNAT (TCP) and MASQUERADE (UDP) in the bytes that leave, checksums valid;
// a UDP checksum of 0 stays 0.
TEST(PipelineNat, SnatAndMasqueradeKeepChecksumsValid) {
  Ruleset rs = testsupport::parseRules(std::string(kNat) +
                                       "-A POSTROUTING -o out0 -p tcp -j SNAT --to-source 203.0.113.9\n"
                                       "-A POSTROUTING -o out0 -p udp -j MASQUERADE\nCOMMIT\n");
  HookPipeline pipe(rs, host4());
  auto t = testing::buildPacket(flowPacket(Family::IPv4, "192.0.2.10", "198.51.100.20", 6, 40000, 443));
  auto r = receive(pipe, t, "in0");
  ASSERT_EQ(r.fate, F::Forwarded);
  ASSERT_EQ(r.emitted.size(), 1u);
  Seen s = look(Family::IPv4, r.emitted[0].l3);
  EXPECT_EQ(s.src, "203.0.113.9");
  EXPECT_EQ(s.sport, 40000);  // no port range: the port is kept
  EXPECT_EQ(s.dst, "198.51.100.20");
  EXPECT_TRUE(s.ipCsumOk);
  EXPECT_TRUE(s.l4CsumOk);
  ASSERT_EQ(r.natApplied.size(), 1u);
  EXPECT_EQ(r.natApplied[0].hook, Hook::PostRouting);
  EXPECT_TRUE(r.natApplied[0].source);

  PacketSpec us = flowPacket(Family::IPv4, "192.0.2.11", "198.51.100.20", 17, 5353, 53);
  us.payload = 13;  // odd length: the checksum pads
  auto u = testing::buildPacket(us);
  ASSERT_NE(look(Family::IPv4, u).l4Csum, 0);
  auto ru = receive(pipe, u, "in0");
  ASSERT_EQ(ru.emitted.size(), 1u);
  Seen su = look(Family::IPv4, ru.emitted[0].l3);
  EXPECT_EQ(su.src, "203.0.113.2");  // out0's address
  EXPECT_TRUE(su.ipCsumOk);
  EXPECT_TRUE(su.l4CsumOk);
  EXPECT_NE(su.l4Csum, 0);

  auto z = testing::buildPacket(flowPacket(Family::IPv4, "192.0.2.12", "198.51.100.20", 17, 5353, 53));
  z[20 + 6] = z[20 + 7] = 0;  // no UDP checksum
  auto rz = receive(pipe, z, "in0");
  ASSERT_EQ(rz.emitted.size(), 1u);
  Seen sz = look(Family::IPv4, rz.emitted[0].l3);
  EXPECT_EQ(sz.src, "203.0.113.2");
  EXPECT_TRUE(sz.ipCsumOk);
  EXPECT_EQ(sz.l4Csum, 0);
}

// A host model that names no address for the out interface says nothing
// about it: MASQUERADE leaves the source alone rather than dropping.
TEST(PipelineNat, MasqueradeWithoutKnownAddressKeepsTheSource) {
  Ruleset rs = testsupport::parseRules(std::string(kNat) + "-A POSTROUTING -o out0 -j MASQUERADE\nCOMMIT\n");
  HookPipeline pipe(rs, HostModel{});
  auto b = testing::buildPacket(flowPacket(Family::IPv4, "192.0.2.10", "198.51.100.20", 6, 40000, 443));
  auto r = receive(pipe, b);
  ASSERT_EQ(r.fate, F::Forwarded);
  EXPECT_TRUE(r.natApplied.empty());
  EXPECT_EQ(look(Family::IPv4, r.emitted.at(0).l3).src, "192.0.2.10");
}

// The nat chains see only the first packet; later packets get the same
// rewrite, and replies the reverse one (un-SNAT before routing, un-DNAT on
// the way out), as conntrack NAT.
TEST(PipelineNat, LaterAndReplyPacketsOfTheConnection) {
  Ruleset rs = testsupport::parseRules(
      std::string(kNat) +
      "-A PREROUTING -d 203.0.113.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.10:8080\n"
      "-A POSTROUTING -d 192.0.2.10/32 -p tcp -j SNAT --to-source 192.0.2.1:20000-20010\nCOMMIT\n");
  HookPipeline pipe(rs, host4());
  auto first = testing::buildPacket(flowPacket(Family::IPv4, "198.51.100.7", "203.0.113.2", 6, 40000, 80));
  auto r1 = receive(pipe, first, "out0");
  ASSERT_EQ(r1.fate, F::Forwarded);
  EXPECT_TRUE(ranChain(r1, "nat", Hook::PreRouting));
  ASSERT_EQ(r1.natApplied.size(), 2u);
  Seen s1 = look(Family::IPv4, r1.emitted.at(0).l3);
  EXPECT_EQ(s1.src, "192.0.2.1");
  EXPECT_EQ(s1.sport, 20000);  // outside the range: its lowest port (stated simplification)
  EXPECT_EQ(s1.dst, "192.0.2.10");
  EXPECT_EQ(s1.dport, 8080);

  PacketSpec later = flowPacket(Family::IPv4, "198.51.100.7", "203.0.113.2", 6, 40000, 80);
  later.tcpFlags = 0x10;
  later.payload = 100;
  auto b2 = testing::buildPacket(later);
  auto r2 = receive(pipe, b2, "out0");
  ASSERT_EQ(r2.fate, F::Forwarded);
  EXPECT_FALSE(ranChain(r2, "nat", Hook::PreRouting));
  EXPECT_FALSE(ranChain(r2, "nat", Hook::PostRouting));
  Seen s2 = look(Family::IPv4, r2.emitted.at(0).l3);
  EXPECT_EQ(s2.src, s1.src);
  EXPECT_EQ(s2.sport, s1.sport);
  EXPECT_EQ(s2.dst, s1.dst);
  EXPECT_EQ(s2.dport, s1.dport);
  EXPECT_TRUE(s2.ipCsumOk);
  EXPECT_TRUE(s2.l4CsumOk);

  PacketSpec back = flowPacket(Family::IPv4, "192.0.2.10", "192.0.2.1", 6, 8080, 20000);
  back.tcpFlags = 0x12;
  auto b3 = testing::buildPacket(back);
  auto r3 = receive(pipe, b3, "in0");
  // Un-SNAT before routing: no longer for the host, forwarded to the client.
  ASSERT_EQ(r3.fate, F::Forwarded) << r3.reason;
  ASSERT_EQ(r3.natApplied.size(), 2u);
  EXPECT_TRUE(r3.natApplied[0].reply);
  EXPECT_EQ(r3.natApplied[0].hook, Hook::PreRouting);
  EXPECT_EQ(r3.natApplied[1].hook, Hook::PostRouting);
  EXPECT_EQ(r3.emitted.at(0).iface, "out0");
  Seen s3 = look(Family::IPv4, r3.emitted.at(0).l3);
  EXPECT_EQ(s3.src, "203.0.113.2");
  EXPECT_EQ(s3.sport, 80);
  EXPECT_EQ(s3.dst, "198.51.100.7");
  EXPECT_EQ(s3.dport, 40000);
  EXPECT_TRUE(s3.ipCsumOk);
  EXPECT_TRUE(s3.l4CsumOk);
}

TEST(PipelineNat, Ipv6DnatAndSnat) {
  const std::string f = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                        "-A FORWARD -d 2001:db8::10/128 -p tcp -m tcp --dport 8080 -j ACCEPT\nCOMMIT\n";
  Ruleset rs = testsupport::parseRules(
      std::string(kNat) +
          "-A PREROUTING -d 2001:db8:2::2/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [2001:db8::10]:8080\n"
          "-A POSTROUTING -o in0 -j SNAT --to-source 2001:db8::1\nCOMMIT\n" + f,
      Family::IPv6);
  HookPipeline pipe(rs, host6());
  auto b = testing::buildPacket(flowPacket(Family::IPv6, "2001:db8:5::7", "2001:db8:2::2", 6, 40000, 80));
  auto r = receive(pipe, b, "out0");
  ASSERT_EQ(r.fate, F::Forwarded) << r.reason;
  ASSERT_EQ(r.emitted.size(), 1u);
  EXPECT_EQ(r.emitted[0].iface, "in0");
  Seen s = look(Family::IPv6, r.emitted[0].l3);
  EXPECT_EQ(s.dst, "2001:db8::10");
  EXPECT_EQ(s.dport, 8080);
  EXPECT_EQ(s.src, "2001:db8::1");
  EXPECT_EQ(s.sport, 40000);
  EXPECT_EQ(s.ttl, 63);
  EXPECT_TRUE(s.l4CsumOk);
  ASSERT_EQ(r.natApplied.size(), 2u);
  EXPECT_EQ(r.natApplied[0].describe(Family::IPv6), "PREROUTING dst [2001:db8:2::2]:80 -> [2001:db8::10]:8080");

  PacketSpec u = flowPacket(Family::IPv6, "2001:db8:5::7", "2001:db8:2::2", 17, 5000, 80);
  u.payload = 7;
  // Not DNATed (UDP): for the host, delivered unchanged.
  auto bu = testing::buildPacket(u);
  EXPECT_EQ(receive(pipe, bu, "out0").fate, F::Delivered);
}

// NETMAP keeps the host bits: exact, in either direction.
TEST(PipelineNat, NetmapMapsThePrefix) {
  Ruleset rs = testsupport::parseRules(std::string(kNat) +
                                       "-A PREROUTING -d 198.51.100.0/24 -j NETMAP --to 192.0.2.0/24\n"
                                       "-A POSTROUTING -s 192.0.2.0/25 -o out0 -j NETMAP --to 203.0.113.128/25\nCOMMIT\n");
  HookPipeline pipe(rs, host4());
  auto b = testing::buildPacket(flowPacket(Family::IPv4, "203.0.113.50", "198.51.100.77", 17, 1000, 53));
  auto r = receive(pipe, b, "out0");
  ASSERT_EQ(r.fate, F::Forwarded);
  Seen s = look(Family::IPv4, r.emitted.at(0).l3);
  EXPECT_EQ(s.dst, "192.0.2.77");
  EXPECT_EQ(s.dport, 53);
  EXPECT_TRUE(s.ipCsumOk);
  EXPECT_TRUE(s.l4CsumOk);
  auto o = testing::buildPacket(flowPacket(Family::IPv4, "192.0.2.33", "203.0.113.77", 6, 1234, 22));
  auto ro = receive(pipe, o, "in0");
  ASSERT_EQ(ro.fate, F::Forwarded);
  Seen so = look(Family::IPv4, ro.emitted.at(0).l3);
  EXPECT_EQ(so.src, "203.0.113.161");  // .33 with the upper bit of the /25 set
  EXPECT_EQ(so.dst, "203.0.113.77");
  EXPECT_TRUE(so.ipCsumOk);
  EXPECT_TRUE(so.l4CsumOk);
}

// Ranges: the lowest address; a destination port inside the range is kept,
// one outside becomes its lowest; "p-q/base" shifts by the distance from base.
TEST(PipelineNat, RangeChoice) {
  Ruleset rs = testsupport::parseRules(
      std::string(kNat) +
      "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.20-192.0.2.29:1000-2000\n"
      "-A PREROUTING -p tcp -m tcp --dport 1500 -j DNAT --to-destination 192.0.2.20-192.0.2.29:1000-2000\n"
      "-A PREROUTING -p tcp -m tcp --dport 5005 -j DNAT --to-destination 192.0.2.30:6000-6099/5000\nCOMMIT\n");
  HookPipeline pipe(rs, host4());
  auto a = testing::buildPacket(flowPacket(Family::IPv4, "198.51.100.7", "203.0.113.2", 6, 40000, 80));
  Seen sa = look(Family::IPv4, receive(pipe, a, "out0").emitted.at(0).l3);
  EXPECT_EQ(sa.dst, "192.0.2.20");
  EXPECT_EQ(sa.dport, 1000);
  auto b = testing::buildPacket(flowPacket(Family::IPv4, "198.51.100.7", "203.0.113.2", 6, 40000, 1500));
  Seen sb = look(Family::IPv4, receive(pipe, b, "out0").emitted.at(0).l3);
  EXPECT_EQ(sb.dst, "192.0.2.20");
  EXPECT_EQ(sb.dport, 1500);
  auto c = testing::buildPacket(flowPacket(Family::IPv4, "198.51.100.7", "203.0.113.2", 6, 40000, 5005));
  Seen sc = look(Family::IPv4, receive(pipe, c, "out0").emitted.at(0).l3);
  EXPECT_EQ(sc.dst, "192.0.2.30");
  EXPECT_EQ(sc.dport, 6005);
  EXPECT_TRUE(sc.l4CsumOk);
}

// processLocal: a generated packet through the OUTPUT path; nat OUTPUT
// DNAT reroutes it, filter OUTPUT sees the new destination.
TEST(PipelineNat, LocalOutputDnatReroutes) {
  Ruleset rs = testsupport::parseRules(
      std::string(kNat) +
      "-A OUTPUT -d 198.51.100.9/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.10:8080\n"
      "-A OUTPUT -d 198.51.100.8/32 -p tcp -j REDIRECT --to-ports 3128\nCOMMIT\n" +
      filter("ACCEPT", "-A OUTPUT -d 198.51.100.9/32 -j DROP\n"));
  HookPipeline pipe(rs, host4());
  auto b = testing::buildPacket(flowPacket(Family::IPv4, "203.0.113.2", "198.51.100.9", 6, 40000, 80));
  auto r = pipe.processLocal(b.data(), uint32_t(b.size()), 0, 0);
  ASSERT_EQ(r.fate, F::Sent) << r.reason;
  EXPECT_TRUE(r.outputPath);
  ASSERT_EQ(r.emitted.size(), 1u);
  EXPECT_EQ(r.emitted[0].iface, "in0");  // rerouted: 192.0.2.0/24 is on in0
  Seen s = look(Family::IPv4, r.emitted[0].l3);
  EXPECT_EQ(s.dst, "192.0.2.10");
  EXPECT_EQ(s.dport, 8080);
  EXPECT_EQ(s.ttl, 64);  // not forwarded: no decrement
  EXPECT_TRUE(s.ipCsumOk);
  EXPECT_TRUE(s.l4CsumOk);
  ASSERT_EQ(r.natApplied.size(), 1u);
  EXPECT_EQ(r.natApplied[0].hook, Hook::LocalOut);
  // REDIRECT of a generated packet: loopback.
  auto c = testing::buildPacket(flowPacket(Family::IPv4, "203.0.113.2", "198.51.100.8", 6, 40001, 80));
  auto rc = pipe.processLocal(c.data(), uint32_t(c.size()), 0, 0);
  ASSERT_EQ(rc.fate, F::Sent);
  EXPECT_EQ(rc.emitted.at(0).iface, "lo");
  Seen sc = look(Family::IPv4, rc.emitted.at(0).l3);
  EXPECT_EQ(sc.dst, "127.0.0.1");
  EXPECT_EQ(sc.dport, 3128);
  // Without the DNAT filter OUTPUT drops it.
  auto d = testing::buildPacket(flowPacket(Family::IPv4, "203.0.113.2", "198.51.100.9", 6, 40002, 81));
  EXPECT_EQ(pipe.processLocal(d.data(), uint32_t(d.size()), 0, 0).fate, F::Dropped);
}

}  // namespace
}  // namespace nfjit
