// The verifier (nfjit check / diff / query): planted anomalies, three-valued
// matches, output formats, exit codes, and every witness replayed through
// the reference interpreter.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend/RestoreParser.h"
#include "verifier/Report.h"
#include "verifier/Verifier.h"
#include "tests/support/CorpusManifest.h"
#include "tests/support/VerifierFixtures.h"

namespace nfjit {
namespace {

namespace fs = std::filesystem;
using verifier::CheckResult;
using verifier::Finding;

using testsupport::findFinding;
using testsupport::runNfjit;
Ruleset parse(const std::string& text, Family f = Family::IPv4) { return testsupport::parseRules(text, f); }

std::string filter(const std::string& body, const std::string& extraChains = "", const char* policy = "DROP") {
  return testsupport::filterTable(body, {.input = policy, .extraChains = extraChains});
}

// A definite finding's witness must behave as claimed in the interpreter.
void expectReplayed(const CheckResult& r) {
  for (const auto& f : r.findings) {
    if (f.definite && f.dependsOn.empty()) {
      EXPECT_TRUE(f.replayed) << f.name << " at line " << f.rule.loc.line << ": " << f.message
                              << (f.witness ? " witness " + f.witness->describe() : "");
    }
  }
}

CheckResult check(const std::string& text, Family f = Family::IPv4) {
  Ruleset rs = parse(text, f);
  CheckResult r = verifier::checkRuleset(rs);
  expectReplayed(r);
  return r;
}

const Finding* find(const CheckResult& r, const std::string& name, uint32_t line) { return findFinding(r, name, line); }
std::string dump(const CheckResult& r) { return testsupport::dumpFindings(r); }

// Lines: *filter 1, :INPUT 2, :FORWARD 3, :OUTPUT 4, then extra chains, then rules.
TEST(VerifierCheck, ShadowedSameAndDifferentAction) {
  auto r = check(filter(
      "-A INPUT -s 10.0.0.0/8 -j ACCEPT\n"                           // 5
      "-A INPUT -s 10.1.0.0/16 -j ACCEPT\n"                          // 6: same action
      "-A INPUT -s 10.2.0.0/16 -p tcp -m tcp --dport 22 -j DROP\n"   // 7: different action
      "-A INPUT -s 11.0.0.0/8 -j DROP\n"));                          // 8: fine
  ASSERT_EQ(r.findings.size(), 2u) << dump(r);
  const Finding* same = find(r, "shadowed", 6);
  const Finding* diff = find(r, "shadowed", 7);
  ASSERT_TRUE(same && diff) << dump(r);
  EXPECT_TRUE(same->definite);
  ASSERT_EQ(same->related.size(), 1u);
  EXPECT_EQ(same->related[0].loc.line, 5u);
  EXPECT_EQ(same->message.find("different action"), std::string::npos);
  EXPECT_NE(diff->message.find("different action"), std::string::npos);
  ASSERT_TRUE(diff->witness);
  EXPECT_EQ(diff->witness->proto, 6);
  EXPECT_EQ(diff->witness->dport, 22);
  EXPECT_TRUE(diff->replayed);
}

TEST(VerifierCheck, SplitCidrShadowsTheWhole) {
  auto r = check(filter(
      "-A INPUT -s 192.168.1.0/25 -j DROP\n"    // 5
      "-A INPUT -s 192.168.1.128/25 -j DROP\n"  // 6
      "-A INPUT -s 192.168.1.0/24 -j ACCEPT\n"  // 7
      "-A INPUT -s 192.168.0.0/23 -j ACCEPT\n"));  // 8: half of it still reaches
  ASSERT_EQ(r.findings.size(), 1u) << dump(r);
  const Finding* f = find(r, "shadowed", 7);
  ASSERT_TRUE(f) << dump(r);
  ASSERT_EQ(f->related.size(), 2u);
  EXPECT_EQ(f->related[0].loc.line, 5u);
  EXPECT_EQ(f->related[1].loc.line, 6u);
  EXPECT_NE(f->message.find("different action"), std::string::npos);
}

TEST(VerifierCheck, MinimalBlockingSet) {
  // Line 6 would also cover it, but line 5 alone suffices.
  auto r = check(filter(
      "-A INPUT -s 10.0.0.0/8 -j DROP\n"      // 5
      "-A INPUT -s 10.1.0.0/16 -j DROP\n"     // 6 (itself shadowed)
      "-A INPUT -s 10.1.2.0/24 -j ACCEPT\n"));  // 7
  const Finding* f = find(r, "shadowed", 7);
  ASSERT_TRUE(f) << dump(r);
  ASSERT_EQ(f->related.size(), 1u);
  EXPECT_EQ(f->related[0].loc.line, 5u);
}

TEST(VerifierCheck, NeverMatching) {
  auto r = check(filter(
      "-A INPUT -m ttl --ttl-lt 5 -m ttl --ttl-gt 10 -j ACCEPT\n"                          // 5
      "-A INPUT -s 10.0.0.0/8 -m iprange --src-range 192.168.0.1-192.168.0.5 -j ACCEPT\n"  // 6
      "-A INPUT -m state --state NEW -m conntrack --ctstate ESTABLISHED -j ACCEPT\n"       // 7
      "-A INPUT -p tcp -m tcp --dport 22 -m multiport --dports 80,443 -j ACCEPT\n"         // 8
      "-A INPUT -m length --length 0:19 -j ACCEPT\n"                                       // 9: shorter than the IP header
      "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n"));                                   // 10: fine
  for (uint32_t l : {5u, 6u, 7u, 8u, 9u}) EXPECT_TRUE(find(r, "unsatisfiable", l)) << l << "\n" << dump(r);
  EXPECT_EQ(r.findings.size(), 5u) << dump(r);
}

TEST(VerifierCheck, UnreachableChains) {
  auto r = check(filter(
      "-A INPUT -j ACCEPT\n"             // 7
      "-A INPUT -p tcp -j used\n"        // 8: shadowed, so `used' is unreachable too
      "-A used -j DROP\n"                // 9
      "-A orphan -j ACCEPT\n",           // 10
      ":used - [0:0]\n:orphan - [0:0]\n"));
  EXPECT_TRUE(find(r, "unreachable-chain", 5)) << dump(r);
  EXPECT_TRUE(find(r, "unreachable-chain", 6)) << dump(r);
  EXPECT_TRUE(find(r, "shadowed", 8)) << dump(r);
  EXPECT_FALSE(find(r, "shadowed", 9)) << "rules of an unreachable chain are not reported one by one";
}

TEST(VerifierCheck, LimitMakesItOnlyPossiblyShadowed) {
  auto r = check(filter(
      "-A INPUT -p tcp -m limit --limit 5/sec -j ACCEPT\n"  // 5
      "-A INPUT -p tcp -m tcp --dport 22 -j DROP\n"));      // 6
  const Finding* f = find(r, "shadowed", 6);
  ASSERT_TRUE(f) << dump(r);
  EXPECT_FALSE(f->definite);
  EXPECT_EQ(f->severity, Severity::Note);
  ASSERT_FALSE(f->dependsOn.empty());
  EXPECT_NE(f->dependsOn[0].find("limit"), std::string::npos);
}

TEST(VerifierCheck, UnknownMatchInTheRuleItselfStillDefinitelyShadowed) {
  auto r = check(filter(
      "-A INPUT -p tcp -j DROP\n"                                               // 5
      "-A INPUT -p tcp -m recent --rcheck --name x -m tcp --dport 22 -j ACCEPT\n"));  // 6
  const Finding* f = find(r, "shadowed", 6);
  ASSERT_TRUE(f) << dump(r);
  EXPECT_TRUE(f->definite);
}

TEST(VerifierCheck, JumpAndReturn) {
  auto r = check(filter(
      "-A INPUT -p tcp -j sub\n"                  // 6
      "-A INPUT -p tcp -s 10.1.0.0/16 -j ACCEPT\n"  // 7: reached through RETURN
      "-A INPUT -p tcp -s 11.0.0.0/8 -j ACCEPT\n"   // 8: dropped inside sub
      "-A sub -s 10.0.0.0/8 -j RETURN\n"          // 9
      "-A sub -j DROP\n",                         // 10
      ":sub - [0:0]\n"));
  EXPECT_FALSE(find(r, "shadowed", 7)) << dump(r);
  const Finding* f = find(r, "shadowed", 8);
  ASSERT_TRUE(f) << dump(r);
  bool blockedByDrop = false;
  for (const auto& x : f->related) blockedByDrop |= x.loc.line == 10;
  EXPECT_TRUE(blockedByDrop) << dump(r);
}

TEST(VerifierCheck, GotoReturnsToTheCallersCaller) {
  auto r = check(filter(
      "-A INPUT -p udp -j a\n"               // 7
      "-A INPUT -p udp -j ACCEPT\n"          // 8: reached when b falls off its end
      "-A a -p udp -g b\n"                   // 9
      "-A a -j DROP\n"                       // 10: never reached (goto takes every udp packet)
      "-A b -s 10.0.0.0/8 -j DROP\n",        // 11
      ":a - [0:0]\n:b - [0:0]\n"));
  EXPECT_FALSE(find(r, "shadowed", 8)) << dump(r);
  EXPECT_TRUE(find(r, "shadowed", 10)) << dump(r);
}

TEST(VerifierCheck, MarkSetEarlierDecidesLaterMarkMatch) {
  auto r = check(
      "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      ":POSTROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff\n"     // 7
      "-A PREROUTING -m mark --mark 0x2 -j DROP\n"             // 8: the mark is 1 by now
      "-A PREROUTING -m mark --mark 0x1 -j DROP\n"             // 9
      "COMMIT\n");
  const Finding* f = find(r, "shadowed", 8);
  ASSERT_TRUE(f) << dump(r);
  EXPECT_TRUE(f->replayed);
  ASSERT_EQ(f->related.size(), 1u);
  EXPECT_EQ(f->related[0].loc.line, 7u);
  EXPECT_FALSE(find(r, "shadowed", 9)) << dump(r);
}

TEST(VerifierCheck, InterfacesAndWildcards) {
  auto r = check(filter(
      "-A INPUT -i eth+ -j ACCEPT\n"     // 5
      "-A INPUT -i eth0 -j DROP\n"       // 6: shadowed
      "-A INPUT -i ethernet9 -j DROP\n"  // 7: shadowed
      "-A INPUT -i wlan0 -j DROP\n"      // 8: fine
      "-A INPUT ! -i eth+ -j DROP\n"     // 9: fine (wlan1, lo...)
      "-A INPUT -j DROP\n"));            // 10: shadowed by 5 and 9
  EXPECT_TRUE(find(r, "shadowed", 6)) << dump(r);
  EXPECT_TRUE(find(r, "shadowed", 7)) << dump(r);
  EXPECT_FALSE(find(r, "shadowed", 8)) << dump(r);
  EXPECT_FALSE(find(r, "shadowed", 9)) << dump(r);
  EXPECT_TRUE(find(r, "shadowed", 10)) << dump(r);
}

TEST(VerifierCheck, CleanRulesetHasNoFindings) {
  auto r = check(filter(
      "-A INPUT -i lo -j ACCEPT\n"
      "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\n"
      "-A INPUT -p udp -m multiport --dports 53,123 -j ACCEPT\n"));
  EXPECT_TRUE(r.findings.empty()) << dump(r);
}

TEST(VerifierCheck, Ipv6) {
  auto r = check(
      "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A INPUT -s 2001:db8::/32 -j ACCEPT\n"                                          // 5
      "-A INPUT -s 2001:db8:1::/48 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP\n"  // 6
      "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT\n"                   // 7
      "COMMIT\n",
      Family::IPv6);
  const Finding* f = find(r, "shadowed", 6);
  ASSERT_TRUE(f) << dump(r);
  ASSERT_TRUE(f->witness);
  EXPECT_EQ(f->witness->family, Family::IPv6);
  EXPECT_EQ(f->witness->icmpType, 128);
  EXPECT_FALSE(find(r, "shadowed", 7)) << dump(r);
}

TEST(VerifierFormats, JsonAndSarif) {
  Ruleset rs = parse(filter("-A INPUT -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -s 10.1.0.0/16 -j DROP\n"));
  auto r = verifier::checkRuleset(rs);
  ASSERT_EQ(r.findings.size(), 1u);
  auto j = verifier::findingsJson("x.rules", r);
  ASSERT_EQ(j["findings"].size(), 1u);
  const auto& f = j["findings"][0];
  EXPECT_EQ(f["name"], "shadowed");
  EXPECT_EQ(f["flag"], "-Wshadowed");
  EXPECT_EQ(f["severity"], "warning");
  EXPECT_EQ(f["line"], 6);
  EXPECT_EQ(f["definite"], true);
  EXPECT_EQ(f["related"][0]["line"], 5);
  EXPECT_TRUE(f["witness"].is_object());
  EXPECT_FALSE(f["witness"]["bytes"].get<std::string>().empty());
  EXPECT_EQ(f["replayed"], true);
  auto s = verifier::findingsSarif("x.rules", r);
  EXPECT_EQ(s["version"], "2.1.0");
  ASSERT_EQ(s["runs"].size(), 1u);
  EXPECT_EQ(s["runs"][0]["tool"]["driver"]["name"], "nfjit");
  const auto& res = s["runs"][0]["results"][0];
  EXPECT_EQ(res["ruleId"], "shadowed");
  EXPECT_EQ(res["level"], "warning");
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["region"]["startLine"], 6);
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "x.rules");
  EXPECT_EQ(res["relatedLocations"][0]["physicalLocation"]["region"]["startLine"], 5);
  std::ostringstream os;
  verifier::printFindings(os, "x.rules", r);
  EXPECT_NE(os.str().find("x.rules:6:1: warning: rule is shadowed"), std::string::npos) << os.str();
  EXPECT_NE(os.str().find("[-Wshadowed]"), std::string::npos);
}

