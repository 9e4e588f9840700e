// Connection tracking in the reference pipeline: the state each packet
// shows to -m state / -m conntrack, as the kernel's conntrack core gives it
// after the raw table (nf_conntrack_in, tcp_new/icmp_new, tcp_loose=1):
// a connection is NEW until its reply, ESTABLISHED from then on; packets
// that cannot open one are INVALID and leave no connection behind; NOTRACK
// leaves them UNTRACKED; an ICMP error about a known connection is RELATED;
// a DNATed connection shows DNAT. tests/unit/pipeline_conntrack_oracle_test.cpp
// checks the same against the kernel.
#include <gtest/gtest.h>

#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RulesetFixture.h"

namespace nfjit {
namespace {

using F = PipelineResult::Fate;

// FORWARD accepts by state and counts which rule did: the deciding rule's
// line tells the state the packet had.
const char* kRules =
    "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A PREROUTING -s 198.51.100.99/32 -j NOTRACK\nCOMMIT\n"
    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
    "-A PREROUTING -d 203.0.113.80/32 -p tcp -j DNAT --to-destination 192.0.2.80\nCOMMIT\n"
    "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT\n"
    "-A FORWARD -m state --state NEW -j ACCEPT\n"
    "-A FORWARD -m state --state ESTABLISHED -j ACCEPT\n"
    "-A FORWARD -m state --state INVALID -j ACCEPT\n"
    "-A FORWARD -m state --state UNTRACKED -j ACCEPT\n"
    "-A FORWARD -m state --state RELATED -j ACCEPT\n"
    "COMMIT\n";
// Their lines.
constexpr uint32_t kDnat = 17, kNew = 18, kEstablished = 19, kInvalid = 20, kUntracked = 21, kRelated = 22;

HostModel host() {
  HostModel h;
  h.localAddrs = {*parseIpAddr(Family::IPv4, "192.0.2.1"), *parseIpAddr(Family::IPv4, "203.0.113.2")};
  h.routes.push_back({*parseIpAddr(Family::IPv4, "192.0.2.0"), 24, "in0"});
  h.ifaceAddrs = {{"in0", *parseIpAddr(Family::IPv4, "192.0.2.1")}, {"out0", *parseIpAddr(Family::IPv4, "203.0.113.2")}};
  return h;
}

// The line of the FORWARD rule that accepted the packet (0: none).
uint32_t acceptLine(HookPipeline& pipe, const Ruleset& rs, std::vector<uint8_t> b, const std::string& in) {
  PipelineResult r = pipe.process(b.data(), uint32_t(b.size()), PktType::Host, {}, false, 0, 0, in);
  for (const auto& st : r.steps)
    if (st.table == "filter" && st.hook == Hook::Forward && !st.result.matched.empty()) {
      const RuleRef& m = st.result.matched.back();
      if (!m.isPolicy) return rs.tables[m.table].chains[m.chain].rules[m.rule].loc.line;
    }
  return 0;
}

uint32_t stateLine(HookPipeline& pipe, const Ruleset& rs, const testing::PacketSpec& spec, const std::string& in) {
  return acceptLine(pipe, rs, testing::buildPacket(spec), in);
}

testing::PacketSpec packet(const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport,
                           uint8_t flags = 0x02) {
  testing::PacketSpec p = testing::flowPacket(Family::IPv4, src, dst, proto, sport, dport);
  p.tcpFlags = flags;
  return p;
}

TEST(PipelineConntrack, NewUntilTheReplyThenEstablished) {
  Ruleset rs = testsupport::parseRules(kRules);
  HookPipeline pipe(rs, host());
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40000, 22), "out0"), kNew);  // SYN
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40000, 22), "out0"), kNew);  // retransmitted
  EXPECT_EQ(stateLine(pipe, rs, packet("192.0.2.10", "198.51.100.7", 6, 22, 40000, 0x12), "in0"), kEstablished);  // SYN/ACK
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40000, 22, 0x10), "out0"), kEstablished);  // ACK
  // UDP and ICMP echo alike.
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 17, 5000, 53), "out0"), kNew);
  EXPECT_EQ(stateLine(pipe, rs, packet("192.0.2.10", "198.51.100.7", 17, 53, 5000), "in0"), kEstablished);
  testing::PacketSpec echo = packet("198.51.100.8", "192.0.2.10", 1, 0, 0);
  EXPECT_EQ(stateLine(pipe, rs, echo, "out0"), kNew);
  echo = packet("192.0.2.10", "198.51.100.8", 1, 0, 0);
  echo.icmpType = 0;
  EXPECT_EQ(stateLine(pipe, rs, echo, "in0"), kEstablished);
}

