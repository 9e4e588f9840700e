// Martian sources in the reference pipeline's routing decision: an IPv4
// packet arriving with one of the host's own addresses as its source is
// dropped before INPUT or FORWARD, as the kernel's fib_validate_source does
// (without accept_local); IPv6 routing has no such check.
#include <gtest/gtest.h>

#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RulesetFixture.h"

namespace nfjit {
namespace {

using F = PipelineResult::Fate;

std::string acceptAll() {
  return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
}

HostModel hostOf(Family f, const char* inAddr, const char* outAddr) {
  HostModel h;
  h.inIface = "in0";
  h.outIface = "out0";
  h.localAddrs = {*parseIpAddr(f, inAddr), *parseIpAddr(f, outAddr)};
  h.ifaceAddrs = {{"in0", h.localAddrs[0]}, {"out0", h.localAddrs[1]}};
  return h;
}

PipelineResult receive(HookPipeline& pipe, std::vector<uint8_t> bytes) {
  return pipe.process(bytes.data(), uint32_t(bytes.size()), PktType::Host, {}, false, 0, 0, "in0");
}

TEST(PipelineMartian, OwnAddressAsSourceIsDroppedInIPv4) {
  Ruleset rs = testsupport::parseRules(acceptAll(), Family::IPv4);
  HookPipeline pipe(rs, hostOf(Family::IPv4, "192.0.2.1", "198.51.100.1"));
  // From the out0 address, arriving on in0: to a far host and to the host itself.
  for (const char* dst : {"203.0.113.7", "192.0.2.1"}) {
    auto r = receive(pipe, testing::buildPacket(testing::flowPacket(Family::IPv4, "198.51.100.1", dst, 17, 4000, 53)));
    EXPECT_EQ(r.fate, F::RouteDrop) << dst;
    EXPECT_EQ(r.reason, "martian-source") << dst;
  }
  // Any other source of that network is forwarded.
  auto ok = receive(pipe, testing::buildPacket(testing::flowPacket(Family::IPv4, "198.51.100.9", "203.0.113.7", 17, 4000, 53)));
  EXPECT_EQ(ok.fate, F::Forwarded) << ok.reason;
}

TEST(PipelineMartian, OwnAddressAsSourceIsRoutedInIPv6) {
  Ruleset rs = testsupport::parseRules(acceptAll(), Family::IPv6);
  HookPipeline pipe(rs, hostOf(Family::IPv6, "2001:db8:1::1", "2001:db8:2::1"));
  auto r = receive(pipe, testing::buildPacket(testing::flowPacket(Family::IPv6, "2001:db8:2::1", "2001:db8:3::7", 17, 4000, 53)));
  EXPECT_EQ(r.fate, F::Forwarded) << r.reason;
}

}  // namespace
}  // namespace nfjit
