// Verifier witnesses against the kernel, under the test topology's host
// model (so witnesses take the path the kernel gives them): planted
// shadowed rules — the shadowed rule must not count its witness, one of
// its named blockers must —, a planted diff — each witness is decided
// in the kernel by the rules the diff names, with different verdicts —
// and planted overlaps and a redundant rule, decided as their findings say.
// Root only (network namespaces); runs in the serial oracle phase.
#include <gtest/gtest.h>

#include <map>

#include "compiler/frontend/RestoreParser.h"
#include "tests/support/Netns.h"
#include "tests/support/Topology.h"
#include "verifier/HostModel.h"
#include "tests/support/VerifierFixtures.h"
#include "verifier/Verifier.h"

namespace nfjit::testing {
namespace {

Ruleset parseRules(const std::string& text, Family f, const std::string&) { return testsupport::parseRules(text, f); }

// Three shadowed rules: by an earlier broader rule with another action, by
// a DROP inside a user chain the packet passes first, and in FORWARD.
std::string plantedShadows(Family f) {
  const bool v4 = f == Family::IPv4;
  const std::string srcNet = v4 ? "192.0.2.0/25" : "2001:db8:1::/65";
  const std::string fwdNet = v4 ? "198.51.100.0/24" : "2001:db8:2::/64";
  const std::string fwdHost = v4 ? "198.51.100.7/32" : "2001:db8:2::7/128";
  return "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:svc - [0:0]\n"
         "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
         "-A INPUT -s " + srcNet + " -p tcp -m tcp --dport 22 -j DROP\n"
         "-A INPUT -p udp -j svc\n"
         "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n"
         "-A svc -p udp -m udp --dport 53 -j DROP\n"
         "-A svc -j RETURN\n"
         "-A FORWARD -d " + fwdNet + " -j ACCEPT\n"
         "-A FORWARD -d " + fwdHost + " -p tcp -m tcp --dport 80 -j DROP\n"
         "COMMIT\n";
}

// The kernel's counters of rule `index` of table/chain (names, since the
// kernel orders user chains its own way).
Counters kernelRule(const Ruleset& kernel, const std::string& table, const std::string& chain, size_t index) {
  for (const auto& t : kernel.tables)
    if (t.name == table)
      if (const Chain* c = t.findChain(chain); c && index < c->rules.size())
        return c->rules[index].counters.value_or(Counters{});
  ADD_FAILURE() << "no rule " << index << " in " << table << "/" << chain << " of the kernel's save output";
  return {};
}

class VerifierOracle : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (auto why = netnsSkipReason()) GTEST_SKIP() << *why;
  }
};

TEST_P(VerifierOracle, ShadowedWitnessesAreBlockedInTheKernel) {
  const Family f = GetParam();
  const std::string rules = plantedShadows(f);
  Ruleset rs = parseRules(rules, f, "planted");
  verifier::CheckOptions opts;
  opts.host = topologyHost(f);
  verifier::CheckResult r = verifier::checkRuleset(rs, opts);

  Topology topo(f);
  size_t sent = 0;
  for (const auto& fd : r.findings) {
    if (fd.name != "shadowed") continue;
    SCOPED_TRACE("shadowed rule at line " + std::to_string(fd.rule.loc.line));
    ASSERT_TRUE(fd.witness.has_value());
    ASSERT_TRUE(fd.replayed) << "the interpreter disagrees with the finding";
    ASSERT_FALSE(fd.related.empty());
    auto load = topo.load(rules);
    ASSERT_TRUE(load.ok) << load.firstError;
    verifier::Witness wire = verifier::arrivalForm(*fd.witness, fd.hook);
    topo.send({wire.bytes});
    Ruleset kernel = parseRules(topo.saveCounters(), f, "kernel-save");
    const std::string seen = "witness " + wire.describe();
    EXPECT_EQ(kernelRule(kernel, fd.rule.tableName, fd.rule.chainName, fd.rule.rule).packets, 0u) << seen;
    // The blockers are the jump into svc and the DROP in it, or the one earlier rule: each counted it.
    for (const auto& b : fd.related)
      EXPECT_EQ(kernelRule(kernel, b.tableName, b.chainName, b.rule).packets, 1u)
          << "blocker " << b.chainName << " rule " << b.rule << " did not count the " << seen;
    ++sent;
  }
  EXPECT_EQ(sent, 3u) << "the three planted shadowed rules";
}