// ---- diff ----

Ruleset parseFilter(const std::string& body) { return parse(filter(body)); }

TEST(VerifierDiff, ReorderedDisjointRulesAreEquivalent) {
  Ruleset a = parseFilter("-A INPUT -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -p tcp -s 11.0.0.0/8 -j DROP\n");
  Ruleset b = parseFilter("-A INPUT -p tcp -s 11.0.0.0/8 -j DROP\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\n");
  auto d = verifier::diffRulesets(a, b);
  ASSERT_EQ(d.size(), 3u);
  for (const auto& c : d) EXPECT_TRUE(c.equivalent) << c.chain;
}

TEST(VerifierDiff, EquivalentRewrites) {
  Ruleset a = parseFilter(
      "-A INPUT -s 192.168.1.0/24 -j ACCEPT\n"
      "-A INPUT -p tcp -m multiport --dports 22,80 -j ACCEPT\n"
      "-A INPUT -m limit --limit 1/sec -j ACCEPT\n");
  Ruleset b = parseFilter(
      "-A INPUT -s 192.168.1.128/25 -j ACCEPT\n"
      "-A INPUT -s 192.168.1.0/25 -j ACCEPT\n"
      "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n"
      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "-A INPUT -m limit --limit 1/sec -j ACCEPT\n");
  auto d = verifier::diffRulesets(a, b);
  for (const auto& c : d) EXPECT_TRUE(c.equivalent) << c.chain;
}

