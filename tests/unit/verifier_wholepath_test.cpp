// Whole-path model (verifier/PathModel.h): marks set in one table and
// matched in another, DNAT feeding later chains, equivalent rewrites across
// tables, IPv6, and unmodelled targets keeping the answer three-valued.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include <filesystem>
#include <fstream>

#include "tests/support/RulesetFixture.h"
#include "tests/support/VerifierFixtures.h"
#include "verifier/PathModel.h"
#include "verifier/Verifier.h"

namespace nfjit {
namespace {

using verifier::PathKind;

const char* kMangle = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                      ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";
const char* kNat = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n";

std::string filter(const std::string& forwardPolicy, const std::string& body) {
  return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD " + forwardPolicy + " [0:0]\n:OUTPUT ACCEPT [0:0]\n" + body +
         "COMMIT\n";
}

HostModel host4() {
  HostModel h;
  h.localAddrs.push_back(*parseIpAddr(Family::IPv4, "192.0.2.1"));
  return h;
}

HostModel host6() {
  HostModel h;
  h.localAddrs.push_back(*parseIpAddr(Family::IPv6, "2001:db8::1"));
  return h;
}

const verifier::PathDiff& path(const std::vector<verifier::PathDiff>& ds, PathKind k) {
  if (const auto* d = testsupport::findPath(ds, k)) return *d;
  throw std::runtime_error("no such path");
}

bool allEquivalent(const std::vector<verifier::ChainDiff>& ds) {
  for (const auto& d : ds)
    if (!d.equivalent) return false;
  return true;
}

// The mark is set in mangle PREROUTING and tested in filter FORWARD: only
// the whole path sees that changing the mangle rule changes what is forwarded.
TEST(VerifierWholePath, MarkCarriedFromMangleToFilter) {
  const std::string f = filter("ACCEPT", "-A FORWARD -m mark --mark 0x1 -j DROP\n");
  Ruleset a = testsupport::parseRules(std::string(kMangle) + "-A PREROUTING -s 198.51.100.0/24 -j MARK --set-mark 1\nCOMMIT\n" + f);
  Ruleset b = testsupport::parseRules(std::string(kMangle) + "-A PREROUTING -s 203.0.113.0/24 -j MARK --set-mark 1\nCOMMIT\n" + f);
  EXPECT_TRUE(allEquivalent(verifier::diffRulesets(a, b, "filter")));
  auto ds = verifier::diffPaths(a, b, host4());
  EXPECT_TRUE(path(ds, PathKind::Input).equivalent);
  EXPECT_TRUE(path(ds, PathKind::Output).equivalent);
  const auto& fw = path(ds, PathKind::Forward);
  ASSERT_FALSE(fw.equivalent);
  EXPECT_TRUE(fw.definite);
  ASSERT_TRUE(fw.difference);
  const auto& x = *fw.difference;
  std::set<std::string> fates = {x.oldFate.fate, x.newFate.fate};
  EXPECT_EQ(fates, (std::set<std::string>{"forward", "DROP"}));
  const auto& drop = x.oldFate.fate == "DROP" ? x.oldFate : x.newFate;
  EXPECT_EQ(drop.table, "filter");
  EXPECT_EQ(drop.chain, "FORWARD");
  EXPECT_TRUE(x.replayed) << x.replayNote;
  EXPECT_EQ(x.oldReplay, x.oldFate.fate == "DROP" ? "drop" : "forward");
  EXPECT_EQ(x.newReplay, x.newFate.fate == "DROP" ? "drop" : "forward");
  // Arrival form: the TTL before the forward decrement.
  EXPECT_GE(x.witness.ttl, 2);
}

// DNAT in nat PREROUTING rewrites what filter FORWARD sees.
TEST(VerifierWholePath, DnatFeedsFilterForward) {
  const std::string f = filter("DROP", "-A FORWARD -d 192.0.2.10/32 -p tcp -m tcp --dport 8080 -j ACCEPT\n");
  Ruleset a = testsupport::parseRules(
      std::string(kNat) + "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.10:8080\nCOMMIT\n" + f);
  Ruleset b = testsupport::parseRules(std::string(kNat) + "COMMIT\n" + f);
  EXPECT_TRUE(allEquivalent(verifier::diffRulesets(a, b, "filter")));
  auto ds = verifier::diffPaths(a, b, host4());
  const auto& fw = path(ds, PathKind::Forward);
  ASSERT_FALSE(fw.equivalent);
  EXPECT_TRUE(fw.definite);
  ASSERT_TRUE(fw.difference);
  const auto& x = *fw.difference;
  EXPECT_EQ(x.oldFate.fate, "forward");
  EXPECT_EQ(x.newFate.fate, "DROP");
  EXPECT_EQ(x.newFate.chain, "FORWARD");
  EXPECT_EQ(x.witness.proto, 6);
  EXPECT_EQ(x.witness.dport, 80);
  // Replay applies the DNAT: forwarded with it, dropped without, as claimed.
  EXPECT_EQ(x.newReplay, "drop");
  EXPECT_EQ(x.oldReplay, "forward");
  EXPECT_TRUE(x.replayed) << x.replayNote;
  // The unchanged rule alone: no difference on any path.
  for (const auto& d : verifier::diffPaths(a, a, host4())) EXPECT_TRUE(d.equivalent) << verifier::pathKindName(d.kind);
}

// The same DROP in mangle FORWARD instead of filter FORWARD (which has no
// other rule): per chain the filter table changed, on the path nothing did.
TEST(VerifierWholePath, DropMovedAcrossTablesIsEquivalentOnThePath) {
  Ruleset a = testsupport::parseRules(filter("ACCEPT", "-A FORWARD -s 198.51.100.0/24 -j DROP\n"));
  Ruleset b = testsupport::parseRules(std::string(kMangle) + "-A FORWARD -s 198.51.100.0/24 -j DROP\nCOMMIT\n" +
                                      filter("ACCEPT", ""));
  EXPECT_FALSE(allEquivalent(verifier::diffRulesets(a, b, "filter")));
  for (const auto& d : verifier::diffPaths(a, b, host4())) {
    EXPECT_TRUE(d.equivalent) << verifier::pathKindName(d.kind);
    EXPECT_TRUE(d.definite);
  }
  // Moved to mangle PREROUTING it also drops packets for the host itself.
  Ruleset c = testsupport::parseRules(std::string(kMangle) + "-A PREROUTING -s 198.51.100.0/24 -j DROP\nCOMMIT\n" +
                                      filter("ACCEPT", ""));
  auto ds = verifier::diffPaths(a, c, host4());
  EXPECT_TRUE(path(ds, PathKind::Forward).equivalent);
  ASSERT_FALSE(path(ds, PathKind::Input).equivalent);
  ASSERT_TRUE(path(ds, PathKind::Input).difference);
  EXPECT_EQ(path(ds, PathKind::Input).difference->newFate.table, "mangle");
  EXPECT_TRUE(path(ds, PathKind::Input).difference->replayed);
}

TEST(VerifierWholePath, Ipv6MarkAndDnat) {
  const std::string f = filter("DROP", "-A FORWARD -m mark --mark 0x7 -j DROP\n"
                                       "-A FORWARD -d 2001:db8::10/128 -p tcp -m tcp --dport 8080 -j ACCEPT\n");
  const std::string nat = std::string(kNat) +
                          "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination [2001:db8::10]:8080\nCOMMIT\n";
  Ruleset a = testsupport::parseRules(nat + f, Family::IPv6);
  Ruleset b = testsupport::parseRules(
      nat + std::string(kMangle) + "-A PREROUTING -s 2001:db8:5::/48 -j MARK --set-mark 7\nCOMMIT\n" + f, Family::IPv6);
  EXPECT_TRUE(allEquivalent(verifier::diffRulesets(a, b, "filter")));
  auto ds = verifier::diffPaths(a, b, host6());
  EXPECT_TRUE(path(ds, PathKind::Input).equivalent);
  const auto& fw = path(ds, PathKind::Forward);
  ASSERT_FALSE(fw.equivalent);
  ASSERT_TRUE(fw.difference);
  const auto& x = *fw.difference;
  EXPECT_EQ(x.oldFate.fate, "forward");  // only DNATed packets get through
  EXPECT_EQ(x.newFate.fate, "DROP");
  EXPECT_EQ(x.newFate.occ >= 0, true);   // the mark rule, not the policy
  EXPECT_EQ(x.witness.family, Family::IPv6);
  EXPECT_EQ(x.witness.src.b[5], 5);      // 2001:db8:5::/48
  EXPECT_TRUE(x.replayed) << x.replayNote;  // replay applies the IPv6 DNAT too
}

// An unmodelled target (TTL) earlier on the path: the filter rule testing
// the TTL becomes unknown, so the answer is "possibly", never "equivalent".
TEST(VerifierWholePath, UnmodelledTargetIsNotDefinite) {
  const std::string f = filter("ACCEPT", "-A FORWARD -m ttl --ttl-eq 5 -j DROP\n");
  Ruleset a = testsupport::parseRules(std::string(kMangle) + "-A PREROUTING -j TTL --ttl-set 6\nCOMMIT\n" + f);
  Ruleset b = testsupport::parseRules(std::string(kMangle) + "COMMIT\n" + f);
  auto ds = verifier::diffPaths(a, b, host4());
  const auto& fw = path(ds, PathKind::Forward);
  EXPECT_FALSE(fw.equivalent);
  EXPECT_FALSE(fw.definite);
  // Nothing tests the TTL on the input path: there the target is harmless.
  EXPECT_TRUE(path(ds, PathKind::Input).equivalent);
  // Identical rulesets are equivalent whatever the target does.
  for (const auto& d : verifier::diffPaths(a, a, host4())) EXPECT_TRUE(d.equivalent && d.definite);
}

// The versions differ only in where a DNAT sends the packet: filter
// FORWARD accepts only the old target. Replay applies the DNAT, so the
// witness takes the claimed path in both versions.
TEST(VerifierWholePath, DnatOnlyDifferenceIsReplayed) {
  const std::string f = filter("DROP", "-A FORWARD -d 198.51.100.10/32 -p tcp -m tcp --dport 8080 -j ACCEPT\n");
  const std::string rule = "-A PREROUTING -d 192.0.2.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination ";
  Ruleset a = testsupport::parseRules(std::string(kNat) + rule + "198.51.100.10:8080\nCOMMIT\n" + f);
  Ruleset b = testsupport::parseRules(std::string(kNat) + rule + "198.51.100.11:8080\nCOMMIT\n" + f);
  EXPECT_TRUE(allEquivalent(verifier::diffRulesets(a, b, "filter")));
  auto ds = verifier::diffPaths(a, b, host4());
  const auto& fw = path(ds, PathKind::Forward);
  ASSERT_FALSE(fw.equivalent);
  ASSERT_TRUE(fw.difference);
  const auto& x = *fw.difference;
  EXPECT_EQ(x.oldFate.fate, "forward");
  EXPECT_EQ(x.newFate.fate, "DROP");
  EXPECT_EQ(x.witness.dport, 80);
  EXPECT_TRUE(x.replayed) << x.replayNote;
  EXPECT_EQ(x.oldReplay, "forward");
  EXPECT_EQ(x.newReplay, "drop");
}

// The output path is replayed from the host's stack (HookPipeline::processLocal):
// a filter OUTPUT change (per-chain diff) and a nat OUTPUT DNAT (path model).
TEST(VerifierWholePath, OutputPathDifferencesAreReplayed) {
  Ruleset a = testsupport::parseRules(filter("ACCEPT", ""));
  Ruleset b = testsupport::parseRules(filter("ACCEPT", "-A OUTPUT -d 198.51.100.0/24 -p udp -m udp --dport 53 -j DROP\n"));
  auto ds = verifier::diffPaths(a, b, host4());
  const auto& out = path(ds, PathKind::Output);
  ASSERT_FALSE(out.equivalent);
  ASSERT_TRUE(out.difference);
  EXPECT_TRUE(out.difference->replayed) << out.difference->replayNote;
  EXPECT_EQ(out.difference->oldReplay, "sent");
  EXPECT_EQ(out.difference->newReplay, "drop");

  const std::string f = filter("ACCEPT", "-A OUTPUT -d 198.51.100.10/32 -j DROP\n");
  Ruleset c = testsupport::parseRules(
      std::string(kNat) + "-A OUTPUT -d 203.0.113.9/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination "
                          "198.51.100.10:8080\nCOMMIT\n" + f);
  Ruleset d = testsupport::parseRules(std::string(kNat) + "COMMIT\n" + f);
  auto ds2 = verifier::diffPaths(c, d, host4());
  const auto& out2 = path(ds2, PathKind::Output);
  ASSERT_FALSE(out2.equivalent);
  ASSERT_TRUE(out2.difference);
  const auto& y = *out2.difference;
  EXPECT_EQ(y.oldFate.fate, "DROP");
  EXPECT_EQ(y.newFate.fate, "sent");
  EXPECT_TRUE(y.replayed) << y.replayNote;
  EXPECT_EQ(y.oldReplay, "drop");
  EXPECT_EQ(y.newReplay, "sent");
  // query --path output: the DNATed packet is dropped, and replay agrees.
  Ruleset w = testsupport::parseRules(filter("ACCEPT", "-A OUTPUT -d 203.0.113.9/32 -p tcp -m tcp --dport 80\n"));
  const Rule* where = nullptr;
  for (const auto& ch : w.tables[0].chains)
    if (ch.name == "OUTPUT" && ch.rules.size() == 1) where = &ch.rules[0];
  ASSERT_TRUE(where);
  auto q = verifier::queryPath(c, PathKind::Output, *where, "DROP", host4());
  ASSERT_TRUE(q.found);
  EXPECT_EQ(q.replay, "drop");
  EXPECT_TRUE(q.replayed) << q.replayNote;
}

}  // namespace
}  // namespace nfjit