// Two versions of a ruleset: an action changed in INPUT (ACCEPT → REJECT)
// and a DROP moved before a broader ACCEPT in FORWARD.
std::pair<std::string, std::string> plantedDiff(Family f) {
  const bool v4 = f == Family::IPv4;
  // Beyond the sink (through fw's default route), so that an accepted packet reaches it.
  const std::string net = v4 ? "203.0.113.0/24" : "2001:db8:3::/64";
  const std::string host = v4 ? "203.0.113.7/32" : "2001:db8:3::7/128";
  const std::string head = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                           "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n";
  const std::string web = "-A FORWARD -d " + net + " -p tcp -m tcp --dport 80 -j ACCEPT\n";
  const std::string block = "-A FORWARD -d " + host + " -j DROP\n";
  const std::string rest = "-A FORWARD -d " + net + " -j ACCEPT\nCOMMIT\n";
  std::string oldRules = head + "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n" + web + block + rest;
  std::string newRules = head + "-A INPUT -p udp -m udp --dport 53 -j REJECT\n" + block + web + rest;
  return {oldRules, newRules};
}

// Which rule of the chain (or its policy: -1) counted the one packet sent.
int kernelDecider(const Ruleset& kernel, const std::string& chain) {
  for (const auto& t : kernel.tables)
    if (t.name == "filter")
      if (const Chain* c = t.findChain(chain)) {
        int last = -2;
        for (size_t r = 0; r < c->rules.size(); ++r)
          if (c->rules[r].counters.value_or(Counters{}).packets) last = int(r);
        if (last == -2 && c->counters.packets) last = -1;
        return last;
      }
  return -3;
}

// Every difference's witness, sent through the kernel loaded with each
// version, is decided there by the rule the diff names (or the policy), and
// a forwarded one reaches the sink in exactly the version that accepts it.
TEST_P(VerifierOracle, DiffWitnessesGetDifferentKernelVerdicts) {
  const Family f = GetParam();
  auto [oldRules, newRules] = plantedDiff(f);
  Ruleset oldRs = parseRules(oldRules, f, "old"), newRs = parseRules(newRules, f, "new");
  verifier::DiffOptions opts;
  opts.host = topologyHost(f);
  auto diffs = verifier::diffRulesets(oldRs, newRs, "filter", nullptr, opts);
  Topology topo(f);
  size_t checked = 0;
  for (const auto& cd : diffs)
    for (const auto& d : cd.differences) {
      SCOPED_TRACE(cd.chain + ": " + d.witness.describe() + " old " + d.oldVerdict + " new " + d.newVerdict);
      ASSERT_TRUE(d.replayed) << "the interpreter disagrees with the diff";
      const auto wire = verifier::arrivalForm(d.witness, cd.hook).bytes;
      size_t reachedSink[2] = {0, 0};
      for (int version = 0; version < 2; ++version) {
        auto load = topo.load(version ? newRules : oldRules);
        ASSERT_TRUE(load.ok) << load.firstError;
        reachedSink[version] = topo.send({wire}).size();
        Ruleset kernel = parseRules(topo.saveCounters(), f, "kernel-save");
        const auto& named = version ? d.newRules : d.oldRules;
        EXPECT_EQ(kernelDecider(kernel, cd.chain), named.empty() ? -1 : int(named.back().rule))
            << (version ? "new" : "old") << " version";
      }
      if (cd.chain == "FORWARD")
        EXPECT_EQ(reachedSink[0] != 0, d.oldVerdict == "ACCEPT") << "old";
      if (cd.chain == "FORWARD")
        EXPECT_EQ(reachedSink[1] != 0, d.newVerdict == "ACCEPT") << "new";
      ++checked;
    }
  EXPECT_EQ(checked, 2u) << "one difference in INPUT, one in FORWARD";
}