TEST(VerifierDiff, ReorderedOverlappingRulesDiffer) {
  Ruleset a = parseFilter("-A INPUT -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j REJECT\n");
  Ruleset b = parseFilter("-A INPUT -p tcp -m tcp --dport 22 -j REJECT\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\n");
  auto d = verifier::diffRulesets(a, b);
  const verifier::ChainDiff* in = nullptr;
  for (const auto& c : d)
    if (c.chain == "INPUT") in = &c;
    else EXPECT_TRUE(c.equivalent) << c.chain;
  ASSERT_TRUE(in);
  EXPECT_FALSE(in->equivalent);
  ASSERT_EQ(in->differences.size(), 1u);
  const auto& x = in->differences[0];
  EXPECT_EQ(x.oldVerdict, "ACCEPT");
  EXPECT_EQ(x.newVerdict, "REJECT");
  EXPECT_TRUE(x.replayed) << x.oldReplay << " " << x.newReplay;
  EXPECT_EQ(x.witness.dport, 22);
  ASSERT_EQ(x.oldRules.size(), 1u);
  EXPECT_EQ(x.oldRules[0].loc.line, 5u);
  auto j = verifier::diffJson("a", "b", d);
  EXPECT_EQ(j["chains"][0]["chain"], "INPUT");
  EXPECT_EQ(j["chains"][0]["differences"][0]["old"]["verdict"], "ACCEPT");
}

