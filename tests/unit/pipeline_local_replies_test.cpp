// The host's own answers in the reference pipeline (HostModel::localReplies):
// the local stack's reply to a delivered packet, REJECT's reply and ICMP
// time exceeded leave through OUTPUT when modelled, and not at all when
// `--no-local-replies` turns them off.
#include <gtest/gtest.h>

#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RulesetFixture.h"

namespace nfjit {
namespace {

const char* kRules =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A INPUT -p udp -m udp --dport 9 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n";

HostModel host(bool localReplies) {
  HostModel h;
  h.localAddrs = {*parseIpAddr(Family::IPv4, "192.0.2.1")};
  h.routes.push_back({*parseIpAddr(Family::IPv4, "192.0.2.0"), 24, "in0"});
  h.ifaceAddrs = {{"in0", *parseIpAddr(Family::IPv4, "192.0.2.1")}};
  h.localReplies = localReplies;
  return h;
}

// The packets the host sends in answer to `spec` arriving on in0.
size_t answers(bool localReplies, const testing::PacketSpec& spec) {
  Ruleset rs = testsupport::parseRules(kRules);
  HookPipeline pipe(rs, host(localReplies));
  std::vector<uint8_t> b = testing::buildPacket(spec);
  PipelineResult r = pipe.process(b.data(), uint32_t(b.size()), PktType::Host, {}, false, 0, 0, "in0");
  size_t n = 0;
  for (const auto& e : r.emitted) n += e.kind == EmittedPacket::Kind::Reply;
  return n;
}

TEST(PipelineLocalReplies, OnlyWhenModelled) {
  testing::PacketSpec echo = testing::flowPacket(Family::IPv4, "192.0.2.10", "192.0.2.1", 1, 0, 0);
  testing::PacketSpec rejected = testing::flowPacket(Family::IPv4, "192.0.2.10", "192.0.2.1", 17, 5000, 9);
  testing::PacketSpec dying = testing::flowPacket(Family::IPv4, "192.0.2.10", "198.51.100.7", 17, 5000, 53);
  dying.ttl = 1;
  for (const auto* spec : {&echo, &rejected, &dying}) {
    EXPECT_EQ(answers(true, *spec), 1u) << "dport " << spec->dport << " ttl " << int(spec->ttl);
    EXPECT_EQ(answers(false, *spec), 0u) << "dport " << spec->dport << " ttl " << int(spec->ttl);
  }
}

}  // namespace
}  // namespace nfjit
