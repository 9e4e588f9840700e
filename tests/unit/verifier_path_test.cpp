// diff and query under a host model (--in-iface, --out-iface, --local): the
// analysis is restricted to what replay on that host can see, and every
// witness, sent as it arrives through the replay pipeline, takes the
// claimed path and gets the claimed verdicts. Also the command lines: a
// repeatable host option never swallows the positional arguments.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend/RestoreParser.h"
#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/TempDir.h"
#include "tests/support/Netns.h"
#include "verifier/HostModel.h"
#include "verifier/Report.h"
#include "tests/support/VerifierFixtures.h"
#include "verifier/Verifier.h"

namespace nfjit {
namespace {

namespace fs = std::filesystem;

Ruleset parse(const std::string& text) {
  DiagnosticEngine d("test");
  ParseOptions po;
  Ruleset rs = parseRestore(text, po, d);
  std::string all;
  for (const auto& x : d.diagnostics()) all += d.format(x) + "\n";
  EXPECT_FALSE(d.hasErrors()) << all;
  return rs;
}

std::string filter(const std::string& body) {
  return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + body + "COMMIT\n";
}

HostModel host(std::vector<const char*> locals) { return testsupport::hostOnEth0(std::move(locals)); }

using testsupport::runPipeline;

const verifier::ChainDiff& chainOf(const std::vector<verifier::ChainDiff>& ds, const std::string& chain) {
  for (const auto& d : ds)
    if (d.chain == chain) return d;
  ADD_FAILURE() << "no result for " << chain;
  return ds.front();
}

std::vector<verifier::ChainDiff> diff(const Ruleset& a, const Ruleset& b, std::optional<HostModel> h) {
  verifier::DiffOptions o;
  o.host = std::move(h);
  return verifier::diffRulesets(a, b, "filter", nullptr, o);
}

// Differences on another interface or another host's address are invisible
// to this host, and only to it.
TEST(VerifierHostDiff, DifferencesOutsideTheHostAreEquivalent) {
  Ruleset a = parse(filter(
      "-A INPUT -i eth9 -j DROP\n"
      "-A INPUT -d 10.9.9.9/32 -j DROP\n"
      "-A FORWARD -o eth7 -j DROP\n"));
  Ruleset b = parse(filter(""));
  HostModel h = host({"192.0.2.1"});
  for (const auto& d : diff(a, b, h)) {
    EXPECT_TRUE(d.equivalent) << d.chain;
    EXPECT_TRUE(d.definite) << d.chain;
  }
  auto plain = diff(a, b, std::nullopt);
  EXPECT_FALSE(chainOf(plain, "INPUT").equivalent);
  EXPECT_FALSE(chainOf(plain, "FORWARD").equivalent);
  EXPECT_TRUE(chainOf(plain, "OUTPUT").equivalent);
  for (const auto& d : plain)
    for (const auto& x : d.differences) EXPECT_TRUE(x.replayed) << d.chain;
}

// A difference the host does see: its witness replays on the host with the
// verdicts the diff claims, on the path of the chain.
TEST(VerifierHostDiff, WitnessesReplayOnTheHost) {
  Ruleset a = parse(filter(
      "-A INPUT -i eth9 -j DROP\n"
      "-A INPUT -p tcp -m tcp --dport 23 -j DROP\n"
      "-A FORWARD -d 198.51.100.0/24 -j DROP\n"));
  Ruleset b = parse(filter("-A INPUT -i eth9 -j DROP\n"));
  HostModel h = host({"192.0.2.1"});
  auto ds = diff(a, b, h);
  const auto& in = chainOf(ds, "INPUT");
  const auto& fw = chainOf(ds, "FORWARD");
  ASSERT_FALSE(in.equivalent);
  ASSERT_FALSE(fw.equivalent);
  EXPECT_TRUE(chainOf(ds, "OUTPUT").equivalent);
  for (const auto* d : {&in, &fw}) {
    ASSERT_EQ(d->differences.size(), 1u) << d->chain;
    const auto& x = d->differences[0];
    EXPECT_TRUE(x.replayed);
    EXPECT_EQ(x.oldVerdict, "DROP");
    EXPECT_EQ(x.newVerdict, "ACCEPT");
    PipelineResult ro = runPipeline(a, h, x.witness, d->hook), rn = runPipeline(b, h, x.witness, d->hook);
    EXPECT_EQ(ro.forwardPath, d->hook == Hook::Forward) << d->chain;
    EXPECT_EQ(ro.fate, PipelineResult::Fate::Dropped) << d->chain << ": " << x.witness.describe();
    EXPECT_EQ(rn.fate, d->hook == Hook::Forward ? PipelineResult::Fate::Forwarded : PipelineResult::Fate::Delivered)
        << d->chain << ": " << x.witness.describe() << " " << rn.reason;
  }
  // INPUT: to the host's own address (not a multicast group), on its interface.
  EXPECT_EQ(in.differences[0].witness.dst, *parseIpAddr(Family::IPv4, "192.0.2.1"));
  EXPECT_EQ(in.differences[0].witness.inIface, "eth0");
}

// query's --where: the match part of a rule (kept alive by the caller).
Ruleset whereRuleset(const std::string& match) {
  return parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT " + match + "\nCOMMIT\n");
}
const Rule& whereRule(const Ruleset& w) { return w.tables[0].chains[0].rules[0]; }

TEST(VerifierHostQuery, WitnessTakesTheReplayPath) {
  Ruleset rs = parse(
      "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A INPUT -i eth9 -p tcp -j ACCEPT\n"
      "-A INPUT -d 10.9.9.9/32 -p tcp -j ACCEPT\n"
      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "-A FORWARD -s 10.0.0.0/8 -p udp -j ACCEPT\n"
      "COMMIT\n");
  HostModel h = host({"192.0.2.1", "192.0.2.2"});
  Ruleset tcp = whereRuleset("-p tcp"), udp = whereRuleset("-p udp"), not22 = whereRuleset("-p tcp -m tcp ! --dport 22");
  auto q = verifier::queryRuleset(rs, "filter", "INPUT", whereRule(tcp), "ACCEPT", h);
  ASSERT_TRUE(q.found);
  ASSERT_TRUE(q.replayed);
  // Only rule 7 accepts on this host: eth9 and 10.9.9.9 are not its own.
  ASSERT_EQ(q.decidedBy.size(), 1u);
  EXPECT_EQ(q.decidedBy[0].loc.line, 7u);
  EXPECT_EQ(q.witness->dport, 22);
  PipelineResult r = runPipeline(rs, h, *q.witness, Hook::LocalIn);
  EXPECT_EQ(r.fate, PipelineResult::Fate::Delivered) << q.witness->describe() << " " << r.reason;
  ASSERT_FALSE(r.steps.empty());
  EXPECT_EQ(r.steps.back().table, "filter");
  EXPECT_EQ(r.steps.back().hook, Hook::LocalIn);

  auto f = verifier::queryRuleset(rs, "filter", "FORWARD", whereRule(udp), "ACCEPT", h);
  ASSERT_TRUE(f.found);
  EXPECT_TRUE(f.replayed);
  PipelineResult rf = runPipeline(rs, h, *f.witness, Hook::Forward);
  EXPECT_TRUE(rf.forwardPath);
  EXPECT_EQ(rf.fate, PipelineResult::Fate::Forwarded) << f.witness->describe() << " " << rf.reason;

  // No packet to this host accepts on eth9 only: none, and none without the host is wrong.
  auto none = verifier::queryRuleset(rs, "filter", "INPUT", whereRule(not22), "ACCEPT", h);
  EXPECT_FALSE(none.found);
  auto some = verifier::queryRuleset(rs, "filter", "INPUT", whereRule(not22), "ACCEPT", std::nullopt);
  EXPECT_TRUE(some.found);
}

// ---- the command lines ----


using testing::runCommand;

// `--local A --local B RULES`: RULES stays the positional argument for
// query, replay, check and diff, and a query witness written with the host
// options replays through `nfjit replay` on the INPUT path, accepted.
TEST(VerifierHostCli, RepeatedLocalKeepsThePositionalsAndWitnessesReplay) {
  testsupport::TempDir t("nfjit-vpath");
  std::string rules = t.file("r.rules", filter("-A INPUT -i eth9 -j DROP\n-A INPUT -p tcp -m tcp --dport 23 -j DROP\n"));
  std::string other = t.file("o.rules", filter("-A INPUT -i eth9 -j DROP\n"));
  std::string pcap = t.file("w.pcap");
  auto q = runCommand({NFJIT_BINARY, "query", "--in-iface", "eth0", "--local", "192.0.2.1", "--local", "192.0.2.2",
                       rules, "--chain", "INPUT", "--where", "-p tcp --dport 23", "--verdict", "DROP",
                       "--witness-pcap", pcap});
  ASSERT_EQ(q.exitCode, 0) << q.describe() << q.out;
  auto r = runCommand({NFJIT_BINARY, "replay", "--in-iface", "eth0", "--local", "192.0.2.1", "--local", "192.0.2.2",
                       rules, "--pcap", pcap, "--trace", "--engine", "interp"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  std::istringstream lines(r.out);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line)) << r.out;
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["path"], "input") << line;
  EXPECT_EQ(j["fate"], "drop") << line;
  ASSERT_FALSE(j["hooks"].empty());
  EXPECT_EQ(j["hooks"].back()["chain"], "INPUT");
  EXPECT_EQ(j["hooks"].back()["matched"].back()["line"], 6) << line;

  auto c = runCommand({NFJIT_BINARY, "check", "--local", "192.0.2.1", "--local", "192.0.2.2", rules});
  EXPECT_NE(c.exitCode, 2) << c.describe();
  EXPECT_EQ(c.err.find("RULES is required"), std::string::npos) << c.err;
  // eth9 is not this host's: equivalent (0) with the host, different (1) without.
  auto dh = runCommand({NFJIT_BINARY, "diff", "--in-iface", "eth0", "--local", "192.0.2.1", "--local", "192.0.2.2",
                        other, t.file("e.rules", filter(""))});
  EXPECT_EQ(dh.exitCode, 0) << dh.describe() << dh.out;
  auto dn = runCommand({NFJIT_BINARY, "diff", other, t.file("e.rules")});
  EXPECT_EQ(dn.exitCode, 1) << dn.describe() << dn.out;
  auto bad = runCommand({NFJIT_BINARY, "diff", "--local", "not-an-address", other, other});
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.err.find("nfjit diff: error: --local `not-an-address'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace nfjit
