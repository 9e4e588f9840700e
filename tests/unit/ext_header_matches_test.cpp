// Packet semantics of the protocol and header matches, one TEST per match:
// each rule is parsed from iptables-save text (so option parsing is part of
// the test), then evaluated against packets that match, packets that do not
// (range ends +-1, `!` inversion), and packets the kernel hot-drops
// (truncated headers, IPv6 extension-header walk failures).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "compiler/frontend/RestoreParser.h"
#include "compiler/interp/Interpreter.h"
#include "compiler/ir/Extension.h"
#include "runtime/packet/PacketParser.h"
#include "runtime/packet/PacketView.h"
#include "tests/support/PacketBuilder.h"

namespace nfjit {
namespace {

using Bytes = std::vector<uint8_t>;
using Tweak = std::function<void(PacketView&)>;
constexpr Family V4 = Family::IPv4;
constexpr Family V6 = Family::IPv6;

struct Outcome {
  bool parsed = false;
  bool matched = false;  // every match held and nothing hot-dropped
  bool hotdrop = false;
};

// Parses `-A CHAIN <rule>` in the filter table and evaluates the rule's IP
// header part and its matches the way ipt_do_table/ip6t_do_table do.
Outcome evalRule(Family f, const std::string& rule, Bytes pkt, Hook hook = Hook::LocalIn,
                 const Tweak& tweak = nullptr) {
  Outcome out;
  std::string chain(hookChainName(hook));
  DiagnosticEngine d("test");
  ParseOptions po;
  po.family = f;
  Ruleset rs = parseRestore("*filter\n:" + chain + " ACCEPT [0:0]\n-A " + chain + " " + rule + "\nCOMMIT\n", po, d);
  if (d.hasErrors()) {
    std::string all;
    for (const auto& x : d.diagnostics()) all += d.format(x) + "\n";
    ADD_FAILURE() << "rule `" << rule << "' does not parse:\n" << all;
    return out;
  }
  const Rule& r = rs.findTable("filter")->findChain(chain)->rules.at(0);
  PacketView pv;
  L3Status st = parseL3(f, pkt.data(), static_cast<uint32_t>(pkt.size()), pv);
  if (st != L3Status::Ok) {
    ADD_FAILURE() << "test packet rejected by parseL3: " << l3StatusName(st);
    return out;
  }
  pv.inIface = "in0";
  if (tweak) tweak(pv);
  EvalContext ctx{pv};
  ctx.hook = hook;
  ctx.table = "filter";
  out.parsed = true;
  bool m = ipHeaderMatches(r.ip, f, ctx);
  for (const auto& mi : r.matches) {
    if (!m || ctx.hotdrop) break;
    m = mi.ext->match(ctx);
  }
  out.hotdrop = ctx.hotdrop;
  out.matched = m && !ctx.hotdrop;
  return out;
}

bool M(Family f, const std::string& rule, const Bytes& pkt, Hook hook = Hook::LocalIn,
       const Tweak& tweak = nullptr) {
  return evalRule(f, rule, pkt, hook, tweak).matched;
}
// Hot-dropped (and so not matched).
bool HD(Family f, const std::string& rule, const Bytes& pkt, Hook hook = Hook::LocalIn) {
  Outcome o = evalRule(f, rule, pkt, hook);
  return o.parsed && o.hotdrop && !o.matched;
}
// Neither matched nor hot-dropped.
bool NoMatchNoDrop(Family f, const std::string& rule, const Bytes& pkt, Hook hook = Hook::LocalIn) {
  Outcome o = evalRule(f, rule, pkt, hook);
  return o.parsed && !o.hotdrop && !o.matched;
}

// IPv4 packet 192.0.2.10 -> 198.51.100.20 around a raw L4 payload; `frag` is
// the flags/fragment-offset word (offset in 8-byte units, 0x2000 = MF).
Bytes v4(uint8_t proto, const Bytes& l4, uint8_t tos = 0, uint8_t ttl = 64, uint16_t frag = 0) {
  Bytes p(20, 0);
  p[0] = 0x45;
  p[1] = tos;
  uint16_t tl = static_cast<uint16_t>(20 + l4.size());
  p[2] = static_cast<uint8_t>(tl >> 8);
  p[3] = static_cast<uint8_t>(tl);
  p[6] = static_cast<uint8_t>(frag >> 8);
  p[7] = static_cast<uint8_t>(frag);
  p[8] = ttl;
  p[9] = proto;
  const uint8_t s[4] = {192, 0, 2, 10}, d[4] = {198, 51, 100, 20};
  std::memcpy(&p[12], s, 4);
  std::memcpy(&p[16], d, 4);
  uint16_t c = internetChecksum(p.data(), 20);
  p[10] = static_cast<uint8_t>(c >> 8);
  p[11] = static_cast<uint8_t>(c);
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

// IPv6 packet 2001:db8::1 -> 2001:db8::2 with first next-header `nh`.
Bytes v6(uint8_t nh, const Bytes& rest, uint8_t tc = 0, uint8_t hl = 64) {
  Bytes p(40, 0);
  p[0] = static_cast<uint8_t>(0x60 | (tc >> 4));
  p[1] = static_cast<uint8_t>((tc & 0xf) << 4);
  p[4] = static_cast<uint8_t>(rest.size() >> 8);
  p[5] = static_cast<uint8_t>(rest.size());
  p[6] = nh;
  p[7] = hl;
  const uint8_t pre[4] = {0x20, 0x01, 0x0d, 0xb8};
  std::memcpy(&p[8], pre, 4);
  p[23] = 1;
  std::memcpy(&p[24], pre, 4);
  p[39] = 2;
  p.insert(p.end(), rest.begin(), rest.end());
  return p;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// UDP 53 -> 1024, length 8.
const Bytes kUdp = {0x00, 0x35, 0x04, 0x00, 0, 8, 0, 0};
// TCP 1 -> 2, doff 6, CWR|ECE|SYN, MSS 1460 option.
const Bytes kTcpMss = {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0xc2, 0, 0, 0, 0, 0, 0, 2, 4, 0x05, 0xb4};

Bytes tcpPacket(Family f, uint8_t flags, const Bytes& opts = {}, uint16_t sport = 40000, uint16_t dport = 80) {
  testing::PacketSpec s;
  s.family = f;
  if (f == V6) s.src = "2001:db8::1", s.dst = "2001:db8::2";
  s.proto = 6;
  s.sport = sport;
  s.dport = dport;
  s.tcpFlags = flags;
  s.tcpOptions = opts;
  return testing::buildPacket(s);
}

// ---------------------------------------------------------------------------

TEST(HeaderMatchTcp, PortsAndFlags) {
  Bytes syn = tcpPacket(V4, 0x02);
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --sport 40000 --dport 80", syn));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --dport 79:80", syn));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --dport 80:81", syn));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --dport 81:90", syn));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --dport 70:79", syn));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --dport 81", syn));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp ! --dport 80", syn));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp ! --dport 81", syn));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --sport 40000:", syn));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --sport 40001:", syn));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --syn", syn));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp ! --syn", syn));
  Bytes synack = tcpPacket(V4, 0x12);
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --syn", synack));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp ! --syn", synack));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK", synack));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --tcp-flags SYN,ACK SYN", synack));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-flags ALL SYN,ACK", synack));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-flags NONE NONE", synack));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp ! --tcp-flags SYN,ACK SYN,ACK", synack));
  // IPv6 reaches the TCP header the same way.
  Bytes syn6 = tcpPacket(V6, 0x02);
  EXPECT_TRUE(M(V6, "-p tcp -m tcp --dport 80 --syn", syn6));
  EXPECT_FALSE(M(V6, "-p tcp -m tcp --dport 81", syn6));
}

TEST(HeaderMatchTcp, TcpOption) {
  // NOP, NOP, timestamp (kind 8, len 10), then MSS at the end.
  Bytes opts = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 2, 4, 0x05, 0xb4};
  Bytes p = tcpPacket(V4, 0x02, opts);
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-option 8", p));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-option 2", p));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-option 1", p));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --tcp-option 3", p));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp ! --tcp-option 3", p));
  EXPECT_FALSE(M(V4, "-p tcp -m tcp ! --tcp-option 8", p));
  // The option walk skips over option data: 0x05 (inside MSS) is no option.
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --tcp-option 5", p));
  // No options at all: nothing is found, the inversion holds.
  Bytes bare = tcpPacket(V4, 0x02);
  EXPECT_FALSE(M(V4, "-p tcp -m tcp --tcp-option 2", bare));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp ! --tcp-option 2", bare));
}

