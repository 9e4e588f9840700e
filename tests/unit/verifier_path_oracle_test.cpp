// Whole-path diff witnesses against the kernel: a mark set in mangle
// PREROUTING and matched in filter FORWARD. The per-chain diff of the filter
// table sees no change; the forward path differs, and its witness, sent
// through the kernel loaded with each version, reaches the sink in exactly
// the version whose fate is "forward". Root only (network namespaces); runs
// in the serial oracle phase.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/Netns.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/Topology.h"
#include "tests/support/VerifierFixtures.h"
#include "verifier/HostModel.h"
#include "verifier/PathModel.h"
#include "verifier/Verifier.h"
#include "runtime/pipeline/HookPipeline.h"

namespace nfjit::testing {
namespace {

// Old marks DNS queries that pass through and drops what is marked; new
// marks nothing. Destinations beyond the sink, through fw's default route.
std::pair<std::string, std::string> markAcrossTables(Family f) {
  const std::string net = f == Family::IPv4 ? "203.0.113.0/24" : "2001:db8:3::/64";
  const std::string filter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                             "-A FORWARD -m mark --mark 0x1 -j DROP\n"
                             "-A FORWARD -d " + net + " -j ACCEPT\nCOMMIT\n";
  const std::string mangleHead = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                                 ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";
  const std::string mark = "-A PREROUTING -d " + net + " -p udp -m udp --dport 53 -j MARK --set-xmark 0x1/0xffffffff\n";
  return {mangleHead + mark + "COMMIT\n" + filter, mangleHead + "COMMIT\n" + filter};
}

class VerifierPathOracle : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (auto why = netnsSkipReason()) GTEST_SKIP() << *why;
  }
};

TEST_P(VerifierPathOracle, PathDiffWitnessTakesItsPathInTheKernel) {
  const Family f = GetParam();
  auto [oldRules, newRules] = markAcrossTables(f);
  Ruleset oldRs = testsupport::parseRules(oldRules, f), newRs = testsupport::parseRules(newRules, f);
  const HostModel host = topologyHost(f);
  verifier::DiffOptions opts;
  opts.host = host;
  for (const auto& cd : verifier::diffRulesets(oldRs, newRs, "filter", nullptr, opts))
    EXPECT_TRUE(cd.equivalent) << cd.chain << ": the filter table itself did not change";
  const auto paths = verifier::diffPaths(oldRs, newRs, host);
  const verifier::PathDiff* forward = testsupport::findPath(paths, verifier::PathKind::Forward);
  ASSERT_TRUE(forward);
  ASSERT_FALSE(forward->equivalent);
  ASSERT_TRUE(forward->difference);
  const auto& d = *forward->difference;
  SCOPED_TRACE(d.witness.describe() + ": old " + verifier::pathFateText(d.oldFate) + ", new " +
               verifier::pathFateText(d.newFate));
  ASSERT_TRUE(d.replayed) << d.replayNote;
  EXPECT_EQ(d.newFate.fate, "forward");
  Topology topo(f);
  size_t reachedSink[2] = {0, 0};
  for (int version = 0; version < 2; ++version) {
    auto load = topo.load(version ? newRules : oldRules);
    ASSERT_TRUE(load.ok) << load.firstError;
    reachedSink[version] = topo.send({d.witness.bytes}).size();
  }
  EXPECT_EQ(reachedSink[0] != 0, d.oldFate.fate == "forward") << "old";
  EXPECT_EQ(reachedSink[1] != 0, d.newFate.fate == "forward") << "new";
}

