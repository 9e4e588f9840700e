// nfjit replay end to end: captures in, counters / traces / captures out,
// link-layer framing, and its diagnostics.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/io/Pcap.h"
#include "runtime/io/Pcapng.h"
#include "runtime/packet/FrameParser.h"
#include "tests/support/TempDir.h"
#include "tests/support/Netns.h"
#include "tests/support/PacketBuilder.h"

namespace nfjit::testing {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> ethernet(const std::vector<uint8_t>& ip, Family f, std::vector<uint16_t> vlans = {},
                              uint16_t outerTpid = 0x8100) {
  std::vector<uint8_t> fr = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
  for (size_t i = 0; i < vlans.size(); ++i) {
    uint16_t tpid = i == 0 ? outerTpid : 0x8100;
    fr.push_back(uint8_t(tpid >> 8));
    fr.push_back(uint8_t(tpid));
    fr.push_back(uint8_t(vlans[i] >> 8));
    fr.push_back(uint8_t(vlans[i]));
  }
  fr.push_back(f == Family::IPv4 ? 0x08 : 0x86);
  fr.push_back(f == Family::IPv4 ? 0x00 : 0xdd);
  fr.insert(fr.end(), ip.begin(), ip.end());
  return fr;
}


void writePcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames) {
  PcapWriter w(path, 1);
  uint64_t ts = 1700000000ull * 1000000000ull;
  for (const auto& f : frames) {
    CapturedPacket p;
    p.tsNs = ts += 1000;
    p.data = f;
    p.origLen = uint32_t(f.size());
    w.write(p);
  }
}

const char* kRules = R"(*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -j MARK --set-xmark 0x7/0xffffffff
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset
-A FORWARD -m mark --mark 0x7 -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT
COMMIT
)";

TEST(Replay, CountersTraceAndOutput) {
  testsupport::TempDir t("nfjit-replay");
  auto rules = t.file("r.rules", kRules);
  PacketSpec web;  // forwarded
  web.dport = 80;
  PacketSpec dns;  // forwarded by mark, inside two VLAN tags
  dns.proto = 17;
  dns.dport = 53;
  PacketSpec ssh;  // local, rejected with a RST
  ssh.dst = "192.0.2.1";
  ssh.dport = 22;
  PacketSpec ttl1;  // forwarded but TTL 1: time exceeded, never reaches FORWARD
  ttl1.ttl = 1;
  std::vector<std::vector<uint8_t>> frames = {
      ethernet(buildPacket(web), Family::IPv4), ethernet(buildPacket(dns), Family::IPv4, {10, 20}, 0x88a8),
      ethernet(buildPacket(ssh), Family::IPv4), ethernet(buildPacket(ttl1), Family::IPv4),
      {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x06, 0, 1},  // ARP: not classified
      ethernet({0x45, 0, 0, 20}, Family::IPv4),                          // truncated IP header
  };
  auto in = t.file("in.pcap");
  writePcap(in, frames);
  auto out = t.file("out.pcap");
  auto r = runCommand({NFJIT_BINARY, "replay", rules, "--pcap", in, "--out", out, "--iface-addr", "in0=192.0.2.1",
                       "--iface-addr", "out0=198.51.100.1", "--route", "192.0.2.0/24=in0", "--trace", "--counters",
                       t.file("counters.txt")});
  ASSERT_TRUE(r.ok()) << r.describe() << r.err;
  std::vector<nlohmann::json> lines;
  std::istringstream ss(r.out);
  for (std::string l; std::getline(ss, l);) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0]["fate"], "forward");
  EXPECT_EQ(lines[1]["fate"], "forward");
  EXPECT_EQ(lines[2]["fate"], "drop");
  EXPECT_EQ(lines[2]["emitted"][0]["kind"], "reply");
  EXPECT_EQ(lines[2]["emitted"][0]["length"], 40);
  EXPECT_EQ(lines[3]["fate"], "route-drop");
  EXPECT_EQ(lines[3]["reason"], "ttl-exceeded");
  EXPECT_EQ(lines[4]["fate"], "not-ip");
  EXPECT_EQ(lines[5]["fate"], "malformed");

  std::ifstream cf(t.path() / "counters.txt");
  std::string counters((std::istreambuf_iterator<char>(cf)), {});
  EXPECT_NE(counters.find("[1:40] -A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset"), std::string::npos)
      << counters;
  EXPECT_NE(counters.find("[1:28] -A FORWARD -m mark --mark 0x7 -j ACCEPT"), std::string::npos) << counters;
  EXPECT_NE(counters.find("[1:40] -A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT"), std::string::npos) << counters;
  // OUTPUT saw the RST and the time-exceeded message.
  EXPECT_NE(counters.find(":OUTPUT ACCEPT [2:"), std::string::npos) << counters;

  PcapReader rd(out);
  CapturedPacket p;
  std::vector<CapturedPacket> sent;
  while (rd.next(p)) sent.push_back(p);
  ASSERT_EQ(sent.size(), 4u);  // two forwarded, the RST, the ICMP error
  // The forwarded web packet: TTL decremented, checksum still valid.
  Frame f;
  ASSERT_TRUE(parseFrame(LinkType::Ethernet, sent[0].data.data(), uint32_t(sent[0].data.size()), f));
  EXPECT_EQ(sent[0].data[f.l3Offset + 8], 63);
}