namespace nfjit {
namespace {

// query --path: the mark set in mangle PREROUTING decides in filter FORWARD.
TEST(VerifierWholePath, QueryForwardPathFollowsTheMark) {
  Ruleset rs = testsupport::parseRules(std::string(kMangle) +
                                       "-A PREROUTING -s 198.51.100.0/24 -j MARK --set-mark 1\nCOMMIT\n" +
                                       filter("ACCEPT", "-A FORWARD -m mark --mark 0x1 -j DROP\n"));
  auto where = [&](const std::string& m) {
    Ruleset w = testsupport::parseRules(filter("ACCEPT", "-A FORWARD " + m + "\n"));
    for (auto& ch : w.tables[0].chains)
      if (ch.name == "FORWARD" && ch.rules.size() == 1) return std::move(ch.rules[0]);
    throw std::runtime_error("--where did not parse");
  };
  Rule fromMarked = where("-s 198.51.100.0/24");
  Rule fromOther = where("-s 203.0.113.0/24");
  auto q = verifier::queryPath(rs, PathKind::Forward, fromMarked, "DROP", host4());
  ASSERT_TRUE(q.found);
  ASSERT_TRUE(q.fate);
  EXPECT_EQ(q.fate->table, "filter");
  EXPECT_TRUE(q.replayed) << q.replayNote;
  EXPECT_FALSE(verifier::queryPath(rs, PathKind::Forward, fromMarked, "forward", host4()).found);
  EXPECT_FALSE(verifier::queryPath(rs, PathKind::Forward, fromOther, "DROP", host4()).found);
  EXPECT_TRUE(verifier::queryPath(rs, PathKind::Forward, fromOther, "forward", host4()).found);
  // Packets for the host itself never see filter FORWARD.
  EXPECT_FALSE(verifier::queryPath(rs, PathKind::Input, fromMarked, "DROP", host4()).found);
}

}  // namespace
}  // namespace nfjit

