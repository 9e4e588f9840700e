// The verifier's rule-relation analyses (-Wredundant, -Wconflict,
// -Wgeneralization), the host model shared with replay, check --cover-pcap,
// and diff on planted rewrites. Every claim is checked against the
// reference interpreter (and the JIT for the cover).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend/RestoreParser.h"
#include "compiler/jit/Jit.h"
#include "runtime/io/Pcap.h"
#include "runtime/pipeline/HookPipeline.h"
#include "verifier/Cover.h"
#include "verifier/HostModel.h"
#include "verifier/Report.h"
#include "verifier/Verifier.h"
#include "tests/support/VerifierFixtures.h"

namespace nfjit {
namespace {

namespace fs = std::filesystem;
using verifier::CheckOptions;
using verifier::CheckResult;
using verifier::Finding;

using testsupport::runNfjit;
Ruleset parse(const std::string& text, Family f = Family::IPv4) { return testsupport::parseRules(text, f); }

// Lines: *filter 1, :INPUT 2, :FORWARD 3, :OUTPUT 4, then the rules from 5.
std::string filter(const std::string& body, const char* input = "DROP", const char* forward = "DROP") {
  return testsupport::filterTable(body, {.input = input, .forward = forward});
}

std::string dump(const CheckResult& r) { return testsupport::dumpFindings(r); }

CheckResult check(const Ruleset& rs, std::set<std::string> analyses, std::optional<HostModel> host = {}) {
  CheckOptions o;
  o.analyses = std::move(analyses);
  o.host = std::move(host);
  CheckResult r = verifier::checkRuleset(rs, o);
  // A definite finding's witness must behave as claimed in the interpreter.
  for (const auto& f : r.findings)
    if (f.definite && f.witness) EXPECT_TRUE(f.replayed) << f.name << " line " << f.rule.loc.line << "\n" << dump(r);
  return r;
}

const Finding* find(const CheckResult& r, const std::string& name, uint32_t line) {
  return testsupport::findFinding(r, name, line);
}

size_t count(const CheckResult& r, const std::string& name) {
  return static_cast<size_t>(std::count_if(r.findings.begin(), r.findings.end(), [&](const Finding& f) { return f.name == name; }));
}

std::vector<uint32_t> relatedLines(const Finding& f) {
  std::vector<uint32_t> out;
  for (const auto& x : f.related) out.push_back(x.loc.line);
  return out;
}

// Per-host ACCEPTs before a NEW-only ACCEPT of the same service: a NEW SYN
// is accepted either way, only another state (INVALID, ESTABLISHED) tells
// them apart. The solver finds one for the first host; its packet, moved
// into each later host's box, refutes the rest without the solver.
TEST(VerifierRedundant, SolverPacketsRefuteLaterRulesConcretely) {
  std::string body;
  for (int i = 1; i <= 40; ++i) body += "-A INPUT -s 10.0.0." + std::to_string(i) + "/32 -p tcp -m tcp --dport 22 -j ACCEPT\n";
  body += "-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT\n";
  Ruleset rs = parse(filter(body));
  CheckResult none = check(rs, {});
  CheckResult r = check(rs, {"redundant"});
  EXPECT_EQ(count(r, "redundant"), 0u) << dump(r);
  // One query for the first host (two at most, should its packet not fit the next box).
  EXPECT_LE(r.stats.solverCalls - none.stats.solverCalls, 2u);
}

// TUM's filter_173: a chain reached for its subnet and for multicast, with
// per-host ACCEPTs before the general one. The multicast jump reaches no
// host rule (no finding is lost to it), and the general rule covers them
// (a rule-pair proof, not a walk of everything after). A DROP in between
// that meets a host rule keeps that one.
TEST(VerifierRedundant, HostRulesCoveredByALaterGeneralRule) {
  Ruleset rs = parse(testsupport::filterTable(
      "-A FORWARD -d 10.1.0.0/24 -o eth1 -j HOSTS\n"                                                      // 6
      "-A FORWARD -d 224.0.0.0/4 -o eth1 -j HOSTS\n"                                                      // 7
      "-A HOSTS -d 10.1.0.5/32 -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT\n"                  // 8
      "-A HOSTS -d 10.1.0.6/32 -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT\n"                  // 9
      "-A HOSTS -s 192.0.2.0/24 -d 10.1.0.6/32 -j DROP\n"                                                  // 10
      "-A HOSTS -p tcp -m state --state NEW -m multiport --dports 22,80 -j ACCEPT\n"                       // 11
      "-A HOSTS -j DROP\n",                                                                               // 12
      {.input = "DROP", .forward = "DROP", .extraChains = ":HOSTS - [0:0]\n"}));
  CheckResult r = check(rs, {"redundant"});
  EXPECT_TRUE(find(r, "redundant", 8)) << dump(r);
  EXPECT_FALSE(find(r, "redundant", 9)) << dump(r);  // without it, line 10 drops 192.0.2.x
}

// ---- planted anomalies: redundant, shadowed ----

TEST(VerifierAnalyses, NarrowerRuleBeforeBroaderSameActionIsRedundant) {
  Ruleset rs = parse(filter(
      "-A INPUT -s 10.1.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT\n"  // 5: redundant, 6 accepts it too
      "-A INPUT -s 10.0.0.0/8 -p tcp -j ACCEPT\n"                     // 6
      "-A INPUT -s 10.2.0.0/16 -p tcp -j ACCEPT\n"                    // 7: shadowed by 6 (same action)
      "-A INPUT -s 10.3.0.0/16 -p tcp -j DROP\n"                      // 8: shadowed by 6, different action
      "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n"));              // 9: fine
  auto r = check(rs, {"redundant"});
  const Finding* red = find(r, "redundant", 5);
  ASSERT_TRUE(red) << dump(r);
  EXPECT_EQ(relatedLines(*red), std::vector<uint32_t>{6});
  ASSERT_TRUE(red->witness);
  EXPECT_TRUE(red->replayed);
  EXPECT_EQ(red->witness->dport, 22);
  const Finding* sh7 = find(r, "shadowed", 7);
  const Finding* sh8 = find(r, "shadowed", 8);
  ASSERT_TRUE(sh7 && sh8) << dump(r);
  EXPECT_EQ(sh7->message.find("different action"), std::string::npos);
  EXPECT_NE(sh8->message.find("different action"), std::string::npos);
  // Shadowed rules are not reported again as redundant.
  EXPECT_FALSE(find(r, "redundant", 7));
  EXPECT_FALSE(find(r, "redundant", 8));
  EXPECT_FALSE(find(r, "redundant", 6)) << dump(r);
  EXPECT_FALSE(find(r, "redundant", 9)) << dump(r);
}

TEST(VerifierAnalyses, RuleThatRepeatsThePolicyIsRedundant) {
  Ruleset rs = parse(filter(
      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"  // 5
      "-A INPUT -s 192.0.2.0/24 -j DROP\n"             // 6: the policy drops it anyway
      "-A INPUT -s 198.51.100.0/24 -j REJECT\n"));     // 7: not redundant: REJECT answers, the policy does not
  auto r = check(rs, {"redundant"});
  const Finding* f = find(r, "redundant", 6);
  ASSERT_TRUE(f) << dump(r);
  EXPECT_TRUE(f->related.empty());
  EXPECT_NE(f->message.find("policy"), std::string::npos);
  EXPECT_TRUE(f->replayed);
  // The rule before it is not redundant: removing it would drop ssh.
  EXPECT_FALSE(find(r, "redundant", 5)) << dump(r);
  EXPECT_FALSE(find(r, "redundant", 7)) << dump(r);
  // Off unless asked for.
  auto none = check(rs, {});
  EXPECT_EQ(count(none, "redundant"), 0u);
}

TEST(VerifierAnalyses, RedundantRulesCanAllBeRemovedTogether) {
  // 5 is redundant given 7; 7 is not given 5 once 5 is reported.
  const std::vector<std::string> rules = {
      "-A INPUT -s 10.0.0.0/9 -j ACCEPT\n",    // 5
      "-A INPUT -s 10.0.0.0/9 -p tcp -j ACCEPT\n",  // 6: shadowed
      "-A INPUT -s 10.0.0.0/8 -j ACCEPT\n",    // 7
      "-A INPUT -s 10.128.0.0/9 -j ACCEPT\n",  // 8: shadowed
      "-A INPUT -s 11.0.0.0/8 -p udp -j DROP\n",  // 9: the policy
      "-A INPUT -p tcp -j ACCEPT\n"};          // 10
  std::string body;
  for (const auto& l : rules) body += l;
  Ruleset rs = parse(filter(body));
  auto r = check(rs, {"redundant"});
  std::set<uint32_t> gone;
  for (const auto& f : r.findings) gone.insert(f.rule.loc.line);
  EXPECT_TRUE(gone.count(5) && gone.count(6) && gone.count(8) && gone.count(9)) << dump(r);
  EXPECT_FALSE(gone.count(7)) << dump(r);
  std::string kept;
  for (size_t i = 0; i < rules.size(); ++i)
    if (!gone.count(static_cast<uint32_t>(5 + i))) kept += rules[i];
  Ruleset reduced = parse(filter(kept));
  for (const auto& d : verifier::diffRulesets(rs, reduced)) EXPECT_TRUE(d.equivalent) << d.chain << "\n" << dump(r);
}

TEST(VerifierAnalyses, SplitCidrBeforeTheWhole) {
  Ruleset rs = parse(filter(
      "-A INPUT -s 192.168.1.0/25 -j ACCEPT\n"     // 5
      "-A INPUT -s 192.168.1.128/25 -j ACCEPT\n"   // 6
      "-A INPUT -s 192.168.1.0/24 -j ACCEPT\n"     // 7: shadowed by the two halves
      "-A INPUT -s 192.168.2.128/25 -j DROP\n"     // 8: an exception to 9
      "-A INPUT -s 192.168.2.0/24 -j ACCEPT\n"));  // 9
  auto r = check(rs, {"redundant", "conflict", "generalization"});
  const Finding* sh = find(r, "shadowed", 7);
  ASSERT_TRUE(sh) << dump(r);
  EXPECT_EQ(relatedLines(*sh), (std::vector<uint32_t>{5, 6}));
  // With the shadowed whole gone, the halves are needed: not redundant.
  EXPECT_FALSE(find(r, "redundant", 5)) << dump(r);
  EXPECT_FALSE(find(r, "redundant", 6)) << dump(r);
  EXPECT_FALSE(find(r, "redundant", 8)) << dump(r);
  const Finding* g = find(r, "generalization", 9);
  ASSERT_TRUE(g) << dump(r);
  EXPECT_EQ(relatedLines(*g), std::vector<uint32_t>{8});
  EXPECT_EQ(r.findings.size(), 2u) << dump(r);
  ASSERT_TRUE(g->witness);
  EXPECT_EQ(formatIpAddr(Family::IPv4, g->witness->src).rfind("192.168.2.", 0), 0u);
  EXPECT_GE(g->witness->src.v4() & 0xff, 128u);
}

// ---- planted anomalies: overlaps ----

TEST(VerifierAnalyses, ConflictAndGeneralization) {
  Ruleset rs = parse(filter(
      "-A FORWARD -s 10.0.0.0/8 -p tcp -j DROP\n"                    // 5
      "-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT\n"              // 6: overlaps 5 partially
      "-A FORWARD -s 172.16.5.0/24 -p udp -j DROP\n"                 // 7
      "-A FORWARD -s 172.16.0.0/12 -p udp -j ACCEPT\n"               // 8: strictly contains 7
      "-A FORWARD -s 192.168.0.0/16 -p udp -j ACCEPT\n"));            // 9: disjoint from all
  auto r = check(rs, {"conflict", "generalization"});
  const Finding* c = find(r, "conflict", 6);
  ASSERT_TRUE(c) << dump(r);
  EXPECT_EQ(relatedLines(*c), std::vector<uint32_t>{5});
  ASSERT_TRUE(c->witness);
  EXPECT_EQ(c->witness->proto, 6);
  EXPECT_EQ(c->witness->dport, 443);
  EXPECT_EQ(c->witness->src.v4() >> 24, 10u);
  EXPECT_TRUE(c->replayed);
  EXPECT_NE(c->message.find("get DROP"), std::string::npos) << c->message;
  const Finding* g = find(r, "generalization", 8);
  ASSERT_TRUE(g) << dump(r);
  EXPECT_EQ(relatedLines(*g), std::vector<uint32_t>{7});
  EXPECT_TRUE(g->replayed);
  EXPECT_FALSE(find(r, "conflict", 8)) << dump(r);
  EXPECT_FALSE(find(r, "conflict", 9)) << dump(r);
  EXPECT_FALSE(find(r, "generalization", 9)) << dump(r);
  EXPECT_EQ(r.findings.size(), 2u) << dump(r);
  // Only what is asked for.
  auto onlyGen = check(rs, {"generalization"});
  EXPECT_EQ(count(onlyGen, "conflict"), 0u);
  EXPECT_EQ(count(onlyGen, "generalization"), 1u);
}

TEST(VerifierAnalyses, OverlapFindingsAreCappedPerRule) {
  std::string body;
  for (int i = 0; i < 6; ++i) body += "-A INPUT -s 10." + std::to_string(i) + ".0.0/16 -p tcp -j DROP\n";  // 5..10
  body += "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n";  // 11: overlaps all six
  Ruleset rs = parse(filter(body, "ACCEPT"));
  CheckOptions o;
  o.analyses = {"conflict"};
  o.maxRelated = 2;
  auto r = verifier::checkRuleset(rs, o);
  ASSERT_EQ(count(r, "conflict"), 1u) << dump(r);
  const Finding* f = find(r, "conflict", 11);
  ASSERT_TRUE(f) << dump(r);
  EXPECT_EQ(relatedLines(*f), (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(f->moreRelated, 4u);
  EXPECT_NE(f->message.find("4 more"), std::string::npos) << f->message;
  auto j = verifier::findingsJson("x", r);
  EXPECT_EQ(j["findings"][0]["more_related"], 4);
}

TEST(VerifierAnalyses, StatefulMatchMakesAnOverlapPossibleOnly) {
  Ruleset rs = parse(filter(
      "-A INPUT -p tcp -m limit --limit 5/sec -j ACCEPT\n"   // 5
      "-A INPUT -s 10.0.0.0/8 -j DROP\n",                    // 6: overlaps 5 when the limit lets it through
      "ACCEPT"));
  auto r = check(rs, {"conflict"});
  const Finding* f = find(r, "conflict", 6);
  ASSERT_TRUE(f) << dump(r);
  EXPECT_FALSE(f->definite);
  EXPECT_EQ(f->severity, Severity::Note);
  ASSERT_FALSE(f->dependsOn.empty());
  EXPECT_NE(f->dependsOn[0].find("limit"), std::string::npos);
}

TEST(VerifierAnalyses, FindingsInAllFormats) {
  Ruleset rs = parse(filter("-A INPUT -s 10.0.0.0/8 -p tcp -j DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
                            "-A INPUT -s 11.0.0.0/8 -j DROP\n"));
  auto r = check(rs, {"redundant", "conflict"});
  ASSERT_TRUE(find(r, "conflict", 6) && find(r, "redundant", 7)) << dump(r);
  ASSERT_TRUE(find(r, "conflict", 7)) << dump(r);  // 11/8 also overlaps ssh (line 6)
  std::string text = dump(r);
  EXPECT_NE(text.find("test:6:1: warning: rule partially overlaps earlier rule at line 5"), std::string::npos) << text;
  EXPECT_NE(text.find("[-Wconflict]"), std::string::npos);
  EXPECT_NE(text.find("test:7:1: warning: rule is redundant"), std::string::npos) << text;
  EXPECT_NE(text.find("test:5:1: note: overlaps with: -A INPUT -s 10.0.0.0/8"), std::string::npos) << text;
  auto j = verifier::findingsJson("x", r);
  bool sawConflict = false;
  for (const auto& f : j["findings"])
    if (f["name"] == "conflict" && f["line"] == 6) {
      sawConflict = true;
      EXPECT_EQ(f["flag"], "-Wconflict");
      EXPECT_EQ(f["related"][0]["line"], 5);
      EXPECT_TRUE(f["witness"].is_object());
      EXPECT_EQ(f["replayed"], true);
    }
  EXPECT_TRUE(sawConflict);
  auto s = verifier::findingsSarif("x", r);
  std::set<std::string> ids;
  for (const auto& rule : s["runs"][0]["tool"]["driver"]["rules"]) ids.insert(rule["id"]);
  EXPECT_TRUE(ids.count("redundant") && ids.count("conflict") && ids.count("generalization"));
  bool sarifConflict = false;
  for (const auto& res : s["runs"][0]["results"])
    if (res["ruleId"] == "conflict" && res["locations"][0]["physicalLocation"]["region"]["startLine"] == 6) {
      sarifConflict = true;
      EXPECT_EQ(res["relatedLocations"][0]["physicalLocation"]["region"]["startLine"], 5);
    }
  EXPECT_TRUE(sarifConflict);
}

// ---- the host model ----

HostModel host(std::vector<const char*> locals) { return testsupport::hostOnEth0(std::move(locals)); }

using testsupport::runPipeline;

TEST(VerifierHostModel, WitnessesTakeTheReplayPath) {
  Ruleset rs = parse(filter(
      "-A INPUT -s 10.0.0.0/8 -p tcp -j ACCEPT\n"            // 5
      "-A INPUT -s 10.1.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT\n"  // 6: shadowed
      "-A INPUT -s 10.2.0.0/16 -j DROP\n"                    // 7: redundant (policy)
      "-A FORWARD -s 10.0.0.0/8 -m ttl --ttl-eq 9 -j ACCEPT\n"  // 8: redundant with 9
      "-A FORWARD -s 10.0.0.0/8 -j ACCEPT\n"));              // 9
  HostModel h = host({"192.0.2.1"});
  auto r = check(rs, {"redundant"}, h);
  const Finding* in = find(r, "redundant", 7);
  const Finding* fw = find(r, "redundant", 8);
  ASSERT_TRUE(in && fw && in->witness && fw->witness) << dump(r);
  EXPECT_EQ(in->witness->inIface, "eth0");
  EXPECT_EQ(formatIpAddr(Family::IPv4, in->witness->dst), "192.0.2.1");
  EXPECT_EQ(fw->witness->inIface, "eth0");
  EXPECT_EQ(fw->witness->outIface, "eth1");
  EXPECT_EQ(fw->witness->ttl, 9);
  EXPECT_NE(formatIpAddr(Family::IPv4, fw->witness->dst), "192.0.2.1");
  // Replayed as `nfjit replay --in-iface eth0 --out-iface eth1 --local 192.0.2.1` would.
  auto pin = runPipeline(rs, h, *in->witness, in->hook);
  EXPECT_FALSE(pin.forwardPath);
  ASSERT_FALSE(pin.steps.empty());
  EXPECT_EQ(pin.steps.back().result.matched.back().rule, 2u);  // line 7
  auto pfw = runPipeline(rs, h, *fw->witness, fw->hook);
  EXPECT_TRUE(pfw.forwardPath);
  EXPECT_EQ(pfw.fate, PipelineResult::Fate::Forwarded);
  ASSERT_FALSE(pfw.steps.empty());
  EXPECT_EQ(pfw.steps.back().result.matched.back().rule, 0u);  // line 8, TTL seen after the decrement
}

TEST(VerifierHostModel, NoLocalAddressMeansOnlyMulticastIsDelivered) {
  Ruleset rs = parse(filter("-A INPUT -d 10.0.0.0/8 -j DROP\n-A INPUT -d 224.0.0.0/4 -j DROP\n"));
  auto r = check(rs, {"redundant"}, host({}));
  // Nothing addressed to 10/8 takes the INPUT path: the rule is dead under
  // the host model (the base analysis says so; -Wredundant skips dead rules).
  const Finding* dead = find(r, "unsatisfiable", 5);
  ASSERT_TRUE(dead && dead->witness) << dump(r);
  EXPECT_FALSE(find(r, "redundant", 5));
  EXPECT_NE(dead->message.find("host model"), std::string::npos) << dead->message;
  EXPECT_EQ(dead->witness->dst.v4() >> 24, 10u);
  const Finding* f = find(r, "redundant", 6);
  ASSERT_TRUE(f && f->witness) << dump(r);
  EXPECT_EQ(f->witness->dst.v4() >> 28, 0xeu);
  auto withLocal = check(rs, {"redundant"}, host({"10.0.0.1"}));
  const Finding* g = find(withLocal, "redundant", 5);
  ASSERT_TRUE(g && g->witness) << dump(withLocal);
  EXPECT_EQ(formatIpAddr(Family::IPv4, g->witness->dst), "10.0.0.1");
}

// The always-on analyses under the host model: witnesses take the path
// replay takes, and a rule only for packets the host never sees is dead.
TEST(VerifierHostModel, BaseAnalysesFollowTheHost) {
  Ruleset rs = parse(filter(
      "-A INPUT -i eth9 -j ACCEPT\n"                          // 5: eth9 never delivers here
      "-A INPUT -p tcp -j DROP\n"                             // 6
      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"         // 7: shadowed by 6
      "-A FORWARD -o eth1 -j ACCEPT\n"                        // 8
      "-A FORWARD -o eth1 -p udp -j DROP\n"));               // 9: shadowed by 8
  HostModel h = host({"192.0.2.1"});
  auto r = check(rs, {}, h);
  const Finding* unseen = find(r, "unsatisfiable", 5);
  ASSERT_TRUE(unseen && unseen->witness) << dump(r);
  EXPECT_NE(unseen->message.find("unreachable under the host model"), std::string::npos) << unseen->message;
  EXPECT_EQ(unseen->witness->inIface, "eth9");
  EXPECT_TRUE(unseen->replayed);
  // Without the host model the rule is fine.
  EXPECT_FALSE(find(check(rs, {}), "unsatisfiable", 5));
  for (uint32_t line : {7u, 9u}) {
    const Finding* f = find(r, "shadowed", line);
    ASSERT_TRUE(f && f->witness && f->replayed) << line << "\n" << dump(r);
    EXPECT_EQ(f->witness->inIface, "eth0");
    // Along replay's path, the earlier rule decides the witness.
    auto p = runPipeline(rs, h, *f->witness, f->hook);
    ASSERT_FALSE(p.steps.empty()) << line;
    EXPECT_EQ(p.forwardPath, line == 9u);
    const auto& last = p.steps.back();
    EXPECT_EQ(last.table, "filter");
    ASSERT_FALSE(last.result.matched.empty());
    EXPECT_EQ(last.result.matched.back().rule, line == 7u ? 1u : 0u) << line;
  }
  const Finding* in7 = find(r, "shadowed", 7);
  EXPECT_EQ(formatIpAddr(Family::IPv4, in7->witness->dst), "192.0.2.1");
}

// ---- check --cover-pcap ----

const char* kCoverRules =
    "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A PREROUTING -s 203.0.113.0/24 -j DROP\n"
    "-A PREROUTING -p udp -m udp --dport 9 -j DROP\n"
    "COMMIT\n"
    "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    ":POSTROUTING ACCEPT [0:0]\n"
    "-A PREROUTING -p tcp -m tcp --dport 25 -j MARK --set-xmark 0x1/0xffffffff\n"
    "-A FORWARD -m ttl --ttl-lt 5 -j DROP\n"
    "COMMIT\n"
    "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:ssh - [0:0]\n"
    "-A INPUT -p tcp -m tcp --dport 22 -j ssh\n"
    "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\n"
    "-A INPUT -s 10.0.0.0/8 -j DROP\n"
    "-A FORWARD -m mark --mark 0x1 -j ACCEPT\n"
    "-A FORWARD -i eth0 -o eth1 -p udp -j ACCEPT\n"
    "-A FORWARD -s 203.0.113.7 -j ACCEPT\n"   // dropped in raw PREROUTING: unreachable on the path
    "-A FORWARD -m ttl --ttl-eq 3 -j ACCEPT\n"  // mangle FORWARD drops TTL < 5 first
    "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset\n"
    "-A ssh -s 192.0.2.0/24 -j ACCEPT\n"
    "-A ssh -j LOG\n"
    "-A ssh -j DROP\n"
    "COMMIT\n";

// Reads a pcap written by check --cover-pcap and replays it the way `nfjit replay` does.
CounterSet replayPcap(const Ruleset& rs, const HostModel& h, const std::string& path, bool jit) {
  std::unique_ptr<Classifier> engine;
  if (jit) engine = std::make_unique<jit::JitClassifier>(rs);
  HookPipeline pipe(rs, h, std::move(engine));
  PcapReader in(path);
  CapturedPacket p;
  while (in.next(p))
    pipe.process(p.data.data(), static_cast<uint32_t>(p.data.size()), PktType::Host, {}, false, p.tsNs,
                 p.tsNs / 1000000000ull);
  return pipe.classifier().counters();
}

TEST(VerifierCover, EveryReachableRuleIsCountedByInterpreterAndJit) {
  Ruleset rs = parse(kCoverRules);
  HostModel h = host({"192.0.2.1"});
  auto cov = verifier::coverRuleset(rs, h);
  fs::path pcap = fs::temp_directory_path() / ("nfjit_cover_" + std::to_string(getpid()) + ".pcap");
  std::vector<const verifier::Witness*> ws;
  for (const auto& w : cov.packets) ws.push_back(&w);
  verifier::writeWitnessPcap(pcap.string(), ws);
  CounterSet interp = replayPcap(rs, h, pcap.string(), false);
  CounterSet jit = replayPcap(rs, h, pcap.string(), true);
  fs::remove(pcap);
  size_t reachable = 0;
  for (const auto& e : cov.rules) {
    const Counters& c = interp.rule(e.rule.table, e.rule.chain, e.rule.rule);
    EXPECT_EQ(c, jit.rule(e.rule.table, e.rule.chain, e.rule.rule)) << "line " << e.rule.loc.line;
    if (e.covered) EXPECT_GT(c.packets, 0u) << "line " << e.rule.loc.line << ": " << e.rule.text;
    reachable += e.reachable;
  }
  for (size_t t = 0; t < rs.tables.size(); ++t)
    for (size_t ch = 0; ch < rs.tables[t].chains.size(); ++ch)
      EXPECT_EQ(interp.policy(t, ch), jit.policy(t, ch));
  // Every rule but the two that earlier hooks make unreachable on the path.
  auto line = [&](const char* text) {
    for (const auto& e : cov.rules)
      if (e.rule.text.find(text) != std::string::npos) return &e;
    return static_cast<const verifier::CoverEntry*>(nullptr);
  };
  EXPECT_EQ(cov.reachable, reachable);
  EXPECT_EQ(cov.covered, cov.rules.size() - 2) << cov.covered << " of " << cov.rules.size();
  ASSERT_TRUE(line("203.0.113.7") && line("--ttl-eq 3"));
  EXPECT_FALSE(line("203.0.113.7")->covered);
  EXPECT_FALSE(line("--ttl-eq 3")->covered);
  EXPECT_FALSE(line("--ttl-eq 3")->why.empty());
}

// ---- diff on planted rewrites ----

TEST(VerifierAnalysesDiff, EquivalentRewritesAndARealChange) {
  Ruleset base = parse(filter(
      "-A INPUT -s 192.168.1.0/24 -j ACCEPT\n"
      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "-A INPUT -p udp -m udp --dport 53 -s 10.0.0.0/8 -j ACCEPT\n"));
  // Reordered disjoint rules, a split CIDR, a redundant rule added, a port list.
  Ruleset same = parse(filter(
      "-A INPUT -p udp -m udp --dport 53 -s 10.0.0.0/9 -j ACCEPT\n"
      "-A INPUT -p udp -m udp --dport 53 -s 10.128.0.0/9 -j ACCEPT\n"
      "-A INPUT -s 192.168.1.128/25 -j ACCEPT\n"
      "-A INPUT -s 192.168.1.0/25 -j ACCEPT\n"
      "-A INPUT -p tcp -m multiport --dports 22 -j ACCEPT\n"
      "-A INPUT -s 172.16.0.0/12 -j DROP\n"));
  for (const auto& d : verifier::diffRulesets(base, same)) EXPECT_TRUE(d.equivalent) << d.chain;
  // A real change: ssh only from 10/8.
  Ruleset changed = parse(filter(
      "-A INPUT -s 192.168.1.0/24 -j ACCEPT\n"
      "-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "-A INPUT -p udp -m udp --dport 53 -s 10.0.0.0/8 -j ACCEPT\n"));
  auto ds = verifier::diffRulesets(base, changed);
  const verifier::ChainDiff* in = nullptr;
  for (const auto& d : ds)
    if (d.chain == "INPUT") in = &d;
  ASSERT_TRUE(in && !in->equivalent);
  ASSERT_FALSE(in->differences.empty());
  const auto& x = in->differences[0];
  EXPECT_TRUE(x.replayed);
  EXPECT_NE(x.oldReplay, x.newReplay);
  EXPECT_EQ(x.witness.dport, 22);
  EXPECT_NE(x.witness.src.v4() >> 24, 10u);
  // The witness's verdicts, straight from the interpreter.
  EXPECT_EQ(verifier::replay(base, 0, Hook::LocalIn, x.witness).verdict, "ACCEPT");
  EXPECT_EQ(verifier::replay(changed, 0, Hook::LocalIn, x.witness).verdict, "DROP");
}

// ---- the command line ----

TEST(VerifierAnalysesCli, WarningOptionsHostOptionsAndCoverPcap) {
  const std::string planted = std::string(NFJIT_SOURCE_DIR) + "/examples/planted/";
  fs::path dir = fs::temp_directory_path() / ("nfjit_va_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string redundantOnly = (dir / "r.rules").string();
  std::ofstream(redundantOnly) << filter("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -s 10.0.0.0/8 -j DROP\n");
  EXPECT_EQ(runNfjit("check " + redundantOnly), 0);  // -Wredundant is opt-in
  EXPECT_EQ(runNfjit("check -Wredundant " + redundantOnly), 1);
  EXPECT_EQ(runNfjit("check -Wredundant -Wno-redundant " + redundantOnly), 0);
  EXPECT_EQ(runNfjit("check -W no-all -Wredundant " + redundantOnly), 1);
  EXPECT_EQ(runNfjit("check -Wbogus " + redundantOnly), 2);
  EXPECT_EQ(runNfjit("check --local 10.0.0 " + redundantOnly), 2);
  EXPECT_EQ(runNfjit("check --route 10.0.0.0=eth2 " + redundantOnly), 2);
  EXPECT_EQ(runNfjit("check -Wall --in-iface eth0 --local 192.0.2.1 " + planted + "anomalies.rules --json"), 1);
  std::string cover = (dir / "cover.pcap").string();
  EXPECT_EQ(runNfjit("check -Wno-all " + planted + "cover.rules --in-iface eth0 --out-iface eth1 --local 192.0.2.1 "
                     "--cover-pcap " + cover),
            0);
  ASSERT_TRUE(fs::exists(cover));
  EXPECT_GT(fs::file_size(cover), 24u);
  EXPECT_EQ(runNfjit("replay " + planted + "cover.rules --pcap " + cover +
                     " --in-iface eth0 --out-iface eth1 --local 192.0.2.1 --counters " + (dir / "c.rules").string()),
            0);
  std::ifstream counted(dir / "c.rules");
  std::string line;
  int zero = 0, rules = 0;
  while (std::getline(counted, line))
    if (line.rfind("[", 0) == 0 && line.find("-A ") != std::string::npos) {
      ++rules;
      if (line.rfind("[0:0]", 0) == 0) ++zero;
    }
  EXPECT_GT(rules, 5);
  EXPECT_EQ(zero, 0) << "every rule of cover.rules is reachable on the replay path";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nfjit