TEST(Replay, RejectsUnmodelledConntrackUseAndBadInput) {
  testsupport::TempDir t("nfjit-replay");
  // Connection states, tuples and accounting are modelled (and compared
  // with the kernel); the connection's expiry is not.
  auto states = t.file("st.rules",
                       "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate NEW --ctorigsrc 192.0.2.1 "
                       "--ctorigdstport 67 -j ACCEPT\n-A INPUT -m connbytes --connbytes 10 --connbytes-mode bytes "
                       "--connbytes-dir both\nCOMMIT\n");
  auto rules = t.file("ct.rules",
                      "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctexpire 10:20 -j ACCEPT\nCOMMIT\n");
  auto in = t.file("in.pcap");
  writePcap(in, {});
  auto r = runCommand({NFJIT_BINARY, "replay", states, "--pcap", in});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  r = runCommand({NFJIT_BINARY, "replay", rules, "--pcap", in});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("ct.rules:3:13: error: match `conntrack' needs connection tracking beyond"), std::string::npos)
      << r.err;

  auto ok = t.file("ok.rules", "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
  r = runCommand({NFJIT_BINARY, "replay", ok, "--pcap", t.file("missing.pcap")});
  EXPECT_EQ(r.exitCode, 2);
  r = runCommand({NFJIT_BINARY, "replay", ok, "--pcap", t.file("garbage.pcap", "not a capture")});
  EXPECT_EQ(r.exitCode, 2);
  r = runCommand({NFJIT_BINARY, "replay", ok, "--pcap", in, "--local", "300.1.1.1"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("--local `300.1.1.1'"), std::string::npos);
  r = runCommand({NFJIT_BINARY, "replay", ok, "--pcap", in, "--route", "10.0.0.0/40=in0"});
  EXPECT_EQ(r.exitCode, 2);
  r = runCommand({NFJIT_BINARY, "replay", ok, "--pcap", in, "--engine", "bogus"});
  EXPECT_EQ(r.exitCode, 2);
  r = runCommand({NFJIT_BINARY, "replay", ok});
  EXPECT_EQ(r.exitCode, 2);  // --pcap is required
}

TEST(Replay, EnginesGiveIdenticalCounters) {
  testsupport::TempDir t("nfjit-replay");
  auto rules = t.file("r.rules", kRules);
  std::vector<std::vector<uint8_t>> frames;
  for (uint16_t port : {22, 53, 79, 80, 81, 443}) {
    for (uint8_t proto : {6, 17}) {
      PacketSpec s;
      s.proto = proto;
      s.dport = port;
      s.dst = port == 22 ? "192.0.2.1" : "198.51.100.20";
      frames.push_back(ethernet(buildPacket(s), Family::IPv4));
    }
  }
  auto in = t.file("in.pcap");
  writePcap(in, frames);
  std::string counters[2];
  int i = 0;
  for (const char* engine : {"jit", "interp"}) {
    auto r = runCommand({NFJIT_BINARY, "replay", rules, "--pcap", in, "--local", "192.0.2.1", "--engine", engine,
                         "--counters", "-"});
    ASSERT_TRUE(r.ok()) << engine << ": " << r.describe();
    counters[i++] = r.out;
  }
  EXPECT_EQ(counters[0], counters[1]);
  EXPECT_NE(counters[0].find("[2:"), std::string::npos) << counters[0];
}

TEST(Replay, PcapngCarriesInterfaces) {
  testsupport::TempDir t("nfjit-replay");
  auto rules = t.file("r.rules",
                      "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -i lan9 -o out0 -j ACCEPT\n-A FORWARD -i in0 -j DROP\nCOMMIT\n");
  auto in = t.file("in.pcapng");
  {
    PcapngWriter w(in);
    uint32_t a = w.interfaceId("in0", 1), b = w.interfaceId("lan9", 1);
    PacketSpec s;
    auto fr = ethernet(buildPacket(s), Family::IPv4);
    w.write(a, 1000, fr, uint32_t(fr.size()));
    w.write(b, 2000, fr, uint32_t(fr.size()));
  }
  auto out = t.file("out.pcapng");
  auto r = runCommand({NFJIT_BINARY, "replay", rules, "--pcap", in, "--out", out, "--counters", "-"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_NE(r.out.find("[1:40] -A FORWARD -i lan9 -o out0 -j ACCEPT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1:40] -A FORWARD -i in0 -j DROP"), std::string::npos) << r.out;
  PcapngReader rd(out);
  PcapngPacket p;
  ASSERT_TRUE(rd.next(p));
  EXPECT_EQ(rd.interfaces()[p.iface].name, "out0");
  EXPECT_EQ(p.tsNs, 2000u);
  EXPECT_FALSE(rd.next(p));
}

TEST(Replay, MalformedPcapngIsReported) {
  testsupport::TempDir t("nfjit-replay");
  auto ok = t.file("ok.rules", "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
  // A section header followed by a block whose length runs past the file.
  std::string bad("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00"
                  "\xff\xff\xff\xff\xff\xff\xff\xff\x1c\x00\x00\x00\x06\x00\x00\x00\x00\x01\x00\x00", 36);
  auto r = runCommand({NFJIT_BINARY, "replay", ok, "--pcap", t.file("bad.pcapng", bad)});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("pcapng"), std::string::npos) << r.err;
}

TEST(FrameParser, VlanStacksAndShortFrames) {
  PacketSpec s;
  auto ip = buildPacket(s);
  for (auto tpid : {uint16_t(0x8100), uint16_t(0x88a8), uint16_t(0x9100)}) {
    auto fr = ethernet(ip, Family::IPv4, {5, 6, 7}, tpid);
    Frame f;
    ASSERT_TRUE(parseFrame(LinkType::Ethernet, fr.data(), uint32_t(fr.size()), f));
    EXPECT_TRUE(f.isIp);
    EXPECT_EQ(f.vlanIds, (std::vector<uint16_t>{5, 6, 7}));
    EXPECT_EQ(f.l3Offset, 26u);
  }
  auto fr = ethernet(ip, Family::IPv4, {5});
  Frame f;
  EXPECT_FALSE(parseFrame(LinkType::Ethernet, fr.data(), 15, f));  // cut inside the tag
  EXPECT_FALSE(parseFrame(LinkType::Ethernet, fr.data(), 13, f));
  ASSERT_TRUE(parseFrame(LinkType::RawIp, ip.data(), uint32_t(ip.size()), f));
  EXPECT_EQ(f.family, Family::IPv4);
  Frame bcast;
  auto b = ethernet(ip, Family::IPv4);
  for (int i = 0; i < 6; ++i) b[size_t(i)] = 0xff;
  ASSERT_TRUE(parseFrame(LinkType::Ethernet, b.data(), uint32_t(b.size()), bcast));
  EXPECT_EQ(classifyPktType(bcast, {}, false), PktType::Broadcast);
  b[0] = 0x01;
  parseFrame(LinkType::Ethernet, b.data(), uint32_t(b.size()), bcast);
  EXPECT_EQ(classifyPktType(bcast, {}, false), PktType::Multicast);
}

}  // namespace
}  // namespace nfjit::testing