// The versions differ only in where nat PREROUTING's DNAT sends DNS
// queries: filter FORWARD accepts only the old target, behind fw's default
// route. Replay applies the DNAT, so the witness is replayed as claimed;
// the kernel forwards it in the old version only, and the bytes that reach
// the sink are the ones HookPipeline emits (address, checksums, TTL).
std::pair<std::string, std::string> dnatOnly(Family f) {
  const bool v4 = f == Family::IPv4;
  const std::string target = v4 ? "203.0.113.53" : "2001:db8:3::53";
  const std::string other = v4 ? "203.0.113.54" : "2001:db8:3::54";
  const std::string filter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                             "-A FORWARD -d " + target + (v4 ? "/32" : "/128") +
                             " -p udp -m udp --dport 53 -j ACCEPT\nCOMMIT\n";
  const std::string natHead = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                              ":POSTROUTING ACCEPT [0:0]\n";
  auto dnat = [&](const std::string& to) {
    return natHead + "-A PREROUTING -i in0 -p udp -m udp --dport 53 -j DNAT --to-destination " + to + "\nCOMMIT\n";
  };
  return {dnat(target) + filter, dnat(other) + filter};
}

TEST_P(VerifierPathOracle, DnatWitnessIsReplayedAndMatchesTheKernel) {
  const Family f = GetParam();
  auto [oldRules, newRules] = dnatOnly(f);
  Ruleset oldRs = testsupport::parseRules(oldRules, f), newRs = testsupport::parseRules(newRules, f);
  const HostModel host = topologyHost(f);
  const auto paths = verifier::diffPaths(oldRs, newRs, host);
  const verifier::PathDiff* forward = testsupport::findPath(paths, verifier::PathKind::Forward);
  ASSERT_TRUE(forward);
  ASSERT_FALSE(forward->equivalent);
  ASSERT_TRUE(forward->difference);
  const auto& d = *forward->difference;
  SCOPED_TRACE(d.witness.describe() + ": old " + verifier::pathFateText(d.oldFate) + ", new " +
               verifier::pathFateText(d.newFate));
  ASSERT_EQ(d.oldFate.fate, "forward");
  ASSERT_TRUE(d.replayed) << d.replayNote;
  // What replay emits for the old version.
  HookPipeline pipe(oldRs, host);
  std::vector<uint8_t> bytes = d.witness.bytes;
  PipelineResult r = pipe.process(bytes.data(), uint32_t(bytes.size()), PktType::Host, {}, false, 0, 0, "in0");
  ASSERT_EQ(r.fate, PipelineResult::Fate::Forwarded);
  ASSERT_EQ(r.emitted.size(), 1u);
  ASSERT_FALSE(r.natApplied.empty());
  Topology topo(f);
  // The version that drops goes first: a dropped packet leaves no
  // conntrack entry, a forwarded one would carry its DNAT binding over.
  std::vector<std::vector<uint8_t>> reached[2];
  for (int version : {1, 0}) {
    auto load = topo.load(version ? newRules : oldRules);
    ASSERT_TRUE(load.ok) << load.firstError;
    reached[version] = topo.send({d.witness.bytes});
  }
  EXPECT_TRUE(reached[1].empty()) << "new";
  ASSERT_EQ(reached[0].size(), 1u) << "old";
  EXPECT_EQ(reached[0][0], r.emitted[0].l3) << "the forwarded bytes";
}

// Each packet through `pipe` from in0: each must be forwarded, as one
// packet; `model` gets the forwarded bytes.
void forwardEach(HookPipeline& pipe, const std::vector<std::vector<uint8_t>>& packets,
                 std::vector<PipelineResult>& results, std::vector<std::vector<uint8_t>>& model) {
  for (auto p : packets) {
    PipelineResult r = pipe.process(p.data(), uint32_t(p.size()), PktType::Host, {}, false, 0, 0, "in0");
    ASSERT_EQ(r.fate, PipelineResult::Fate::Forwarded);
    ASSERT_EQ(r.emitted.size(), 1u);
    model.push_back(r.emitted[0].l3);
    results.push_back(std::move(r));
  }
}