TEST(VerifierDiff, PolicyChangeIsADifferenceWithBothVerdicts) {
  Ruleset a = parse(filter("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", "", "DROP"));
  Ruleset b = parse(filter("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", "", "ACCEPT"));
  auto d = verifier::diffRulesets(a, b);
  ASSERT_FALSE(d[0].equivalent);
  const auto& x = d[0].differences.at(0);
  EXPECT_EQ(x.oldVerdict, "DROP");
  EXPECT_EQ(x.newVerdict, "ACCEPT");
  EXPECT_TRUE(x.replayed);
  EXPECT_FALSE(x.witness.proto == 6 && x.witness.dport == 22 && !x.witness.fragment);
}

// ---- query ----

TEST(VerifierQuery, WitnessOrProof) {
  Ruleset rs = parseFilter("-A INPUT -s 10.0.0.0/8 -j DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n");
  Ruleset w1 = parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22\nCOMMIT\n");
  auto q = verifier::queryRuleset(rs, "filter", "INPUT", w1.tables[0].chains[0].rules[0], "ACCEPT");
  ASSERT_TRUE(q.found);
  EXPECT_TRUE(q.replayed);
  EXPECT_EQ(q.witness->dport, 22);
  Ruleset w2 = parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.1.0.0/16 -p tcp -m tcp --dport 22\nCOMMIT\n");
  auto q2 = verifier::queryRuleset(rs, "filter", "INPUT", w2.tables[0].chains[0].rules[0], "ACCEPT");
  EXPECT_FALSE(q2.found);
}

