// Permissive loading (unparsed matches kept as unknowns, bad targets
// dropped) and the verifier's scale paths: diff restricted to the changed
// occurrences, check deciding rules by concrete packets before the solver.
// Results must be those of the exact analysis.
#include <gtest/gtest.h>

#include <stdexcept>

#include "compiler/extensions/Unparsed.h"
#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"
#include "compiler/interp/Interpreter.h"
#include "verifier/Witness.h"
#include "verifier/Verifier.h"
#include "tests/support/VerifierFixtures.h"

namespace nfjit {
namespace {

struct Parsed {
  Ruleset rs;
  std::vector<std::string> errors, warnings;
};

Parsed load(const std::string& text, bool permissive) {
  DiagnosticEngine d("t.rules");
  ParseOptions po;
  po.permissive = permissive;
  Parsed p{parseRestore(text, po, d), {}, {}};
  for (const auto& x : d.diagnostics())
    (x.severity == Severity::Error ? p.errors : p.warnings).push_back(d.format(x));
  return p;
}

std::string filter(const std::string& body, const std::string& chains = "") {
  return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + chains + body + "COMMIT\n";
}

const std::string kMacRule = "-A INPUT -s 10.1.0.0/16 -m mac --mac-source XX:XX:XX:XX:XX:XX -j DROP\n";

TEST(PermissiveLoad, StrictModeStillRejects) {
  Parsed p = load(filter(kMacRule), false);
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].find("t.rules:5:"), std::string::npos) << p.errors[0];
}

TEST(PermissiveLoad, BadOptionBecomesAnUnparsedMatch) {
  Parsed p = load(filter(kMacRule), true);
  EXPECT_TRUE(p.errors.empty());
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0].rfind("t.rules:5:", 0), 0u) << p.warnings[0];
  EXPECT_NE(p.warnings[0].find("warning: unparsed `--mac-source XX:XX:XX:XX:XX:XX'"), std::string::npos)
      << p.warnings[0];
  const Rule& r = p.rs.tables[0].chains[0].rules.at(0);
  EXPECT_EQ(r.target.kind, Target::Kind::Drop);
  ASSERT_EQ(r.matches.size(), 1u);
  EXPECT_EQ(printRule(r, "INPUT", Family::IPv4) + "\n", kMacRule);
  EXPECT_EQ(firstUnparsed(p.rs).value_or(""), "line 5: unparsed --mac-source XX:XX:XX:XX:XX:XX");
}

TEST(PermissiveLoad, UnknownModuleKeepsItsOptionsAndTheTarget) {
  Parsed p = load(filter("-A INPUT -m frobnicate --knob 1 2 ! --other -p tcp -m tcp --dport 22 -j ACCEPT\n"), true);
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  const Rule& r = p.rs.tables[0].chains[0].rules.at(0);
  EXPECT_EQ(printRule(r, "INPUT", Family::IPv4),
            "-A INPUT -p tcp -m frobnicate --knob 1 2 ! --other -m tcp --dport 22 -j ACCEPT");
  EXPECT_EQ(r.matches.size(), 2u);
  EXPECT_EQ(r.target.kind, Target::Kind::Accept);
}

TEST(PermissiveLoad, BadAddressBecomesUnparsed) {
  Parsed p = load(filter("-A INPUT -s <private_ip> -p udp -j DROP\n"), true);
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  const Rule& r = p.rs.tables[0].chains[0].rules.at(0);
  EXPECT_EQ(r.ip.proto, 17);
  EXPECT_EQ(printRule(r, "INPUT", Family::IPv4), "-A INPUT -p udp -s <private_ip> -j DROP");
}

TEST(PermissiveLoad, RuleWithBadTargetIsDroppedWithAWarning) {
  Parsed p = load(filter("-A INPUT -p tcp -j NOSUCHCHAIN\n-A INPUT -j ACC\n-A INPUT -j ACCEPT\n"), true);
  EXPECT_TRUE(p.errors.empty());
  ASSERT_EQ(p.warnings.size(), 2u);
  EXPECT_NE(p.warnings[0].find("t.rules:5:"), std::string::npos) << p.warnings[0];
  EXPECT_NE(p.warnings[0].find("rule dropped"), std::string::npos) << p.warnings[0];
  ASSERT_EQ(p.rs.tables[0].chains[0].rules.size(), 1u);
  EXPECT_EQ(p.rs.tables[0].chains[0].rules[0].loc.line, 7u);
}

TEST(PermissiveLoad, FailedFinalCheckBecomesUnparsed) {
  // --dport without -p: the tcp module's own check fails.
  Parsed p = load(filter("-A INPUT -m tcp --dport 22 -s 10.0.0.1 -j ACCEPT\n"), true);
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_TRUE(firstUnparsed(p.rs).has_value());
}