// Loads `rules` into the kernel's fw, sends `packets` from src and expects
// the packets that reach sink to be `model`'s, byte for byte, in any order.
void expectKernelForwardsTheSame(Topology& topo, const std::string& rules,
                                 const std::vector<std::vector<uint8_t>>& packets,
                                 std::vector<std::vector<uint8_t>> model) {
  auto load = topo.load(rules);
  ASSERT_TRUE(load.ok) << load.firstError;
  auto kernel = topo.send(packets);
  ASSERT_EQ(kernel.size(), model.size());
  std::sort(kernel.begin(), kernel.end());
  std::sort(model.begin(), model.end());
  for (size_t i = 0; i < model.size(); ++i) EXPECT_EQ(kernel[i], model[i]) << "packet " << i;
}

// HookPipeline's NAT against the kernel's, byte for byte: DNAT with and
// without a port, MASQUERADE to out0's address, SNAT to a port range that
// holds the source port (kept), a UDP checksum of 0 (IPv4: stays 0). The
// FORWARD rules count what -m conntrack reads of the tuples DNAT changed.
TEST_P(VerifierPathOracle, NatRewritesMatchTheKernelBytes) {
  const Family f = GetParam();
  const bool v4 = f == Family::IPv4;
  auto a = [&](const char* four, const char* six) { return std::string(v4 ? four : six); };
  const std::string rules =
      "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -i in0 -p tcp -m tcp --dport 80 -j DNAT --to-destination " +
      a("203.0.113.80:8080", "[2001:db8:3::80]:8080") + "\n" +
      "-A PREROUTING -i in0 -p udp -m udp --dport 53 -j DNAT --to-destination " + a("203.0.113.53", "2001:db8:3::53") +
      "\n-A POSTROUTING -o out0 -p tcp -m tcp --dport 22 -j SNAT --to-source " +
      a("198.51.100.1:20000-20010", "[2001:db8:2::1]:20000-20010") + "\n-A POSTROUTING -o out0 -j MASQUERADE\nCOMMIT\n" +
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A FORWARD -m conntrack --ctstate DNAT --ctorigdst " + a("203.0.113.7", "2001:db8:3::7") + "\n" +
      "-A FORWARD -m conntrack --ctreplsrc " + a("203.0.113.80", "2001:db8:3::80") + " --ctreplsrcport 8080\n" +
      "-A FORWARD -m conntrack --ctreplsrc " + a("203.0.113.53", "2001:db8:3::53") + " --ctreplsrcport 53\n" +
      "-A FORWARD -m conntrack --ctorigdstport 80 --ctrepldstport 40000\n"
      "-A FORWARD -m conntrack --ctrepldst " + a("192.0.2.10", "2001:db8:1::10") + "\n" +
      "COMMIT\n";
  const std::string client = a("192.0.2.10", "2001:db8:1::10"), far = a("203.0.113.7", "2001:db8:3::7");
  std::vector<std::vector<uint8_t>> packets;
  packets.push_back(buildPacket(flowPacket(f, client, far, 6, 40000, 80)));
  PacketSpec udp = flowPacket(f, client, far, 17, 5353, 53);
  udp.payload = 13;
  packets.push_back(buildPacket(udp));
  packets.push_back(buildPacket(flowPacket(f, client, far, 6, 20005, 22)));
  if (v4) {
    PacketSpec z = flowPacket(f, client, far, 17, 5354, 53);
    z.payload = 8;
    packets.push_back(buildPacket(z));
    packets.back()[20 + 6] = packets.back()[20 + 7] = 0;
  }
  Ruleset rs = testsupport::parseRules(rules, f);
  HookPipeline pipe(rs, topologyHost(f));
  std::vector<std::vector<uint8_t>> model;
  std::vector<PipelineResult> results;
  ASSERT_NO_FATAL_FAILURE(forwardEach(pipe, packets, results, model));
  for (const auto& r : results) EXPECT_FALSE(r.natApplied.empty());
  Topology topo(f);
  expectKernelForwardsTheSame(topo, rules, packets, model);
  // FORWARD's counters (before POSTROUTING's SNAT: the reply tuple holds
  // only DNAT's change there).
  Ruleset counted = testsupport::parseRules(topo.saveCounters(), f);
  pipe.classifier().counters().applyTo(rs);
  auto forward = [](const Ruleset& r) {
    std::vector<std::pair<uint64_t, uint64_t>> c;
    for (const auto& t : r.tables)
      if (t.name == "filter")
        for (const auto& ch : t.chains)
          if (ch.name == "FORWARD")
            for (const auto& rule : ch.rules) {
              const Counters n = rule.counters.value_or(Counters{});
              c.emplace_back(n.packets, n.bytes);
            }
    return c;
  };
  EXPECT_EQ(forward(counted), forward(rs));
  EXPECT_EQ(forward(rs).size(), 5u);
  for (const auto& [packets, bytes] : forward(rs)) EXPECT_GT(packets, 0u) << "every tuple rule matches a packet";
}

