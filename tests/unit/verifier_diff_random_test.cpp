// diff against the reference interpreter on random edits of random
// rulesets: rules moved, removed, inserted, retargeted, jumps moved. A
// chain reported equivalent must give every probe packet the same verdict
// in both versions; a reported difference must replay as claimed. This
// covers diff's shortcuts (changed regions, block composition) as a whole.
// -Wredundant on the same random rulesets: removing every reported rule
// (with the shadowed ones) together must change no probe's verdict; and
// every definite -Wconflict/-Wgeneralization witness must replay.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/support/RandomRuleset.h"
#include "tests/support/RulesetFixture.h"
#include "runtime/packet/PacketView.h"
#include "verifier/PathModel.h"
#include "verifier/Verifier.h"

namespace nfjit {
namespace {

using testing::Rng;

struct Line {
  std::string chain, text;
};

const std::vector<std::string> kPrefixes = {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "192.0.2.0/24",
                                            "192.0.2.128/25", "198.51.100.7/32"};
const std::vector<std::string> kAddrs = {"10.1.2.3", "10.1.9.9", "10.9.9.9", "192.0.2.5",
                                         "192.0.2.200", "198.51.100.7", "203.0.113.1"};
const std::vector<std::string> kIfaces = {"eth0", "eth1", "eth+"};
const std::vector<std::string> kPacketIfaces = {"eth0", "eth1", "eth2", "ppp0"};

// Interfaces only where the chain's hook has them (user chains are reached
// from every hook).
// `states`: -m state too (the whole-path replay of the diff test sends
// single packets, which conntrack sees as NEW or INVALID only).
std::string randomMatch(Rng& r, const std::string& chain, bool states = false) {
  std::string m;
  if (r.chance(40)) m += (r.chance(15) ? " ! -s " : " -s ") + r.pick(kPrefixes);
  if (r.chance(40)) m += " -d " + r.pick(kPrefixes);
  if ((chain == "INPUT" || chain == "FORWARD") && r.chance(35)) m += " -i " + r.pick(kIfaces);
  if ((chain == "OUTPUT" || chain == "FORWARD") && r.chance(25)) m += " -o " + r.pick(kIfaces);
  static const std::vector<std::string> kStates = {"NEW", "ESTABLISHED", "NEW,ESTABLISHED", "INVALID"};
  if (states && r.chance(25)) m += " -m state --state " + r.pick(kStates);
  switch (r.below(4)) {
    case 0: m += " -p tcp"; if (r.chance(60)) m += r.chance(50) ? " --dport 22" : " --dport 1000:2000"; break;
    case 1: m += " -p udp"; if (r.chance(50)) m += " --dport 53"; break;
    case 2: m += " -p icmp"; break;
    default: break;
  }
  return m;
}

std::string randomTarget(Rng& r, const std::string& chain) {
  const bool user = chain == "U1" || chain == "U2";
  unsigned k = static_cast<unsigned>(r.below(user ? 6 : 7));
  if (k == 0) return " -j ACCEPT";
  if (k == 1) return " -j DROP";
  if (k == 2) return " -j REJECT";
  if (k == 3) return " -j LOG";
  if (user) return chain == "U1" && k == 4 ? " -j U2" : " -j RETURN";
  if (k == 4) return " -j U1";
  if (k == 5) return " -j U2";
  return " -g U2";
}

std::vector<Line> randomRules(Rng& r, bool states = false) {
  std::vector<Line> out;
  for (const std::string chain : {"INPUT", "FORWARD", "OUTPUT", "U1", "U2"}) {
    unsigned n = 3 + static_cast<unsigned>(r.below(8));
    for (unsigned i = 0; i < n; ++i) out.push_back({chain, randomMatch(r, chain, states) + randomTarget(r, chain)});
  }
  return out;
}

// One edit of the kinds a firewall's history holds.
std::vector<Line> edit(Rng& r, std::vector<Line> v) {
  size_t i = r.below(v.size());
  switch (r.below(5)) {
    case 0: {  // move a rule within its chain
      Line l = v[i];
      v.erase(v.begin() + static_cast<long>(i));
      std::vector<size_t> same;
      for (size_t j = 0; j <= v.size(); ++j)
        if (j == v.size() ? v.back().chain == l.chain : v[j].chain == l.chain) same.push_back(j);
      size_t at = same.empty() ? v.size() : same[r.below(same.size())];
      v.insert(v.begin() + static_cast<long>(at), l);
      break;
    }
    case 1: v.erase(v.begin() + static_cast<long>(i)); break;
    case 2: v.insert(v.begin() + static_cast<long>(i), {v[i].chain, randomMatch(r, v[i].chain) + randomTarget(r, v[i].chain)}); break;
    case 3: v[i].text = v[i].text.substr(0, v[i].text.rfind(" -")) + randomTarget(r, v[i].chain); break;
    default:
      if (i + 1 < v.size() && v[i].chain == v[i + 1].chain) std::swap(v[i], v[i + 1]);
      break;
  }
  return v;
}

std::string render(const std::vector<Line>& v) {
  std::string s = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:U1 - [0:0]\n:U2 - [0:0]\n";
  for (const auto& l : v) s += "-A " + l.chain + l.text + "\n";
  return s + "COMMIT\n";
}

std::vector<verifier::Witness> probes(Rng& r, Hook h, bool states = false) {
  std::vector<verifier::Witness> out;
  for (int k = 0; k < 150; ++k) {
    verifier::Witness w;
    w.src = *parseIpAddr(Family::IPv4, r.pick(kAddrs));
    w.dst = *parseIpAddr(Family::IPv4, r.pick(kAddrs));
    static const std::vector<uint8_t> protos = {6, 17, 1, 47};
    w.proto = r.pick(protos);
    static const std::vector<uint16_t> ports = {22, 53, 999, 1000, 1500, 2000, 2001};
    w.sport = 40000;
    w.dport = r.pick(ports);
    w.icmpType = 8;
    w.tcpFlags = 0x02;
    static const std::vector<uint8_t> ctstates = {kCtNew, kCtNew, kCtEstablished, kCtInvalid, kCtRelated};
    w.ctstate = states ? r.pick(ctstates) : kCtNew;
    if (h != Hook::LocalOut) w.inIface = r.pick(kPacketIfaces);
    if (h != Hook::LocalIn) w.outIface = r.pick(kPacketIfaces);
    verifier::buildBytes(w);
    out.push_back(std::move(w));
  }
  return out;
}

TEST(VerifierDiffRandom, EquivalentMeansSameVerdictsAndDifferencesReplay) {
  size_t differing = 0, equivalent = 0;
  for (uint64_t seed = 1; seed <= 120; ++seed) {
    Rng r(seed);
    std::vector<Line> base = randomRules(r);
    std::vector<Line> changed = edit(r, base);
    if (r.chance(30)) changed = edit(r, changed);
    const std::string ta = render(base), tb = render(changed);
    Ruleset a = testsupport::parseRules(ta), b = testsupport::parseRules(tb);
    const auto chains = verifier::diffRulesets(a, b);
    // Filter alone decides each path here: the path diff answers through the
    // chain diff, and its witnesses must replay along the whole path.
    for (const auto& pd : verifier::diffPaths(a, b, std::nullopt)) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " path " + verifier::pathKindName(pd.kind));
      const Hook h = pd.kind == verifier::PathKind::Input     ? Hook::LocalIn
                     : pd.kind == verifier::PathKind::Forward ? Hook::Forward
                                                              : Hook::LocalOut;
      for (const auto& cd : chains) {
        if (cd.hook == h && cd.equivalent) {
          EXPECT_TRUE(pd.equivalent);
        }
      }
      if (pd.kind != verifier::PathKind::Output && pd.difference) {
        EXPECT_TRUE(pd.difference->replayed) << pd.difference->replayNote;
        EXPECT_NE(pd.difference->oldFate.fate, pd.difference->newFate.fate);
      }
    }
    for (const auto& cd : chains) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " chain " + cd.chain + "\nold:\n" + ta + "new:\n" + tb);
      ASSERT_TRUE(cd.definite);
      if (!cd.equivalent) {
        ++differing;
        for (const auto& d : cd.differences) {
          EXPECT_TRUE(d.replayed) << d.witness.describe() << ": " << d.oldVerdict << " vs " << d.newVerdict
                                  << ", replayed " << d.oldReplay << " vs " << d.newReplay;
          EXPECT_NE(d.oldReplay, d.newReplay);
        }
        continue;
      }
      ++equivalent;
      for (const auto& w : probes(r, cd.hook)) {
        auto ra = verifier::replay(a, 0, cd.hook, w), rb = verifier::replay(b, 0, cd.hook, w);
        ASSERT_TRUE(ra.ok && rb.ok);
        EXPECT_EQ(ra.label, rb.label) << "reported equivalent, but " << w.describe() << " differs";
      }
    }
  }
  // Both outcomes occur often enough for the test to mean something.
  EXPECT_GT(differing, 30u);
  EXPECT_GT(equivalent, 100u);
}