TEST(HeaderMatchTcp, OptionWalkEdgeCases) {
  // The kernel's option walk does not stop at End-of-options (kind 0): it
  // steps over it byte by byte like a NOP.
  Bytes afterEol = tcpPacket(V4, 0x02, {0, 0, 0, 0, 2, 4, 0x05, 0xb4});
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-option 2", afterEol));
  // An option with length 0 advances by one byte.
  Bytes zeroLen = tcpPacket(V4, 0x02, {30, 0, 2, 4, 0x05, 0xb4, 1, 1});
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-option 2", zeroLen));
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --tcp-option 30", zeroLen));
  // IPv6.
  EXPECT_TRUE(M(V6, "-p tcp -m tcp --tcp-option 2", tcpPacket(V6, 0x02, {2, 4, 0x05, 0xb4})));
  EXPECT_FALSE(M(V6, "-p tcp -m tcp --tcp-option 3", tcpPacket(V6, 0x02, {2, 4, 0x05, 0xb4})));
}

TEST(HeaderMatchTcp, TruncatedHeaderHotdrops) {
  // 10 bytes of TCP header.
  Bytes shortTcp = v4(6, {0x9c, 0x40, 0, 80, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(HD(V4, "-p tcp -m tcp --dport 80", shortTcp));
  EXPECT_TRUE(HD(V4, "-p tcp -m tcp ! --dport 80", shortTcp));
  // Data offset says 24 bytes of header, the packet ends after 20: the
  // option scan cannot read the options.
  Bytes cut = v4(6, {0x9c, 0x40, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0x02, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --dport 80", cut));
  EXPECT_TRUE(HD(V4, "-p tcp -m tcp --tcp-option 2", cut));
  // Data offset below 5 with --tcp-option: malformed, dropped.
  Bytes lowDoff = v4(6, {0x9c, 0x40, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x02, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --dport 80", lowDoff));
  EXPECT_TRUE(HD(V4, "-p tcp -m tcp --tcp-option 2", lowDoff));
}

TEST(HeaderMatchTcp, Fragments) {
  Bytes tcp20 = {0x9c, 0x40, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0, 0, 0, 0, 0, 0};
  // Fragment offset 1 (8 bytes) could overwrite the flags: always dropped.
  EXPECT_TRUE(HD(V4, "-p tcp -m tcp --dport 80", v4(6, tcp20, 0, 64, 0x0001)));
  // Later fragments carry no TCP header: no match, no drop.
  EXPECT_TRUE(NoMatchNoDrop(V4, "-p tcp -m tcp --dport 80", v4(6, tcp20, 0, 64, 0x0002)));
  EXPECT_TRUE(NoMatchNoDrop(V4, "-p tcp -m tcp ! --dport 80", v4(6, tcp20, 0, 64, 0x0002)));
  // A first fragment (MF set, offset 0) is matched normally.
  EXPECT_TRUE(M(V4, "-p tcp -m tcp --dport 80", v4(6, tcp20, 0, 64, 0x2000)));
}

TEST(HeaderMatchUdp, PortsFragmentsTruncation) {
  Bytes p = v4(17, kUdp);
  EXPECT_TRUE(M(V4, "-p udp -m udp --sport 53", p));
  EXPECT_FALSE(M(V4, "-p udp -m udp ! --sport 53", p));
  EXPECT_TRUE(M(V4, "-p udp -m udp ! --sport 54", p));
  EXPECT_TRUE(M(V4, "-p udp -m udp --dport 1000:2000", p));
  EXPECT_TRUE(M(V4, "-p udp -m udp --dport 1024:1024", p));
  EXPECT_TRUE(M(V4, "-p udp -m udp --dport 1024:", p));
  EXPECT_FALSE(M(V4, "-p udp -m udp --dport 1025:", p));
  EXPECT_TRUE(M(V4, "-p udp -m udp --dport :1024", p));
  EXPECT_FALSE(M(V4, "-p udp -m udp --dport :1023", p));
  EXPECT_FALSE(M(V4, "-p udp -m udp --sport 53 --dport 1023", p));
  // The protocol must be UDP.
  EXPECT_FALSE(M(V4, "-p udp -m udp --sport 53", v4(136, kUdp)));
  // Truncated: 3 bytes of header.
  EXPECT_TRUE(HD(V4, "-p udp -m udp --dport 1", v4(17, {0, 53, 4})));
  // Non-first fragment: no header, no match.
  EXPECT_TRUE(NoMatchNoDrop(V4, "-p udp -m udp --sport 53", v4(17, kUdp, 0, 64, 0x0001)));
  EXPECT_TRUE(M(V6, "-p udp -m udp --sport 53 --dport 1024", v6(17, kUdp)));
  EXPECT_FALSE(M(V6, "-p udp -m udp --sport 54", v6(17, kUdp)));
  // IPv6: the first fragment carries the header, a later one does not.
  Bytes first = v6(44, cat({17, 0, 0, 1, 0, 0, 0, 77}, kUdp));
  Bytes later = v6(44, cat({17, 0, 0, 0x10, 0, 0, 0, 77}, kUdp));
  EXPECT_TRUE(M(V6, "-p udp -m udp --sport 53", first));
  EXPECT_TRUE(NoMatchNoDrop(V6, "-p udp -m udp --sport 53", later));
}

TEST(HeaderMatchUdplite, Ports) {
  Bytes p = v4(136, kUdp);
  EXPECT_TRUE(M(V4, "-p udplite -m udplite --sport 53", p));
  EXPECT_TRUE(M(V4, "-p udplite -m udplite --dport 1024", p));
  EXPECT_FALSE(M(V4, "-p udplite -m udplite --dport 1025", p));
  EXPECT_FALSE(M(V4, "-p udplite -m udplite ! --sport 53", p));
  EXPECT_TRUE(HD(V4, "-p udplite -m udplite --sport 53", v4(136, {0, 53})));
}

TEST(HeaderMatchMultiport, PortLists) {
  Bytes p = v4(17, kUdp);  // 53 -> 1024
  EXPECT_TRUE(M(V4, "-p udp -m multiport --dports 1,1000:1100", p));
  EXPECT_FALSE(M(V4, "-p udp -m multiport ! --dports 1,1000:1100", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport --dports 1,1024", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport --dports 1024:1030", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport --dports 1000:1024", p));
  EXPECT_FALSE(M(V4, "-p udp -m multiport --dports 1025:1030,1,1023", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport ! --dports 1025:1030,1,1023", p));
  EXPECT_FALSE(M(V4, "-p udp -m multiport --sports 1,1000:1100", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport --sports 52:54", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport --ports 53", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport --ports 1000:1030", p));
  EXPECT_FALSE(M(V4, "-p udp -m multiport ! --ports 50:60", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport ! --ports 54:1023,1025", p));
  EXPECT_TRUE(M(V4, "-p udp -m multiport --ports 1024", p));
  EXPECT_FALSE(M(V4, "-p udp -m multiport --ports 54,1025", p));
  EXPECT_TRUE(M(V4, "-p tcp -m multiport --dports 22,80,443", tcpPacket(V4, 0x02)));
  EXPECT_TRUE(HD(V4, "-p udp -m multiport --dports 1", v4(17, {0, 53})));
  EXPECT_TRUE(NoMatchNoDrop(V4, "-p udp -m multiport --dports 1024", v4(17, kUdp, 0, 64, 0x0003)));
}

TEST(HeaderMatchSctp, PortsAndChunks) {
  // Common header (12 bytes), DATA chunk with flags 3 (B,E), INIT chunk.
  Bytes sctp = {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 8, 1, 2, 3, 4, 1, 0, 0, 4};
  Bytes p = v4(132, sctp);
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --sport 1 --dport 2", p));
  EXPECT_FALSE(M(V4, "-p sctp -m sctp --dport 3", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp ! --dport 3", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --dport 1:2", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types any INIT", p));
  EXPECT_FALSE(M(V4, "-p sctp -m sctp --chunk-types any SACK", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types all DATA,INIT", p));
  EXPECT_FALSE(M(V4, "-p sctp -m sctp --chunk-types all DATA,INIT,SACK", p));
  EXPECT_FALSE(M(V4, "-p sctp -m sctp --chunk-types only DATA", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types only DATA,INIT", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types only DATA,INIT,SACK", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types any DATA:E", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types any DATA:BE", p));
  EXPECT_FALSE(M(V4, "-p sctp -m sctp --chunk-types any DATA:e", p));
  EXPECT_FALSE(M(V4, "-p sctp -m sctp --chunk-types any DATA:U", p));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp ! --chunk-types any DATA:e", p));
  EXPECT_TRUE(M(V6, "-p sctp -m sctp --chunk-types any INIT", v6(132, sctp)));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types all DATA:E,INIT", p));
  EXPECT_FALSE(M(V4, "-p sctp -m sctp --chunk-types only DATA:e,INIT", p));
  // Chunk lengths are padded to 4 bytes when stepping to the next chunk.
  Bytes padded = {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 5, 1, 0, 0, 0, 1, 0, 0, 4};
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types any INIT", v4(132, padded)));
  EXPECT_TRUE(M(V4, "-p sctp -m sctp --chunk-types only DATA,INIT", v4(132, padded)));
  // A chunk header with length 0 cannot be walked: dropped.
  EXPECT_TRUE(HD(V4, "-p sctp -m sctp --chunk-types any INIT",
                 v4(132, {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})));
  // No room for a chunk header after the common header.
  EXPECT_TRUE(HD(V4, "-p sctp -m sctp --chunk-types any INIT", v4(132, {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0})));
  // Truncated common header.
  EXPECT_TRUE(HD(V4, "-p sctp -m sctp --dport 2", v4(132, {0, 1, 0, 2, 0, 0})));
  EXPECT_TRUE(NoMatchNoDrop(V4, "-p sctp -m sctp --dport 2", v4(132, sctp, 0, 64, 0x0004)));
}

TEST(HeaderMatchDccp, TypesAndOptions) {
  // doff 6 (24 bytes), type ACK (3) in byte 8 bits 1-4, X = 0: the generic
  // header (12) + ack bits (8) leave 4 bytes of options: option 1 (padding).
  Bytes dccp = {0, 10, 0, 20, 6, 0, 0, 0, 3 << 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
  Bytes p = v4(33, dccp);
  EXPECT_TRUE(M(V4, "-p dccp -m dccp --sport 10 --dccp-types ACK", p));
  EXPECT_TRUE(M(V4, "-p dccp -m dccp --dport 20", p));
  EXPECT_FALSE(M(V4, "-p dccp -m dccp --dport 21", p));
  EXPECT_FALSE(M(V4, "-p dccp -m dccp --dccp-types DATA", p));
  EXPECT_TRUE(M(V4, "-p dccp -m dccp --dccp-types DATA,ACK", p));
  EXPECT_TRUE(M(V4, "-p dccp -m dccp ! --dccp-types DATA", p));
  EXPECT_TRUE(M(V4, "-p dccp -m dccp --dccp-option 1", p));
  EXPECT_FALSE(M(V4, "-p dccp -m dccp --dccp-option 2", p));
  EXPECT_TRUE(M(V4, "-p dccp -m dccp ! --dccp-option 2", p));
  EXPECT_TRUE(HD(V4, "-p dccp -m dccp --sport 10", v4(33, {0, 10, 0, 20, 6, 0, 0, 0})));
  // Extended sequence numbers (X = 1): a 16-byte generic header + 8 bytes of
  // acknowledgement, then the options.
  Bytes ext = {0, 10, 0, 20, 7, 0, 0, 0, (3 << 1) | 1, 0, 0, 0, 0, 0, 0, 0,
               0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0};
  EXPECT_TRUE(M(V4, "-p dccp -m dccp --dccp-types ACK --dccp-option 32", v4(33, ext)));
  EXPECT_FALSE(M(V4, "-p dccp -m dccp --dccp-option 1", v4(33, ext)));
  // REQUEST: generic header + 4-byte service code, then the options.
  Bytes req = {0, 10, 0, 20, 5, 0, 0, 0, 0 << 1, 0, 0, 0, 0, 0, 0, 0, 36, 0, 0, 0};
  EXPECT_TRUE(M(V4, "-p dccp -m dccp --dccp-types REQUEST --dccp-option 36", v4(33, req)));
  // Data offset inside the fixed header: the option scan drops the packet.
  Bytes lowDoff = {0, 10, 0, 20, 2, 0, 0, 0, 3 << 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(M(V4, "-p dccp -m dccp --dccp-types ACK", v4(33, lowDoff)));
  EXPECT_TRUE(HD(V4, "-p dccp -m dccp --dccp-option 1", v4(33, lowDoff)));
  // Options announced beyond the end of the packet.
  Bytes cut = {0, 10, 0, 20, 8, 0, 0, 0, 3 << 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
  EXPECT_TRUE(HD(V4, "-p dccp -m dccp --dccp-option 1", v4(33, cut)));
}

TEST(HeaderMatchEsp, Spi) {
  Bytes esp = {0, 0, 1, 0x50, 0, 0, 0, 1};  // SPI 0x150
  Bytes p = v4(50, esp);
  EXPECT_TRUE(M(V4, "-p esp -m esp --espspi 0x100:0x200", p));
  EXPECT_TRUE(M(V4, "-p esp -m esp --espspi 0x150", p));
  EXPECT_TRUE(M(V4, "-p esp -m esp --espspi 0x150:0x151", p));
  EXPECT_FALSE(M(V4, "-p esp -m esp --espspi 0x151:0x200", p));
  EXPECT_FALSE(M(V4, "-p esp -m esp --espspi 0x100:0x14f", p));
  EXPECT_FALSE(M(V4, "-p esp -m esp --espspi 7", p));
  EXPECT_TRUE(M(V4, "-p esp -m esp ! --espspi 7", p));
  EXPECT_FALSE(M(V4, "-p esp -m esp ! --espspi 336", p));
  EXPECT_TRUE(M(V6, "-p esp -m esp --espspi 336", v6(50, esp)));
  EXPECT_TRUE(HD(V4, "-p esp -m esp --espspi 7", v4(50, {0, 0, 1})));
  EXPECT_TRUE(NoMatchNoDrop(V4, "-p esp -m esp --espspi 336", v4(50, esp, 0, 64, 0x0001)));
}

TEST(HeaderMatchAh, Ipv4Spi) {
  Bytes ah = {6, 4, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1};
  Bytes p = v4(51, ah);
  EXPECT_TRUE(M(V4, "-p ah -m ah --ahspi 5", p));
  EXPECT_TRUE(M(V4, "-p ah -m ah --ahspi 4:5", p));
  EXPECT_FALSE(M(V4, "-p ah -m ah --ahspi 6:10", p));
  EXPECT_FALSE(M(V4, "-p ah -m ah ! --ahspi 5", p));
  EXPECT_TRUE(M(V4, "-p ah -m ah ! --ahspi 6", p));
  EXPECT_TRUE(HD(V4, "-p ah -m ah --ahspi 5", v4(51, {6, 4, 0, 0, 0, 0, 0, 5})));
}

// Hop-by-hop (8 bytes, PadN) -> AH (hdrlen 4 = 24 bytes, SPI 9) -> TCP.
const Bytes kHbh = {51, 0, 1, 4, 0, 0, 0, 0};
const Bytes kAh6 = {6, 4, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
// Hop-by-hop that announces a destination-options header which is missing.
const Bytes kBrokenChain = {60, 0, 1, 4, 0, 0, 0, 0};

TEST(HeaderMatchAh, Ipv6HeaderChain) {
  Bytes p = v6(0, cat(kHbh, kAh6));
  EXPECT_TRUE(M(V6, "-m ah --ahspi 9", p));
  EXPECT_TRUE(M(V6, "-m ah --ahspi 8:9", p));
  EXPECT_FALSE(M(V6, "-m ah --ahspi 10:20", p));
  EXPECT_FALSE(M(V6, "-m ah ! --ahspi 9", p));
  EXPECT_TRUE(M(V6, "-m ah --ahspi 9 --ahlen 24", p));
  EXPECT_FALSE(M(V6, "-m ah --ahlen 16", p));
  EXPECT_FALSE(M(V6, "-m ah --ahspi 9 ! --ahlen 24", p));
  EXPECT_TRUE(M(V6, "-m ah --ahres", p));
  Bytes ahRes = kAh6;
  ahRes[3] = 1;  // reserved field non-zero
  EXPECT_FALSE(M(V6, "-m ah --ahres", v6(0, cat(kHbh, ahRes))));
  EXPECT_TRUE(M(V6, "-m ah --ahspi 9", v6(0, cat(kHbh, ahRes))));
  // No AH in the chain: no match, no drop.
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m ah", v6(6, Bytes(20, 0))));
  // The chain walk fails before reaching AH: dropped.
  EXPECT_TRUE(HD(V6, "-m ah", v6(0, kBrokenChain)));
}

TEST(HeaderMatchIpcomp, Cpi) {
  Bytes p = v4(108, {4, 0, 0x12, 0x34});
  EXPECT_TRUE(M(V4, "-p ipcomp -m ipcomp --ipcompspi 0x1234", p));
  EXPECT_TRUE(M(V4, "-p ipcomp -m ipcomp --ipcompspi 0x1233:0x1234", p));
  EXPECT_FALSE(M(V4, "-p ipcomp -m ipcomp --ipcompspi 0x1235:0x2000", p));
  EXPECT_FALSE(M(V4, "-p ipcomp -m ipcomp ! --ipcompspi 0x1234", p));
  EXPECT_TRUE(HD(V4, "-p ipcomp -m ipcomp --ipcompspi 0x1234", v4(108, {4, 0})));
}

TEST(HeaderMatchMh, Types) {
  Bytes bu = v6(135, {59, 0, 5, 0, 0, 0});  // binding update
  EXPECT_TRUE(M(V6, "-p mh -m mh --mh-type bu", bu));
  EXPECT_TRUE(M(V6, "-p mh -m mh --mh-type 5", bu));
  EXPECT_TRUE(M(V6, "-p mh -m mh --mh-type 4:5", bu));
  EXPECT_FALSE(M(V6, "-p mh -m mh --mh-type 6:8", bu));
  EXPECT_FALSE(M(V6, "-p mh -m mh --mh-type binding-acknowledgement", bu));
  EXPECT_FALSE(M(V6, "-p mh -m mh ! --mh-type bu", bu));
  // The payload protocol must be IPPROTO_NONE, else the packet is dropped.
  EXPECT_TRUE(HD(V6, "-p mh -m mh --mh-type bu", v6(135, {17, 0, 5, 0, 0, 0})));
  // Truncated mobility header.
  EXPECT_TRUE(HD(V6, "-p mh -m mh --mh-type bu", v6(135, {59, 0, 5})));
}

TEST(HeaderMatchFrag, Fields) {
  Bytes first = v6(44, cat({17, 0, 0, 1, 0, 0, 0, 77}, kUdp));  // offset 0, M=1, id 77
  Bytes last = v6(44, cat({17, 0, 0, 0x10, 0, 0, 0, 77}, kUdp));  // offset 2, M=0
  Bytes atomic = v6(44, cat({17, 0, 0, 0, 0, 0, 0, 77}, kUdp));  // offset 0, M=0
  EXPECT_TRUE(M(V6, "-m frag", first));
  EXPECT_TRUE(M(V6, "-m frag --fragid 77", first));
  EXPECT_TRUE(M(V6, "-m frag --fragid 76:77", first));
  EXPECT_FALSE(M(V6, "-m frag --fragid 78", first));
  EXPECT_FALSE(M(V6, "-m frag --fragid 78:100", first));
  EXPECT_TRUE(M(V6, "-m frag ! --fragid 78", first));
  EXPECT_FALSE(M(V6, "-m frag ! --fragid 77", first));
  EXPECT_TRUE(M(V6, "-m frag --fragfirst --fragmore", first));
  EXPECT_FALSE(M(V6, "-m frag --fraglast", first));
  EXPECT_FALSE(M(V6, "-m frag --fragfirst", last));
  EXPECT_TRUE(M(V6, "-m frag --fraglast", last));
  EXPECT_FALSE(M(V6, "-m frag --fragmore", last));
  // --fraglast only looks at M: an atomic fragment is first and last.
  EXPECT_TRUE(M(V6, "-m frag --fragfirst --fraglast", atomic));
  EXPECT_TRUE(M(V6, "-m frag --fragres", first));
  Bytes res = v6(44, cat({17, 1, 0, 1, 0, 0, 0, 77}, kUdp));  // reserved byte set
  EXPECT_FALSE(M(V6, "-m frag --fragres", res));
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m frag", v6(17, kUdp)));
  EXPECT_TRUE(HD(V6, "-m frag", v6(0, kBrokenChain)));
}

TEST(HeaderMatchHbh, LengthAndOptions) {
  Bytes p = v6(0, cat(kHbh, kAh6));
  EXPECT_TRUE(M(V6, "-m hbh", p));
  EXPECT_TRUE(M(V6, "-m hbh --hbh-len 8", p));
  EXPECT_FALSE(M(V6, "-m hbh --hbh-len 16", p));
  EXPECT_FALSE(M(V6, "-m hbh ! --hbh-len 8", p));
  EXPECT_TRUE(M(V6, "-m hbh --hbh-opts 1:4", p));
  EXPECT_TRUE(M(V6, "-m hbh --hbh-opts 1", p));  // any length
  EXPECT_FALSE(M(V6, "-m hbh --hbh-opts 1:3", p));
  EXPECT_FALSE(M(V6, "-m hbh --hbh-opts 1:5", p));
  EXPECT_FALSE(M(V6, "-m hbh --hbh-opts 0", p));
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m hbh", v6(17, kUdp)));
  // Two options: router alert (type 5, length 2), then PadN (length 8).
  Bytes two = v6(0, cat({17, 1, 5, 2, 0, 0, 1, 8, 0, 0, 0, 0, 0, 0, 0, 0}, kUdp));
  EXPECT_TRUE(M(V6, "-m hbh --hbh-len 16 --hbh-opts 5:2,1:8", two));
  EXPECT_TRUE(M(V6, "-m hbh --hbh-opts 5:2", two));
  EXPECT_TRUE(M(V6, "-m hbh --hbh-opts 5,1", two));
  EXPECT_FALSE(M(V6, "-m hbh --hbh-opts 1:8", two));
  EXPECT_FALSE(M(V6, "-m hbh --hbh-opts 5:2,1:7", two));
  // The hop-by-hop header itself is fine; what follows it does not matter.
  EXPECT_TRUE(M(V6, "-m hbh --hbh-len 8", v6(0, kBrokenChain)));
}

TEST(HeaderMatchDst, LengthAndOptions) {
  Bytes dstOpts = {17, 0, 1, 4, 0, 0, 0, 0};
  Bytes p = v6(60, cat(dstOpts, kUdp));
  EXPECT_TRUE(M(V6, "-m dst", p));
  EXPECT_TRUE(M(V6, "-m dst --dst-len 8", p));
  EXPECT_FALSE(M(V6, "-m dst --dst-len 16", p));
  EXPECT_TRUE(M(V6, "-m dst ! --dst-len 16", p));
  EXPECT_TRUE(M(V6, "-m dst --dst-opts 1:4", p));
  EXPECT_FALSE(M(V6, "-m dst --dst-opts 1:2", p));
  EXPECT_TRUE(M(V6, "-p udp -m dst --dst-len 8", p));
  // Hop-by-hop only: no destination options.
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m dst", v6(0, cat(kHbh, kAh6))));
  // Behind a non-first fragment the chain cannot be followed: no match.
  Bytes behindFrag = v6(0, cat(cat({44, 0, 1, 4, 0, 0, 0, 0}, {60, 0, 0, 0x10, 0, 0, 0, 5}), cat(dstOpts, kUdp)));
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m dst", behindFrag));
  EXPECT_TRUE(M(V6, "-m frag --fragid 5", behindFrag));
  // Announced but missing destination options header.
  EXPECT_TRUE(HD(V6, "-m dst", v6(0, kBrokenChain)));
}

// Routing header type 0 with ::1 and 2001::5, segments left 1.
Bytes rt0Packet(uint8_t type = 0) {
  Bytes rh = {59, 4, type, 1, 0, 0, 0, 0};
  Bytes a1(16, 0), a2(16, 0);
  a1[15] = 1;
  a2[0] = 0x20;
  a2[1] = 0x01;
  a2[15] = 5;
  return v6(43, cat(cat(rh, a1), a2));
}

TEST(HeaderMatchRt, Type0) {
  Bytes p = rt0Packet();
  EXPECT_TRUE(M(V6, "-m rt --rt-type 0 --rt-segsleft 1 --rt-len 40 --rt-0-res", p));
  EXPECT_TRUE(M(V6, "-m rt --rt-segsleft 0:1", p));
  EXPECT_TRUE(M(V6, "-m rt --rt-segsleft 1:5", p));
  EXPECT_FALSE(M(V6, "-m rt --rt-segsleft 2:5", p));
  EXPECT_FALSE(M(V6, "-m rt ! --rt-segsleft 1", p));
  EXPECT_FALSE(M(V6, "-m rt --rt-len 32", p));
  EXPECT_TRUE(M(V6, "-m rt ! --rt-len 32", p));
  EXPECT_FALSE(M(V6, "-m rt ! --rt-type 0", p));
  EXPECT_TRUE(M(V6, "-m rt --rt-type 2", rt0Packet(2)));
  EXPECT_FALSE(M(V6, "-m rt --rt-type 2", p));
  EXPECT_TRUE(M(V6, "-m rt --rt-type 0 --rt-0-addrs ::1,2001::5", p));
  // Strict: the list must be the header's whole address list.
  EXPECT_FALSE(M(V6, "-m rt --rt-type 0 --rt-0-addrs ::1", p));
  EXPECT_FALSE(M(V6, "-m rt --rt-type 0 --rt-0-addrs 2001::5,::1", p));
  EXPECT_TRUE(M(V6, "-m rt --rt-type 0 --rt-0-addrs 2001::5 --rt-0-not-strict", p));
  EXPECT_TRUE(M(V6, "-m rt --rt-type 0 --rt-0-addrs ::1 --rt-0-not-strict", p));
  EXPECT_FALSE(M(V6, "-m rt --rt-type 0 --rt-0-addrs ::2 --rt-0-not-strict", p));
  // Not strict still keeps the order.
  EXPECT_FALSE(M(V6, "-m rt --rt-type 0 --rt-0-addrs 2001::5,::1 --rt-0-not-strict", p));
  EXPECT_TRUE(M(V6, "-m rt --rt-type 0 --rt-0-addrs ::1,2001::5 --rt-0-not-strict", p));
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m rt", v6(17, kUdp)));
  EXPECT_TRUE(HD(V6, "-m rt", v6(0, kBrokenChain)));
}

TEST(HeaderMatchSrh, Fields) {
  // Type 4, segments left 1, last entry 1, tag 7, segments [::1, 2001::5].
  Bytes srh = {17, 4, 4, 1, 1, 0, 0, 7};
  Bytes a1(16, 0), a2(16, 0);
  a1[15] = 1;
  a2[0] = 0x20;
  a2[1] = 0x01;
  a2[15] = 5;
  Bytes p = v6(43, cat(cat(srh, a1), a2));
  EXPECT_TRUE(M(V6, "-m srh --srh-next-hdr 17 --srh-segs-left-eq 1 --srh-last-entry-eq 1 --srh-tag 7", p));
  EXPECT_FALSE(M(V6, "-m srh --srh-next-hdr 6", p));
  EXPECT_TRUE(M(V6, "-m srh ! --srh-next-hdr 6", p));
  EXPECT_FALSE(M(V6, "-m srh --srh-tag 8", p));
  EXPECT_TRUE(M(V6, "-m srh --srh-hdr-len-eq 4", p));
  EXPECT_TRUE(M(V6, "-m srh --srh-hdr-len-gt 3", p));
  EXPECT_FALSE(M(V6, "-m srh --srh-hdr-len-gt 4", p));
  EXPECT_TRUE(M(V6, "-m srh --srh-hdr-len-lt 5", p));
  EXPECT_FALSE(M(V6, "-m srh --srh-hdr-len-lt 4", p));
  EXPECT_FALSE(M(V6, "-m srh ! --srh-hdr-len-gt 3", p));
  EXPECT_TRUE(M(V6, "-m srh --srh-segs-left-gt 0", p));
  EXPECT_FALSE(M(V6, "-m srh --srh-segs-left-gt 1", p));
  EXPECT_TRUE(M(V6, "-m srh --srh-last-entry-lt 2", p));
  // Next SID = segments[segments_left - 1], last SID = segments[0].
  EXPECT_TRUE(M(V6, "-m srh --srh-nsid ::1", p));
  EXPECT_FALSE(M(V6, "-m srh --srh-nsid 2001::5", p));
  EXPECT_TRUE(M(V6, "-m srh --srh-lsid ::1", p));
  EXPECT_FALSE(M(V6, "-m srh ! --srh-lsid ::1", p));
  // No previous SID when segments_left == last entry.
  EXPECT_FALSE(M(V6, "-m srh --srh-psid ::1", p));
  EXPECT_FALSE(M(V6, "-m srh --srh-psid 2001::5", p));
  // A type 0 routing header is not an SRH.
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m srh", rt0Packet()));
}

TEST(HeaderMatchIpv6header, Modes) {
  Bytes p = v6(0, cat(kHbh, kAh6));  // hop, auth, then TCP
  EXPECT_FALSE(M(V6, "-m ipv6header --header hop,auth", p));  // the protocol bit is set too
  EXPECT_FALSE(M(V6, "-m ipv6header --header hop", p));
  EXPECT_TRUE(M(V6, "-m ipv6header --header hop --soft", p));
  EXPECT_TRUE(M(V6, "-m ipv6header --header hop,auth --soft", p));
  EXPECT_FALSE(M(V6, "-m ipv6header --header hop,dst --soft", p));
  EXPECT_TRUE(M(V6, "-m ipv6header --header hop,auth,prot", p));
  EXPECT_FALSE(M(V6, "-m ipv6header ! --header hop,auth,prot", p));
  EXPECT_TRUE(M(V6, "-m ipv6header ! --header hop,auth", p));
  EXPECT_TRUE(M(V6, "-m ipv6header --header none", v6(59, {})));
  EXPECT_FALSE(M(V6, "-m ipv6header --header none", v6(17, kUdp)));
  EXPECT_TRUE(M(V6, "-m ipv6header --header prot", v6(17, kUdp)));
  EXPECT_TRUE(M(V6, "-m ipv6header --header esp", v6(50, {0, 0, 1, 0x50, 0, 0, 0, 1})));
  EXPECT_TRUE(M(V6, "-m ipv6header --header frag,prot", v6(44, cat({17, 0, 0, 1, 0, 0, 0, 77}, kUdp))));
  // A header announced but absent ends the walk without a match (no drop).
  EXPECT_TRUE(NoMatchNoDrop(V6, "-m ipv6header --header hop,dst --soft", v6(0, kBrokenChain)));
}

TEST(HeaderMatchIcmp, TypesAndCodes) {
  Bytes echo = v4(1, {8, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(M(V4, "-p icmp -m icmp --icmp-type echo-request", echo));
  EXPECT_TRUE(M(V4, "-p icmp -m icmp --icmp-type 8", echo));
  EXPECT_TRUE(M(V4, "-p icmp -m icmp --icmp-type 8/0", echo));
  EXPECT_FALSE(M(V4, "-p icmp -m icmp --icmp-type 8/1", echo));
  EXPECT_FALSE(M(V4, "-p icmp -m icmp --icmp-type echo-reply", echo));
  EXPECT_TRUE(M(V4, "-p icmp -m icmp ! --icmp-type echo-reply", echo));
  EXPECT_TRUE(M(V4, "-p icmp -m icmp --icmp-type any", echo));
  EXPECT_FALSE(M(V4, "-p icmp -m icmp ! --icmp-type any", echo));
  // A named type without a code covers every code.
  EXPECT_TRUE(M(V4, "-p icmp -m icmp --icmp-type echo-request", v4(1, {8, 5, 0, 0, 0, 0, 0, 0})));
  Bytes unreach = v4(1, {3, 1, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(M(V4, "-p icmp -m icmp --icmp-type host-unreachable", unreach));
  EXPECT_FALSE(M(V4, "-p icmp -m icmp --icmp-type port-unreachable", unreach));
  EXPECT_TRUE(M(V4, "-p icmp -m icmp --icmp-type destination-unreachable", unreach));
  EXPECT_FALSE(M(V4, "-p icmp -m icmp ! --icmp-type 3/1", unreach));
  EXPECT_TRUE(M(V4, "-p icmp -m icmp ! --icmp-type 3/0", unreach));
  // Truncated ICMP header (4 of 8 bytes).
  EXPECT_TRUE(HD(V4, "-p icmp -m icmp --icmp-type any", v4(1, {8, 0, 0, 0})));
  EXPECT_TRUE(NoMatchNoDrop(V4, "-p icmp -m icmp --icmp-type any", v4(1, {8, 0, 0, 0, 0, 0, 0, 0}, 0, 64, 0x0001)));
}

TEST(HeaderMatchIcmp6, TypesAndCodes) {
  Bytes ns = v6(58, {135, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type neighbour-solicitation", ns));
  EXPECT_TRUE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type 135", ns));
  EXPECT_TRUE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type 135/0", ns));
  EXPECT_FALSE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type 135/1", ns));
  EXPECT_FALSE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type neighbour-advertisement", ns));
  EXPECT_FALSE(M(V6, "-p icmpv6 -m icmp6 ! --icmpv6-type 135", ns));
  Bytes unreach = v6(58, {1, 4, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type port-unreachable", unreach));
  EXPECT_FALSE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type no-route", unreach));
  EXPECT_TRUE(M(V6, "-p icmpv6 -m icmp6 --icmpv6-type destination-unreachable", unreach));
  EXPECT_TRUE(HD(V6, "-p icmpv6 -m icmp6 --icmpv6-type 135", v6(58, {135, 0, 0, 0})));
}

TEST(HeaderMatchLength, Ranges) {
  Bytes p4 = v4(17, kUdp);  // 28 bytes
  EXPECT_TRUE(M(V4, "-m length --length 28", p4));
  EXPECT_FALSE(M(V4, "-m length --length 27", p4));
  EXPECT_FALSE(M(V4, "-m length --length 29", p4));
  EXPECT_TRUE(M(V4, "-m length --length 28:100", p4));
  EXPECT_FALSE(M(V4, "-m length --length 29:100", p4));
  EXPECT_TRUE(M(V4, "-m length --length :28", p4));
  EXPECT_FALSE(M(V4, "-m length --length :27", p4));
  EXPECT_FALSE(M(V4, "-m length ! --length 28", p4));
  EXPECT_TRUE(M(V4, "-m length ! --length 29:", p4));
  // IPv6 counts the fixed header and the payload.
  Bytes p6 = v6(17, kUdp);
  EXPECT_TRUE(M(V6, "-m length --length 48", p6));
  EXPECT_FALSE(M(V6, "-m length --length 8", p6));
  EXPECT_FALSE(M(V6, "-m length --length 49:", p6));
}

TEST(HeaderMatchTtl, Comparisons) {
  Bytes p = v4(17, kUdp);  // TTL 64
  EXPECT_TRUE(M(V4, "-m ttl --ttl-eq 64", p));
  EXPECT_FALSE(M(V4, "-m ttl --ttl-eq 63", p));
  EXPECT_FALSE(M(V4, "-m ttl ! --ttl-eq 64", p));
  EXPECT_TRUE(M(V4, "-m ttl ! --ttl-eq 65", p));
  EXPECT_TRUE(M(V4, "-m ttl --ttl-lt 65", p));
  EXPECT_FALSE(M(V4, "-m ttl --ttl-lt 64", p));
  EXPECT_TRUE(M(V4, "-m ttl --ttl-gt 63", p));
  EXPECT_FALSE(M(V4, "-m ttl --ttl-gt 64", p));
  EXPECT_TRUE(M(V4, "-m ttl --ttl-eq 1", v4(17, kUdp, 0, 1)));
}

TEST(HeaderMatchHl, Comparisons) {
  Bytes p = v6(17, kUdp);  // hop limit 64
  EXPECT_TRUE(M(V6, "-m hl --hl-eq 64", p));
  EXPECT_FALSE(M(V6, "-m hl ! --hl-eq 64", p));
  EXPECT_TRUE(M(V6, "-m hl --hl-gt 63", p));
  EXPECT_FALSE(M(V6, "-m hl --hl-gt 64", p));
  EXPECT_TRUE(M(V6, "-m hl --hl-lt 65", p));
  EXPECT_FALSE(M(V6, "-m hl --hl-lt 64", p));
  EXPECT_TRUE(M(V6, "-m hl --hl-eq 255", v6(17, kUdp, 0, 255)));
}

TEST(HeaderMatchTos, ValueAndMask) {
  EXPECT_FALSE(M(V4, "-m tos --tos Minimize-Delay", v4(17, kUdp, 0x12)));
  EXPECT_TRUE(M(V4, "-m tos --tos Minimize-Delay", v4(17, kUdp, 0x10)));
  // Symbolic values compare under mask 0x3f: the precedence bits are ignored.
  EXPECT_TRUE(M(V4, "-m tos --tos Minimize-Delay", v4(17, kUdp, 0x50)));
  EXPECT_TRUE(M(V4, "-m tos --tos 0x12", v4(17, kUdp, 0x12)));
  EXPECT_FALSE(M(V4, "-m tos --tos 0x12", v4(17, kUdp, 0x13)));
  EXPECT_TRUE(M(V4, "-m tos --tos 0x10/0xf0", v4(17, kUdp, 0x1f)));
  EXPECT_FALSE(M(V4, "-m tos --tos 0x10/0xf0", v4(17, kUdp, 0x20)));
  EXPECT_FALSE(M(V4, "-m tos ! --tos 0x12", v4(17, kUdp, 0x12)));
  EXPECT_TRUE(M(V4, "-m tos ! --tos 0x12", v4(17, kUdp, 0x14)));
  // IPv6: the traffic class.
  EXPECT_TRUE(M(V6, "-m tos --tos 0xb8", v6(17, kUdp, 0xb8)));
  EXPECT_FALSE(M(V6, "-m tos --tos 0xb8", v6(17, kUdp, 0xb9)));
}

TEST(HeaderMatchDscp, Values) {
  EXPECT_TRUE(M(V6, "-m dscp --dscp-class EF", v6(17, kUdp, 0xb9)));
  EXPECT_TRUE(M(V4, "-m dscp --dscp 46", v4(17, kUdp, 0xb8)));
  EXPECT_TRUE(M(V4, "-m dscp --dscp 0x2e", v4(17, kUdp, 0xbb)));  // ECN bits ignored
  EXPECT_FALSE(M(V4, "-m dscp --dscp 45", v4(17, kUdp, 0xb8)));
  EXPECT_FALSE(M(V4, "-m dscp --dscp 47", v4(17, kUdp, 0xb8)));
  EXPECT_FALSE(M(V4, "-m dscp ! --dscp-class EF", v4(17, kUdp, 0xb8)));
  EXPECT_TRUE(M(V4, "-m dscp ! --dscp-class EF", v4(17, kUdp, 0x00)));
  EXPECT_TRUE(M(V4, "-m dscp --dscp-class AF11", v4(17, kUdp, 10 << 2)));
  EXPECT_TRUE(M(V4, "-m dscp --dscp-class CS1", v4(17, kUdp, 8 << 2)));
}

TEST(HeaderMatchEcn, IpAndTcpBits) {
  EXPECT_TRUE(M(V6, "-m ecn --ecn-ip-ect 1", v6(17, kUdp, 0xb9)));
  EXPECT_FALSE(M(V6, "-m ecn --ecn-ip-ect 2", v6(17, kUdp, 0xb9)));
  EXPECT_TRUE(M(V4, "-m ecn --ecn-ip-ect 3", v4(17, kUdp, 0x03)));
  EXPECT_FALSE(M(V4, "-m ecn --ecn-ip-ect 0", v4(17, kUdp, 0x03)));
  EXPECT_TRUE(M(V4, "-m ecn --ecn-ip-ect 0", v4(17, kUdp, 0xfc)));
  EXPECT_FALSE(M(V4, "-m ecn ! --ecn-ip-ect 3", v4(17, kUdp, 0x03)));
  Bytes ece = v4(6, kTcpMss);  // CWR|ECE|SYN
  EXPECT_TRUE(M(V4, "-p tcp -m ecn --ecn-tcp-ece --ecn-tcp-cwr", ece));
  EXPECT_FALSE(M(V4, "-p tcp -m ecn ! --ecn-tcp-ece", ece));
  Bytes plain = tcpPacket(V4, 0x02);
  EXPECT_FALSE(M(V4, "-p tcp -m ecn --ecn-tcp-ece", plain));
  EXPECT_FALSE(M(V4, "-p tcp -m ecn --ecn-tcp-cwr", plain));
  EXPECT_TRUE(M(V4, "-p tcp -m ecn ! --ecn-tcp-ece ! --ecn-tcp-cwr", plain));
  // IPv6 TCP, past the extension headers.
  EXPECT_TRUE(M(V6, "-p tcp -m ecn --ecn-tcp-ece", tcpPacket(V6, 0x42)));
  EXPECT_FALSE(M(V6, "-p tcp -m ecn --ecn-tcp-cwr", tcpPacket(V6, 0x42)));
}

TEST(HeaderMatchTcpmss, MssOption) {
  Bytes p = v4(6, kTcpMss);  // MSS 1460
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss --mss 1460", p));
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss --mss 1460:1500", p));
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss --mss 1000:1460", p));
  EXPECT_FALSE(M(V4, "-p tcp -m tcpmss --mss 1461:1500", p));
  EXPECT_FALSE(M(V4, "-p tcp -m tcpmss --mss 1:1459", p));
  EXPECT_FALSE(M(V4, "-p tcp -m tcpmss ! --mss 1460", p));
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss ! --mss 1:1000", p));
  // No MSS option: the match fails, its inversion holds.
  Bytes bare = tcpPacket(V4, 0x02);
  EXPECT_FALSE(M(V4, "-p tcp -m tcpmss --mss 1:65535", bare));
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss ! --mss 1:65535", bare));
  EXPECT_TRUE(M(V6, "-p tcp -m tcpmss --mss 1220", tcpPacket(V6, 0x02, {2, 4, 0x04, 0xc4})));
  // The options run past the end of the packet.
  Bytes cut = v4(6, {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0x02, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(HD(V4, "-p tcp -m tcpmss --mss 1460", cut));
  // Truncated TCP header.
  EXPECT_TRUE(HD(V4, "-p tcp -m tcpmss --mss 1460", v4(6, {0, 1, 0, 2, 0, 0, 0, 0})));
}

TEST(HeaderMatchTcpmss, OptionWalkEdgeCases) {
  // Past End-of-options and a zero-length option, as the kernel walks.
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss --mss 1460", tcpPacket(V4, 0x02, {0, 0, 0, 0, 2, 4, 0x05, 0xb4})));
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss --mss 1460", tcpPacket(V4, 0x02, {30, 0, 2, 4, 0x05, 0xb4, 1, 1})));
  // Kind 2 with a length other than 4 is no MSS option.
  Bytes badLen = tcpPacket(V4, 0x02, {2, 3, 5, 1, 1, 1, 1, 1});
  EXPECT_FALSE(M(V4, "-p tcp -m tcpmss --mss 1:65535", badLen));
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss ! --mss 1:65535", badLen));
  // The match ignores the flags: an ACK with an MSS option matches too.
  EXPECT_TRUE(M(V4, "-p tcp -m tcpmss --mss 1460", tcpPacket(V4, 0x10, {2, 4, 0x05, 0xb4})));
}

TEST(HeaderMatchPkttype, Types) {
  auto as = [](PktType t) { return [t](PacketView& p) { p.pktType = t; }; };
  Bytes p = v4(17, kUdp);
  EXPECT_TRUE(M(V4, "-m pkttype --pkt-type broadcast", p, Hook::LocalIn, as(PktType::Broadcast)));
  EXPECT_FALSE(M(V4, "-m pkttype --pkt-type broadcast", p, Hook::LocalIn, as(PktType::Host)));
  EXPECT_TRUE(M(V4, "-m pkttype --pkt-type unicast", p, Hook::LocalIn, as(PktType::Host)));
  EXPECT_FALSE(M(V4, "-m pkttype ! --pkt-type unicast", p, Hook::LocalIn, as(PktType::Host)));
  EXPECT_TRUE(M(V4, "-m pkttype ! --pkt-type unicast", p, Hook::LocalIn, as(PktType::Multicast)));
  EXPECT_TRUE(M(V4, "-m pkttype --pkt-type multicast", p, Hook::LocalIn, as(PktType::Multicast)));
  EXPECT_TRUE(M(V6, "-m pkttype --pkt-type multicast", v6(17, kUdp), Hook::LocalIn, as(PktType::Multicast)));
  EXPECT_TRUE(M(V4, "-m pkttype --pkt-type otherhost", p, Hook::Forward, as(PktType::OtherHost)));
  EXPECT_FALSE(M(V4, "-m pkttype --pkt-type otherhost", p, Hook::Forward, as(PktType::Host)));
}

TEST(HeaderMatchMac, Source) {
  auto withMac = [](PacketView& p) {
    p.hasMac = true;
    p.srcMac = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
  };
  Bytes p = v4(17, kUdp);
  EXPECT_TRUE(M(V4, "-m mac --mac-source 00:11:22:33:44:55", p, Hook::LocalIn, withMac));
  EXPECT_TRUE(M(V4, "-m mac --mac-source 00:11:22:33:44:55", p, Hook::Forward, withMac));
  EXPECT_FALSE(M(V4, "-m mac --mac-source 00:11:22:33:44:56", p, Hook::LocalIn, withMac));
  EXPECT_TRUE(M(V4, "-m mac ! --mac-source 00:11:22:33:44:56", p, Hook::LocalIn, withMac));
  EXPECT_FALSE(M(V4, "-m mac ! --mac-source 00:11:22:33:44:55", p, Hook::LocalIn, withMac));
  // Without an Ethernet header neither the match nor its inversion holds.
  EXPECT_FALSE(M(V4, "-m mac --mac-source 00:11:22:33:44:55", p));
  EXPECT_FALSE(M(V4, "-m mac ! --mac-source 00:11:22:33:44:55", p));
}

TEST(HeaderMatchAddrtype, V4AndV6) {
  Bytes p = v4(17, kUdp);
  EXPECT_TRUE(M(V4, "-m addrtype --dst-type LOCAL", p, Hook::LocalIn));
  EXPECT_FALSE(M(V4, "-m addrtype ! --dst-type LOCAL", p, Hook::LocalIn));
  EXPECT_FALSE(M(V4, "-m addrtype --src-type LOCAL", p, Hook::LocalIn));
  EXPECT_TRUE(M(V4, "-m addrtype --src-type UNICAST", p, Hook::LocalIn));
  EXPECT_FALSE(M(V4, "-m addrtype --dst-type LOCAL", p, Hook::Forward));
  EXPECT_TRUE(M(V4, "-m addrtype --dst-type UNICAST", p, Hook::Forward));
  testing::PacketSpec bc;
  bc.proto = 17;
  bc.dst = "255.255.255.255";
  EXPECT_TRUE(M(V4, "-m addrtype --dst-type BROADCAST", testing::buildPacket(bc), Hook::LocalIn));
  bc.dst = "224.0.0.1";
  EXPECT_TRUE(M(V4, "-m addrtype --dst-type MULTICAST", testing::buildPacket(bc), Hook::LocalIn));
  EXPECT_FALSE(M(V4, "-m addrtype --dst-type UNICAST", testing::buildPacket(bc), Hook::LocalIn));
  EXPECT_TRUE(M(V6, "-m addrtype --src-type UNICAST", v6(17, kUdp)));
  EXPECT_FALSE(M(V6, "-m addrtype --src-type MULTICAST", v6(17, kUdp)));
}

TEST(HeaderMatchIprange, Bounds) {
  Bytes p = v4(17, kUdp);  // 192.0.2.10 -> 198.51.100.20
  EXPECT_TRUE(M(V4, "-m iprange --src-range 192.0.2.1-192.0.2.20", p));
  EXPECT_TRUE(M(V4, "-m iprange --src-range 192.0.2.10-192.0.2.10", p));
  EXPECT_TRUE(M(V4, "-m iprange --src-range 192.0.2.9-192.0.2.10", p));
  EXPECT_FALSE(M(V4, "-m iprange --src-range 192.0.2.11-192.0.2.20", p));
  EXPECT_FALSE(M(V4, "-m iprange --src-range 192.0.2.1-192.0.2.9", p));
  EXPECT_FALSE(M(V4, "-m iprange ! --src-range 192.0.2.1-192.0.2.20", p));
  EXPECT_TRUE(M(V4, "-m iprange ! --dst-range 198.51.100.1-198.51.100.19", p));
  EXPECT_TRUE(M(V4, "-m iprange --dst-range 198.51.100.20-198.51.100.30", p));
  EXPECT_FALSE(M(V4, "-m iprange --src-range 192.0.2.1-192.0.2.20 --dst-range 198.51.100.21-198.51.100.30", p));
  EXPECT_TRUE(M(V6, "-m iprange --src-range 2001:db8::-2001:db8::1", v6(17, kUdp)));
  EXPECT_FALSE(M(V6, "-m iprange --src-range 2001:db8::2-2001:db8::ff", v6(17, kUdp)));
  EXPECT_TRUE(M(V6, "-m iprange --dst-range 2001:db8::2-2001:db8::2", v6(17, kUdp)));
}

TEST(HeaderMatchU32, Expressions) {
  Bytes p = v4(17, kUdp);
  EXPECT_TRUE(M(V4, "-m u32 --u32 \"6&0xFF=17\"", p));
  EXPECT_FALSE(M(V4, "-m u32 --u32 \"6&0xFF=6\"", p));
  EXPECT_TRUE(M(V4, "-m u32 --u32 \"6&0xFF=1:17\"", p));
  EXPECT_FALSE(M(V4, "-m u32 --u32 \"6&0xFF=18:255\"", p));
  EXPECT_TRUE(M(V4, "-m u32 --u32 \"6&0xFF=6,17\"", p));
  // Protocol UDP and destination port 1024 through the IHL.
  EXPECT_TRUE(M(V4, "-m u32 --u32 \"6&0xFF=17 && 0>>22&0x3C@0&0xFFFF=1024\"", p));
  EXPECT_FALSE(M(V4, "-m u32 --u32 \"6&0xFF=17 && 0>>22&0x3C@0&0xFFFF=1025\"", p));
  EXPECT_FALSE(M(V4, "-m u32 ! --u32 \"6&0xFF=17\"", p));
  // A read beyond the packet fails the test.
  EXPECT_FALSE(M(V4, "-m u32 --u32 \"1000=0\"", p));
  EXPECT_TRUE(M(V4, "-m u32 ! --u32 \"1000=0\"", p));
  EXPECT_TRUE(M(V4, "-m u32 --u32 \"24=0x00080000\"", p));  // last whole word: length 8, csum 0
  EXPECT_FALSE(M(V4, "-m u32 --u32 \"25=0\"", p));           // one byte past the end
  // Jumping past the end with @ fails too.
  EXPECT_FALSE(M(V4, "-m u32 --u32 \"0>>22&0x3C@8=0\"", p));
  EXPECT_TRUE(M(V4, "-m u32 --u32 \"0>>22&0x3C@4=0x00080000\"", p));
  // Alternatives: any of the values or ranges.
  EXPECT_TRUE(M(V4, "-m u32 --u32 \"6&0xFF=1,6,17:20\"", p));
}

TEST(HeaderMatchString, Algorithms) {
  Bytes p = v4(17, cat(kUdp, {'h', 'e', 'L', 'l', 'o'}));  // "heLlo" at offset 28
  EXPECT_TRUE(M(V4, "-m string --string heLl --algo bm", p));
  EXPECT_TRUE(M(V4, "-m string --string heLl --algo kmp", p));
  EXPECT_FALSE(M(V4, "-m string --string hell --algo bm", p));
  EXPECT_TRUE(M(V4, "-m string ! --string hell --algo bm", p));
  EXPECT_FALSE(M(V4, "-m string ! --string heLl --algo bm", p));
  EXPECT_TRUE(M(V4, "-m string --string hell --algo kmp --icase", p));
  // The pattern must end before --to.
  EXPECT_FALSE(M(V4, "-m string --string heLl --algo bm --to 30", p));
  EXPECT_FALSE(M(V4, "-m string --string heLl --algo bm --to 31", p));
  EXPECT_TRUE(M(V4, "-m string --string heLl --algo bm --to 32", p));
  EXPECT_TRUE(M(V4, "-m string --hex-string \"|6865|\" --algo bm --from 28", p));
  EXPECT_FALSE(M(V4, "-m string --hex-string \"|6865|\" --algo bm --from 29", p));
  EXPECT_TRUE(M(V4, "-m string --string eL --algo kmp --from 29", p));
  EXPECT_FALSE(M(V4, "-m string --string eL --algo kmp --from 31", p));
  EXPECT_FALSE(M(V4, "-m string --string heLl --algo bm --from 100", p));
}

TEST(HeaderMatchBpf, Programs) {
  const std::string isTcp = "-m bpf --bytecode \"4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0\"";
  EXPECT_TRUE(M(V4, isTcp, v4(6, kTcpMss)));
  EXPECT_FALSE(M(V4, isTcp, v4(17, kUdp)));
  // ldx msh [0]; ldh [x+2] (destination port); jeq 1024.
  const std::string dport = "-m bpf --bytecode \"5,177 0 0 0,72 0 0 2,21 0 1 1024,6 0 0 65535,6 0 0 0\"";
  EXPECT_TRUE(M(V4, dport, v4(17, kUdp)));
  EXPECT_FALSE(M(V4, dport, v4(17, {0x00, 0x35, 0x04, 0x01, 0, 8, 0, 0})));
  // Ancillary loads: skb->protocol == ETH_P_IP, skb->mark == 7.
  EXPECT_TRUE(M(V4, "-m bpf --bytecode \"4,32 0 0 4294963200,21 0 1 2048,6 0 0 1,6 0 0 0\"", v4(17, kUdp)));
  const std::string mark7 = "-m bpf --bytecode \"4,32 0 0 4294963220,21 0 1 7,6 0 0 1,6 0 0 0\"";
  EXPECT_TRUE(M(V4, mark7, v4(17, kUdp), Hook::LocalIn, [](PacketView& p) { p.mark = 7; }));
  EXPECT_FALSE(M(V4, mark7, v4(17, kUdp), Hook::LocalIn, [](PacketView& p) { p.mark = 8; }));
  // (xt_bpf has no inversion.) An out-of-bounds load ends the program with 0.
  EXPECT_FALSE(M(V4, "-m bpf --bytecode \"2,32 0 0 5000,6 0 0 1\"", v4(17, kUdp)));
}

TEST(HeaderMatchEui64, SourceAddressFromMac) {
  // 2001:db8::ff:fe00:1 is the EUI-64 address of MAC 02:00:00:00:00:01.
  Bytes p = v6(17, kUdp);
  p[16] = 0x00, p[17] = 0x00, p[18] = 0x00, p[19] = 0xff, p[20] = 0xfe, p[21] = 0x00, p[22] = 0x00, p[23] = 0x01;
  auto mac = [](std::array<uint8_t, 6> m) {
    return [m](PacketView& pv) {
      pv.hasMac = true;
      pv.srcMac = m;
    };
  };
  EXPECT_TRUE(M(V6, "-m eui64", p, Hook::LocalIn, mac({0x02, 0, 0, 0, 0, 1})));
  EXPECT_TRUE(M(V6, "-m eui64", p, Hook::Forward, mac({0x02, 0, 0, 0, 0, 1})));
  // The universal/local bit is flipped: 00:... does not give 00:... in the address.
  EXPECT_FALSE(M(V6, "-m eui64", p, Hook::LocalIn, mac({0x00, 0, 0, 0, 0, 1})));
  EXPECT_FALSE(M(V6, "-m eui64", p, Hook::LocalIn, mac({0x02, 0, 0, 0, 0, 2})));
  EXPECT_FALSE(M(V6, "-m eui64", v6(17, kUdp), Hook::LocalIn, mac({0x02, 0, 0, 0, 0, 1})));
}

TEST(HeaderMatchIpv6Walk, BrokenChainHotdropsProtocolMatch) {
  // ip6_packet_match: -p needs the upper-layer header; a failed walk drops.
  EXPECT_TRUE(HD(V6, "-p tcp -m tcp --dport 80", v6(0, kBrokenChain)));
  EXPECT_TRUE(HD(V6, "-p udp", v6(0, kBrokenChain)));
  // Without -p the walk is not needed.
  EXPECT_TRUE(M(V6, "-m hl --hl-eq 64", v6(0, kBrokenChain)));
}

}  // namespace
}  // namespace nfjit