// TCPMSS against the kernel, byte for byte: a SYN without options and one
// with other options get an MSS option inserted first (the packet grows by
// 4 bytes, MSS at most 536 / 1220), a larger MSS is lowered, a smaller one
// kept, and a SYN with data passes unchanged.
TEST_P(VerifierPathOracle, TcpmssMatchesTheKernelBytes) {
  const Family f = GetParam();
  const bool v4 = f == Family::IPv4;
  const std::string rules =
      "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      ":POSTROUTING ACCEPT [0:0]\n"
      "-A FORWARD -p tcp -m tcp --dport 80:89 --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200\n"
      "-A FORWARD -p tcp -m tcp --dport 90 --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 400\n"
      "COMMIT\n";
  const std::string client = v4 ? "192.0.2.10" : "2001:db8:1::10", far = v4 ? "203.0.113.7" : "2001:db8:3::7";
  std::vector<std::vector<uint8_t>> packets;
  packets.push_back(buildPacket(flowPacket(f, client, far, 6, 40000, 80)));  // no options
  PacketSpec opts = flowPacket(f, client, far, 6, 40001, 81);
  opts.tcpOptions = {4, 2, 1, 3, 3, 7, 1, 1};  // SACK permitted, window scale, padding
  packets.push_back(buildPacket(opts));
  PacketSpec big = flowPacket(f, client, far, 6, 40002, 82);
  big.tcpOptions = {2, 4, 0x05, 0xb4};  // MSS 1460
  packets.push_back(buildPacket(big));
  PacketSpec small = flowPacket(f, client, far, 6, 40003, 83);
  small.tcpOptions = {2, 4, 0x03, 0x00};  // MSS 768
  packets.push_back(buildPacket(small));
  PacketSpec data = flowPacket(f, client, far, 6, 40004, 84);
  data.payload = 12;
  packets.push_back(buildPacket(data));
  packets.push_back(buildPacket(flowPacket(f, client, far, 6, 40005, 90)));  // MSS 400 under the default
  Ruleset rs = testsupport::parseRules(rules, f);
  HookPipeline pipe(rs, topologyHost(f));
  std::vector<std::vector<uint8_t>> model;
  std::vector<PipelineResult> results;
  ASSERT_NO_FATAL_FAILURE(forwardEach(pipe, packets, results, model));
  EXPECT_EQ(model[0].size(), packets[0].size() + 4) << "the option is added";
  Topology topo(f);
  expectKernelForwardsTheSame(topo, rules, packets, model);
}

INSTANTIATE_TEST_SUITE_P(Kernel, VerifierPathOracle, ::testing::Values(Family::IPv4, Family::IPv6),
                         [](const ::testing::TestParamInfo<Family>& i) {
                           return std::string(i.param == Family::IPv4 ? "IPv4" : "IPv6");
                         });

}  // namespace
}  // namespace nfjit::testing