TEST(PermissiveLoad, InterpreterRefusesToEvaluateUnparsedMatches) {
  Parsed p = load(filter(kMacRule), true);
  Interpreter in(p.rs);
  verifier::Witness w;
  w.src = *parseIpAddr(Family::IPv4, "10.1.0.1");
  w.dst = *parseIpAddr(Family::IPv4, "192.0.2.1");
  w.proto = 6;
  w.length = 40;
  w.inIface = "eth0";
  verifier::buildBytes(w);
  std::vector<uint8_t> bytes;
  PacketView pv;
  ASSERT_TRUE(verifier::toPacketView(w, bytes, pv));
  EvalContext ctx{pv};
  ctx.hook = Hook::LocalIn;
  ctx.table = "filter";
  EXPECT_THROW(in.run("filter", Hook::LocalIn, ctx), std::logic_error);
}

using testsupport::findFinding;

TEST(PermissiveCheck, UnparsedMatchIsAnUnknownNamedInFindings) {
  Parsed p = load(filter("-A INPUT -s 10.0.0.0/8 -j ACCEPT\n" + kMacRule +
                         "-A INPUT -s 11.0.0.0/8 -m mac --mac-source XX:XX:XX:XX:XX:XX -j ACCEPT\n"
                         "-A INPUT -s 11.1.0.0/16 -j DROP\n"),
                  true);
  ASSERT_TRUE(p.errors.empty());
  auto r = verifier::checkRuleset(p.rs);
  // Line 6 is shadowed whatever its unparsed match does; the witness replays
  // under the model's assumption for it.
  const auto* f = findFinding(r, "shadowed", 6);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->definite);
  EXPECT_TRUE(f->replayed);
  ASSERT_EQ(f->dependsOn.size(), 1u);
  EXPECT_EQ(f->dependsOn[0], "unparsed --mac-source XX:XX:XX:XX:XX:XX at line 6");
  // Line 8 is reached whenever line 7's unparsed match does not hold.
  EXPECT_FALSE(findFinding(r, "shadowed", 8));
}

TEST(PermissiveDiff, IdenticalChainsNeedNoSolver) {
  std::string body;
  for (int i = 0; i < 200; ++i) body += "-A INPUT -s 10.0." + std::to_string(i) + ".0/24 -p tcp -j DROP\n";
  Parsed a = load(filter(body + kMacRule), true), b = load(filter(body + kMacRule), true);
  verifier::DiffStats st;
  auto d = verifier::diffRulesets(a.rs, b.rs, "filter", &st);
  for (const auto& c : d) EXPECT_TRUE(c.equivalent) << c.chain;
  EXPECT_EQ(st.identicalChains, 3u);
  EXPECT_EQ(st.solverCalls, 0u);
}

// The FORWARD chain's diff (null when there is none); every other chain
// must be equivalent.
const verifier::ChainDiff* forwardDiff(const std::vector<verifier::ChainDiff>& d) {
  const verifier::ChainDiff* fw = nullptr;
  for (const auto& c : d)
    if (c.chain == "FORWARD") fw = &c;
    else EXPECT_TRUE(c.equivalent) << c.chain;
  return fw;
}

TEST(VerifierScaleDiff, MovedRuleFoundAmongManyIdentical) {
  std::string head, tail;
  for (int i = 0; i < 150; ++i) head += "-A FORWARD -s 10.0." + std::to_string(i) + ".0/24 -p tcp -j DROP\n";
  for (int i = 0; i < 150; ++i) tail += "-A FORWARD -d 10.1." + std::to_string(i) + ".0/24 -p udp -j ACCEPT\n";
  const std::string moved = "-A FORWARD -i eth1 -p udp -j REJECT\n";
  Parsed a = load(filter(head + moved + tail), false), b = load(filter(head + tail + moved), false);
  const auto d = verifier::diffRulesets(a.rs, b.rs);
  const verifier::ChainDiff* fw = forwardDiff(d);
  ASSERT_TRUE(fw);
  ASSERT_FALSE(fw->equivalent);
  ASSERT_EQ(fw->differences.size(), 1u);
  const auto& x = fw->differences[0];
  EXPECT_EQ(x.oldVerdict, "REJECT");
  EXPECT_EQ(x.newVerdict, "ACCEPT");
  EXPECT_TRUE(x.replayed);
  EXPECT_EQ(x.witness.inIface, "eth1");
  // Moving it below rules it does not overlap changes nothing.
  Parsed c = load(filter(head + "-A FORWARD -i eth1 -p icmp -j REJECT\n" + tail), false),
         e = load(filter(head + tail + "-A FORWARD -i eth1 -p icmp -j REJECT\n"), false);
  for (const auto& cd : verifier::diffRulesets(c.rs, e.rs)) EXPECT_TRUE(cd.equivalent) << cd.chain;
}