TEST(PipelineConntrack, PacketsThatCannotOpenAConnectionAreInvalid) {
  Ruleset rs = testsupport::parseRules(kRules);
  HookPipeline pipe(rs, host());
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40001, 22, 0x12), "out0"), kInvalid);  // SYN/ACK
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40002, 22, 0x04), "out0"), kInvalid);  // RST
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40003, 22, 0x11), "out0"), kInvalid);  // FIN/ACK
  // A bare ACK is picked up mid-stream (nf_conntrack_tcp_loose).
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40004, 22, 0x10), "out0"), kNew);
  testing::PacketSpec reply = packet("198.51.100.9", "192.0.2.10", 1, 0, 0);
  reply.icmpType = 0;  // an echo reply nobody asked for
  EXPECT_EQ(stateLine(pipe, rs, reply, "out0"), kInvalid);
}

TEST(PipelineConntrack, NotrackAndDnat) {
  Ruleset rs = testsupport::parseRules(kRules);
  HookPipeline pipe(rs, host());
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.99", "192.0.2.10", 6, 40000, 22), "out0"), kUntracked);
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "203.0.113.80", 6, 40000, 80), "out0"), kDnat);
}

// Port unreachable from `src` to `dst` quoting `quoted`, arriving on in0
// (the pipeline checks no checksums).
uint32_t errorLine(HookPipeline& pipe, const Ruleset& rs, const char* src, const char* dst,
                   const std::vector<uint8_t>& quoted) {
  testing::PacketSpec p = packet(src, dst, 1, 0, 0);
  p.icmpType = 3;
  p.icmpCode = 3;
  p.payload = quoted.size();
  auto b = testing::buildPacket(p);
  std::copy(quoted.begin(), quoted.end(), b.end() - ptrdiff_t(quoted.size()));
  return acceptLine(pipe, rs, std::move(b), "in0");
}

TEST(PipelineConntrack, IcmpErrorAboutAKnownConnectionIsRelated) {
  Ruleset rs = testsupport::parseRules(kRules);
  HookPipeline pipe(rs, host());
  auto request = packet("198.51.100.7", "192.0.2.10", 17, 5000, 53);
  EXPECT_EQ(stateLine(pipe, rs, request, "out0"), kNew);
  const auto quoted = testing::buildPacket(request);
  // Back to the client: RELATED, and it leaves the connection NEW.
  EXPECT_EQ(errorLine(pipe, rs, "192.0.2.10", "198.51.100.7", quoted), kRelated);
  EXPECT_EQ(stateLine(pipe, rs, request, "out0"), kNew);
  // To a host that is not the connection's: INVALID (nf_conntrack_inet_error).
  EXPECT_EQ(errorLine(pipe, rs, "192.0.2.10", "198.51.100.8", quoted), kInvalid);
  // About no known connection.
  const auto other = testing::buildPacket(packet("198.51.100.7", "192.0.2.10", 17, 5001, 53));
  EXPECT_EQ(errorLine(pipe, rs, "192.0.2.10", "198.51.100.7", other), kInvalid);
}

TEST(PipelineConntrack, PacketsWithoutAConnectionLeaveNoneBehind) {
  Ruleset rs = testsupport::parseRules(kRules);
  HookPipeline pipe(rs, host());
  // An invalid first packet: the next one of the tuple opens a connection.
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40010, 22, 0x12), "out0"), kInvalid);
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.7", "192.0.2.10", 6, 40010, 22), "out0"), kNew);
  // A NOTRACK'ed packet: its answer is a new connection, not a reply.
  EXPECT_EQ(stateLine(pipe, rs, packet("198.51.100.99", "192.0.2.10", 17, 5000, 53), "out0"), kUntracked);
  EXPECT_EQ(stateLine(pipe, rs, packet("192.0.2.10", "198.51.100.99", 17, 53, 5000), "in0"), kNew);
}

}  // namespace
}  // namespace nfjit