#ifdef NFJIT_BINARY
namespace nfjit {
namespace {

// nfjit diff --paths: exit 1 when only a path differs; query --path.
TEST(VerifierWholePath, CommandLine) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("nfjit_wp_" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string f = filter("ACCEPT", "-A FORWARD -m mark --mark 0x1 -j DROP\n");
  std::string a = write("a.rules", std::string(kMangle) + "-A PREROUTING -s 198.51.100.0/24 -j MARK --set-mark 1\nCOMMIT\n" + f);
  std::string b = write("b.rules", std::string(kMangle) + "COMMIT\n" + f);
  std::string pcap = (dir / "w.pcap").string();
  EXPECT_EQ(testsupport::runNfjit("diff " + a + " " + b), 0);  // per chain: the filter table is the same
  EXPECT_EQ(testsupport::runNfjit("diff --paths --local 192.0.2.1 " + a + " " + b + " --witness-pcap " + pcap), 1);
  EXPECT_GT(fs::file_size(pcap), 24u);
  EXPECT_EQ(testsupport::runNfjit("diff --paths --json " + a + " " + a), 0);
  EXPECT_EQ(testsupport::runNfjit("query --path forward --where '-s 198.51.100.0/24' --verdict DROP " + a), 0);
  EXPECT_EQ(testsupport::runNfjit("query --path input --where '-s 198.51.100.0/24' --verdict DROP " + a), 1);
  EXPECT_EQ(testsupport::runNfjit("query --path sideways " + a), 2);
  EXPECT_EQ(testsupport::runNfjit("query --path input --chain INPUT " + a), 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nfjit
#endif