// The moved jump's RETURN only skips the rest of the (changed) callee: it is
// no region of its own, or `-i eth1` would meet every FORWARD rule.
TEST(VerifierScaleDiff, MovedJumpsReturnIsNoRegion) {
  std::string head, tail;
  for (int i = 0; i < 100; ++i) head += "-A FORWARD -i eth1 -s 10.0." + std::to_string(i) + ".0/24 -p tcp -j ACCEPT\n";
  for (int i = 0; i < 100; ++i) tail += "-A FORWARD -d 10.1." + std::to_string(i) + ".0/24 -p udp -j ACCEPT\n";
  const std::string chains = ":CHK - [0:0]\n";
  const std::string callee = "-A CHK -s 10.0.7.0/24 -j DROP\n-A CHK -j RETURN\n-A CHK -s 10.0.8.0/24 -j DROP\n";
  const std::string jump = "-A FORWARD -i eth1 -j CHK\n";
  Parsed a = load(filter(head + jump + tail + callee, chains), false),
         b = load(filter(jump + head + tail + callee, chains), false);
  ASSERT_TRUE(a.errors.empty() && b.errors.empty());
  verifier::DiffStats st;
  auto d = verifier::diffRulesets(a.rs, b.rs, "filter", &st);
  EXPECT_EQ(st.regions, 2u);  // CHK's two DROPs, once for both versions
  const verifier::ChainDiff* fw = forwardDiff(d);
  ASSERT_TRUE(fw);
  ASSERT_EQ(fw->differences.size(), 1u);
  EXPECT_EQ(fw->differences[0].oldVerdict, "ACCEPT");
  EXPECT_EQ(fw->differences[0].newVerdict, "DROP");
  EXPECT_TRUE(fw->differences[0].replayed);
}

// Too many changed rules for one region each: concrete probes find the
// difference, and the solver only proves that there is no other.
TEST(VerifierScaleDiff, ConcreteProbesFindDifferencesTheSolverProvesTheRest) {
  std::string before, after;
  for (int i = 0; i < 100; ++i) {
    before += "-A FORWARD -s 10.0." + std::to_string(i) + ".0/24 -p tcp -j DROP\n";
    after += "-A FORWARD -s 10.0." + std::to_string(i) + ".0/24 -p tcp -j REJECT\n";
  }
  Parsed a = load(filter(before), false), b = load(filter(after), false);
  verifier::DiffStats st;
  auto d = verifier::diffRulesets(a.rs, b.rs, "filter", &st);
  const verifier::ChainDiff* fw = forwardDiff(d);
  ASSERT_TRUE(fw);
  ASSERT_EQ(fw->differences.size(), 1u);
  EXPECT_EQ(fw->differences[0].oldVerdict, "DROP");
  EXPECT_EQ(fw->differences[0].newVerdict, "REJECT");
  EXPECT_TRUE(fw->differences[0].replayed);
  EXPECT_TRUE(fw->definite);
  EXPECT_EQ(st.probed, 1u);
  EXPECT_EQ(st.regions, 1u);      // 100 changed boxes, merged into their hull
  EXPECT_EQ(st.solverCalls, 1u);  // the proof that no other verdict pair differs
}

// A witness is replayed as a packet of its own: a spent rate limit from an
// earlier replay must not change the next one's verdict.
TEST(VerifierReplay, StatefulMatchesStartFreshForEachWitness) {
  Parsed p = load("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                  "-A INPUT -p tcp -m limit --limit 1/hour --limit-burst 1 -j ACCEPT\n"
                  "-A INPUT -p udp -m recent --rcheck --name seen -j ACCEPT\n"
                  "-A INPUT -p udp -m recent --set --name seen\nCOMMIT\n",
                  false);
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  verifier::Witness w;
  w.src = *parseIpAddr(Family::IPv4, "192.0.2.1");
  w.dst = *parseIpAddr(Family::IPv4, "198.51.100.1");
  w.proto = 6;
  w.length = 40;
  w.inIface = "eth0";
  verifier::buildBytes(w);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(verifier::replay(p.rs, 0, Hook::LocalIn, w).label, "ACCEPT") << i;
  w.proto = 17;
  w.length = 28;
  verifier::buildBytes(w);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(verifier::replay(p.rs, 0, Hook::LocalIn, w).label, "DROP") << i;
}

TEST(VerifierScaleCheck, ConcretePacketsDecideReachableRulesSolverTheRest) {
  std::string body;
  for (int i = 0; i < 100; ++i) body += "-A INPUT -s 172.16." + std::to_string(i) + ".0/24 -p udp -j DROP\n";
  // Line 106: reachable only through the upper half of 10/8 (a concrete
  // packet has to step around line 105). Line 108: blocked by line 106.
  body += "-A INPUT -s 10.0.0.0/9 -j DROP\n"
          "-A INPUT -s 10.0.0.0/8 -j ACCEPT\n"
          "-A INPUT -s 11.0.0.0/9 -j ACCEPT\n"
          "-A INPUT -s 10.128.0.0/9 -p tcp -j DROP\n";
  Parsed p = load(filter(body), false);
  auto r = verifier::checkRuleset(p.rs);
  EXPECT_EQ(r.stats.pruned, 103u);  // all but the shadowed one, without the solver
  ASSERT_EQ(r.findings.size(), 1u);
  const auto* f = findFinding(r, "shadowed", 108);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->related.size(), 1u);
  EXPECT_EQ(f->related[0].loc.line, 106u);
  EXPECT_TRUE(f->replayed);
}

}  // namespace
}  // namespace nfjit