// Planted in FORWARD (towards the network beyond the sink): a conflict
// (a host DROP after a subnet's web ACCEPT), a redundant rule (a DNS ACCEPT
// for one host before the subnet's UDP ACCEPT) and a generalization (an SSH
// DROP before the subnet's TCP ACCEPT).
std::string plantedOverlaps(Family f) {
  const bool v4 = f == Family::IPv4;
  const std::string net = v4 ? "203.0.113.0/24" : "2001:db8:3::/64";
  const std::string host = v4 ? "203.0.113.7/32" : "2001:db8:3::7/128";
  const std::string dns = v4 ? "203.0.113.53/32" : "2001:db8:3::53/128";
  return "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A FORWARD -d " + net + " -p tcp -m tcp --dport 80 -j ACCEPT\n"
         "-A FORWARD -d " + host + " -j DROP\n"
         "-A FORWARD -d " + dns + " -p udp -m udp --dport 53 -j ACCEPT\n"
         "-A FORWARD -d " + net + " -p udp -j ACCEPT\n"
         "-A FORWARD -d " + net + " -p tcp -m tcp --dport 22 -j DROP\n"
         "-A FORWARD -d " + net + " -p tcp -j ACCEPT\n"
         "COMMIT\n";
}

// The rules text without line `line` (1-based).
std::string withoutLine(const std::string& text, uint32_t line) {
  std::string out;
  size_t pos = 0;
  for (uint32_t n = 1; pos < text.size(); ++n) {
    size_t end = text.find('\n', pos);
    end = end == std::string::npos ? text.size() : end + 1;
    if (n != line) out += text.substr(pos, end - pos);
    pos = end;
  }
  return out;
}

// -Wconflict / -Wgeneralization: the witness is decided in the kernel by the
// earlier rule the finding names, never by the later one. -Wredundant: the
// rule decides its witness in the kernel, and with the rule deleted the
// rule the finding names (or the policy) decides it with the same fate at
// the sink.
TEST_P(VerifierOracle, OverlapAndRedundantWitnessesAreDecidedAsClaimedInTheKernel) {
  const Family f = GetParam();
  const std::string rules = plantedOverlaps(f);
  Ruleset rs = parseRules(rules, f, "planted");
  verifier::CheckOptions opts;
  opts.host = topologyHost(f);
  opts.analyses = {"conflict", "generalization", "redundant"};
  verifier::CheckResult r = verifier::checkRuleset(rs, opts);

  Topology topo(f);
  std::map<std::string, size_t> sent;
  for (const auto& fd : r.findings) {
    if (fd.name != "conflict" && fd.name != "generalization" && fd.name != "redundant") continue;
    SCOPED_TRACE(fd.name + " at line " + std::to_string(fd.rule.loc.line));
    ASSERT_TRUE(fd.witness.has_value());
    ASSERT_TRUE(fd.replayed) << "the interpreter disagrees with the finding";
    const auto wire = verifier::arrivalForm(*fd.witness, fd.hook).bytes;
    const std::string seen = "witness " + fd.witness->describe();
    auto load = topo.load(rules);
    ASSERT_TRUE(load.ok) << load.firstError;
    const size_t atSink = topo.send({wire}).size();
    Ruleset kernel = parseRules(topo.saveCounters(), f, "kernel-save");
    const int decider = kernelDecider(kernel, fd.rule.chainName);
    if (fd.name == "redundant") {
      EXPECT_EQ(decider, int(fd.rule.rule)) << seen;
      auto reduced = topo.load(withoutLine(rules, fd.rule.loc.line));
      ASSERT_TRUE(reduced.ok) << reduced.firstError;
      EXPECT_EQ(topo.send({wire}).size(), atSink) << "the verdict changed without the rule: " << seen;
      Ruleset without = parseRules(topo.saveCounters(), f, "kernel-save");
      int expected = -1;  // the policy
      if (!fd.related.empty()) expected = int(fd.related.front().rule) - (fd.related.front().rule > fd.rule.rule ? 1 : 0);
      EXPECT_EQ(kernelDecider(without, fd.rule.chainName), expected) << seen;
    } else {
      ASSERT_FALSE(fd.related.empty());
      EXPECT_EQ(decider, int(fd.related.front().rule)) << seen;
      EXPECT_EQ(kernelRule(kernel, fd.rule.tableName, fd.rule.chainName, fd.rule.rule).packets, 0u) << seen;
    }
    ++sent[fd.name];
  }
  EXPECT_GE(sent["conflict"], 1u);
  EXPECT_GE(sent["generalization"], 1u);
  EXPECT_EQ(sent["redundant"], 1u) << "the DNS host rule";
}

INSTANTIATE_TEST_SUITE_P(Kernel, VerifierOracle, ::testing::Values(Family::IPv4, Family::IPv6),
                         [](const ::testing::TestParamInfo<Family>& i) {
                           return std::string(i.param == Family::IPv4 ? "IPv4" : "IPv6");
                         });

}  // namespace
}  // namespace nfjit::testing