TEST(VerifierRedundantRandom, RemovingEveryReportedRuleChangesNoVerdict) {
  size_t reported = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Rng r(seed);
    const std::vector<Line> rules = randomRules(r, true);
    const std::string text = render(rules);
    Ruleset rs = testsupport::parseRules(text);
    verifier::CheckOptions o;
    o.analyses = {"redundant"};
    const auto result = verifier::checkRuleset(rs, o);
    std::set<uint32_t> lines;
    for (const auto& f : result.findings)
      if (f.name == "redundant" && f.witness) lines.insert(f.rule.loc.line);
    reported += lines.size();
    // Each rule is redundant with the shadowed ones gone too: the set that
    // can be deleted together (a rule shadowed by a redundant rule would
    // otherwise come back to life).
    for (const auto& f : result.findings)
      if (f.name == "shadowed") lines.insert(f.rule.loc.line);
    std::vector<Line> kept;
    constexpr uint32_t kFirstRuleLine = 7;  // render(): *filter, three policies, two user chains
    for (size_t i = 0; i < rules.size(); ++i)
      if (!lines.count(kFirstRuleLine + static_cast<uint32_t>(i))) kept.push_back(rules[i]);
    const std::string without = render(kept);
    Ruleset rw = testsupport::parseRules(without);
    for (Hook h : {Hook::LocalIn, Hook::Forward, Hook::LocalOut}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + "\n" + text + "without the redundant and shadowed rules:\n" + without);
      for (const auto& w : probes(r, h, true)) {
        auto ra = verifier::replay(rs, 0, h, w), rb = verifier::replay(rw, 0, h, w);
        ASSERT_TRUE(ra.ok && rb.ok);
        EXPECT_EQ(ra.label, rb.label) << w.describe() << " is decided otherwise without the redundant and shadowed rules";
      }
    }
  }
  EXPECT_GT(reported, 60u);  // enough findings for the test to mean something
}

TEST(VerifierOverlapRandom, DefiniteOverlapWitnessesReplay) {
  size_t definite = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Rng r(seed);
    const std::string text = render(randomRules(r, true));
    Ruleset rs = testsupport::parseRules(text);
    verifier::CheckOptions o;
    o.analyses = {"conflict", "generalization"};
    for (const auto& f : verifier::checkRuleset(rs, o).findings) {
      if ((f.name != "conflict" && f.name != "generalization") || !f.definite) continue;
      ++definite;
      ASSERT_TRUE(f.witness) << f.name << " line " << f.rule.loc.line;
      EXPECT_TRUE(f.replayed) << "seed " << seed << ": " << f.name << " line " << f.rule.loc.line << " witness "
                              << f.witness->describe() << "\n" << text;
    }
  }
  EXPECT_GT(definite, 100u);
}

}  // namespace
}  // namespace nfjit