// ---- the command line ----

TEST(VerifierCli, ExitCodes) {
  fs::path dir = fs::temp_directory_path() / ("nfjit_vt_" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  std::string clean = write("clean.rules", filter("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"));
  std::string bad = write("bad.rules", filter("-A INPUT -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -s 10.1.0.0/16 -j DROP\n"));
  std::string broken = write("broken.rules", "*filter\n-A NOPE -j ACCEPT\n");
  std::string pcap = (dir / "w.pcap").string();
  EXPECT_EQ(runNfjit("check " + clean), 0);
  EXPECT_EQ(runNfjit("check " + bad), 1);
  EXPECT_EQ(runNfjit("check --json " + bad), 1);
  EXPECT_EQ(runNfjit("check --sarif " + bad + " --witness-pcap " + pcap), 1);
  EXPECT_GT(fs::file_size(pcap), 24u);
  EXPECT_EQ(runNfjit("check " + broken), 2);
  EXPECT_EQ(runNfjit("diff " + clean + " " + clean), 0);
  EXPECT_EQ(runNfjit("diff " + clean + " " + bad), 1);
  EXPECT_EQ(runNfjit("diff " + clean + " " + broken), 2);
  EXPECT_EQ(runNfjit("query " + clean + " --chain INPUT --where '-p tcp --dport 22' --verdict ACCEPT"), 0);
  EXPECT_EQ(runNfjit("query " + clean + " --chain INPUT --where '-p tcp --dport 23' --verdict ACCEPT"), 1);
  fs::remove_all(dir);
}

// ---- the corpus: nothing crashes, every witness replays ----

TEST(VerifierCorpus, SmallFilesCheckCleanly) {
  fs::path root = fs::path(NFJIT_SHARED_DIR) / "corpus";
  const auto rows = testing::readCorpusManifest(root);
  if (rows.empty()) GTEST_SKIP() << "no corpus";
  int files = 0;
  for (const auto& row : rows) {
    if (!row.kernelAccepts) continue;
    const std::string& file = row.file;
    std::ifstream in(root / file);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    if (std::count(text.begin(), text.end(), '\n') > 300) continue;
    DiagnosticEngine d(file);
    ParseOptions po;
    po.family = row.family;
    Ruleset rs = parseRestore(text, po, d);
    if (d.hasErrors()) continue;
    SCOPED_TRACE(file);
    auto r = verifier::checkRuleset(rs);
    expectReplayed(r);
    ++files;
  }
  EXPECT_GT(files, 5);
}

// A stateful rule that may match anything possibly shadows every later
// rule: one note on it, all the rules in its folded list, a few examples
// with replayed witnesses; rules something else may block keep their own.
TEST(VerifierFold, StatefulBlockerIsOneNote) {
  std::string body = "-A INPUT -m recent --update --seconds 60 --name bad -j DROP\n";  // 5
  for (int i = 0; i < 12; ++i) body += "-A INPUT -p tcp -m tcp --dport " + std::to_string(100 + i) + " -j ACCEPT\n";
  body += "-A FORWARD -m limit --limit 1/s -j DROP\n";                       // 18
  body += "-A FORWARD -p udp -m udp --dport 53 -j ACCEPT\n";                // 19: too few to fold
  body += "-A FORWARD -p udp -m udp --dport 54 -j ACCEPT\n";                // 20
  CheckResult r = check(filter(body));
  const Finding* note = find(r, "shadowed", 5);
  ASSERT_TRUE(note) << dump(r);
  EXPECT_FALSE(note->definite);
  EXPECT_EQ(note->severity, Severity::Note);
  EXPECT_NE(note->message.find("12 rules are possibly shadowed only through it"), std::string::npos) << note->message;
  ASSERT_EQ(note->folded.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(note->folded[i].loc.line, 6 + i);
    EXPECT_FALSE(find(r, "shadowed", static_cast<uint32_t>(6 + i))) << "line " << 6 + i << " folded";
  }
  ASSERT_EQ(note->examples.size(), 3u);
  for (size_t i = 0; i < note->examples.size(); ++i) {
    const Finding& e = note->examples[i];
    EXPECT_EQ(e.rule.loc.line, 6 + i);
    EXPECT_FALSE(e.definite);
    // Only a possibility: the interpreter's recent table is empty, so the
    // witness reaches the rule there; it must match the rule it stands for.
    ASSERT_TRUE(e.witness) << e.rule.loc.line;
    EXPECT_EQ(e.witness->dport, 100 + i) << e.witness->describe();
  }
  EXPECT_TRUE(find(r, "shadowed", 19) && find(r, "shadowed", 20)) << dump(r);
  // --json lists every folded line and the examples' witnesses.
  auto j = verifier::findingsJson("t", r);
  bool seen = false;
  for (const auto& f : j["findings"])
    if (f["line"] == 5) {
      seen = true;
      EXPECT_EQ(f["folded_lines"].size(), 12u);
      EXPECT_EQ(f["examples"].size(), 3u);
      EXPECT_FALSE(f["examples"][0]["witness"].is_null());
    }
  EXPECT_TRUE(seen);
  EXPECT_NE(dump(r).find("for example"), std::string::npos);
}

}  // namespace
}  // namespace nfjit
