// The kernel as judge: random rulesets and boundary packets go through the
// real netfilter (three namespaces, DESIGN.md's topology) and through nfjit's
// pipeline; per-rule packet and byte counters and the forwarded packets must
// be identical. A mismatch is reduced to one packet and printed with its
// ruleset and seed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>
#include <memory>
#include <sstream>

#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"
#include "runtime/pipeline/HookPipeline.h"
#include "compiler/jit/Jit.h"
#include "runtime/pipeline/ConntrackNeeds.h"
#include "tests/support/CorpusManifest.h"
#include "tests/support/RandomRuleset.h"
#include "tests/support/RulesetPackets.h"
#include "tests/support/Topology.h"

namespace nfjit::testing {
namespace {

unsigned caseCount() {
  if (const char* e = std::getenv("NFJIT_ORACLE_CASES")) return unsigned(std::strtoul(e, nullptr, 10));
  return 150;
}

HostModel oracleHost(Family f) { return topologyHost(f); }

struct ModelRun {
  Ruleset counted;                             // the ruleset with nfjit's counters
  std::vector<std::vector<uint8_t>> toSink;    // IP packets leaving by out0
  std::string traces;
};

enum class Engine { Interp, Jit };

ModelRun runModel(Family f, const std::string& rules, const std::vector<std::vector<uint8_t>>& packets, Engine engine) {
  DiagnosticEngine d("oracle");
  ParseOptions po;
  po.family = f;
  ModelRun mr;
  Ruleset rs = parseRestore(rules, po, d);
  std::unique_ptr<Classifier> classifier;
  if (engine == Engine::Jit) classifier = std::make_unique<jit::JitClassifier>(rs);
  HookPipeline pipe(rs, oracleHost(f), std::move(classifier));
  std::ostringstream tr;
  for (const auto& p : packets) {
    auto copy = p;
    auto r = pipe.process(copy.data(), uint32_t(copy.size()), PktType::Host, {}, true, 0, 0);
    tr << fateName(r.fate) << (r.reason.empty() ? "" : "(" + r.reason + ")");
    for (const auto& s : r.steps) tr << " " << s.table << "/" << hookChainName(s.hook);
    for (const auto& e : r.emitted) {
      tr << " emit:" << e.iface << ":" << e.l3.size();
      if (e.iface == "out0") mr.toSink.push_back(e.l3);
    }
    tr << "\n";
  }
  mr.traces = tr.str();
  mr.counted = parseRestore(rules, po, d);
  pipe.classifier().counters().applyTo(mr.counted);
  return mr;
}

// Compares counters rule by rule; returns a description of the differences.
std::string counterDiff(const Ruleset& kernel, const Ruleset& model) {
  std::ostringstream out;
  for (const auto& kt : kernel.tables) {
    const Table* mt = model.findTable(kt.name);
    if (!mt) {
      // A table an earlier case loaded: harmless while empty and accepting.
      for (const auto& kc : kt.chains)
        if (!kc.rules.empty() || kc.policy == Policy::Drop)
          out << kt.name << "/" << kc.name << ": left over in the kernel with rules or a DROP policy\n";
      continue;
    }
    for (const auto& kc : kt.chains) {
      const Chain* mc = mt ? mt->findChain(kc.name) : nullptr;
      if (!mc) {
        if (kc.counters.packets || !kc.rules.empty()) out << kt.name << "/" << kc.name << ": missing in nfjit\n";
        continue;
      }
      if (kc.builtin && !(kc.counters == mc->counters))
        out << kt.name << " :" << kc.name << " policy kernel [" << kc.counters.packets << ":" << kc.counters.bytes
            << "] nfjit [" << mc->counters.packets << ":" << mc->counters.bytes << "]\n";
      for (size_t i = 0; i < kc.rules.size() && i < mc->rules.size(); ++i) {
        Counters k = kc.rules[i].counters.value_or(Counters{}), m = mc->rules[i].counters.value_or(Counters{});
        if (!(k == m))
          out << "  kernel [" << k.packets << ":" << k.bytes << "] nfjit [" << m.packets << ":" << m.bytes << "] "
              << printRule(mc->rules[i], mc->name, model.family) << "  (" << kt.name << ")\n";
      }
      if (kc.rules.size() != mc->rules.size()) out << kt.name << "/" << kc.name << ": rule count differs\n";
    }
  }
  return out.str();
}

std::string hex(const std::vector<uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

struct Verdict {
  std::string diff;  // empty = equal
};

Verdict compareOnce(Topology& topo, const std::string& rules, const std::vector<std::vector<uint8_t>>& packets,
                    Engine engine = Engine::Jit) {
  Verdict v;
  auto rr = topo.load(rules);
  if (!rr.ok) {
    v.diff = "kernel rejected a ruleset nfjit accepts: " + rr.firstError;
    return v;
  }
  auto sunk = topo.send(packets);
  std::string save = topo.saveCounters();
  DiagnosticEngine d("kernel-save");
  ParseOptions po;
  po.family = topo.family();
  Ruleset kernel = parseRestore(save, po, d);
  if (d.hasErrors()) {
    v.diff = "nfjit cannot parse the kernel's save output: " + d.format(d.diagnostics().front()) + "\n" + save;
    return v;
  }
  ModelRun m = runModel(topo.family(), rules, packets, engine);
  std::string diff = counterDiff(kernel, m.counted);
  // Forwarded packets must be byte-identical; the host's own packets carry
  // kernel-chosen IP IDs, so those compare by length.
  std::vector<std::vector<uint8_t>> kFwd, mFwd;
  size_t kOther = 0, mOther = 0;
  auto isForwarded = [&](const std::vector<uint8_t>& p) {
    for (const auto& q : packets) {
      if (q.size() != p.size() || q.size() < 20) continue;
      size_t ttlAt = topo.family() == Family::IPv4 ? 8 : 7;
      bool same = true;
      for (size_t i = 0; i < q.size() && same; ++i)
        if (i != ttlAt && !(topo.family() == Family::IPv4 && (i == 10 || i == 11))) same = q[i] == p[i];
      if (same) return true;
    }
    return false;
  };
  for (const auto& p : sunk) (isForwarded(p) ? kFwd.push_back(p) : void(++kOther));
  for (const auto& p : m.toSink) (isForwarded(p) ? mFwd.push_back(p) : void(++mOther));
  if (kFwd != mFwd) {
    diff += "forwarded packets at sink differ: kernel " + std::to_string(kFwd.size()) + ", nfjit " +
            std::to_string(mFwd.size()) + "\n";
    for (const auto& p : kFwd) diff += "  kernel: " + hex(p) + "\n";
    for (const auto& p : mFwd) diff += "  nfjit:  " + hex(p) + "\n";
  }
  if (kOther != mOther)
    diff += "host-generated packets at sink: kernel " + std::to_string(kOther) + ", nfjit " + std::to_string(mOther) + "\n";
  if (!diff.empty()) diff += "nfjit's path per packet:\n" + m.traces;
  v.diff = diff;
  return v;
}

class OracleTest : public ::testing::TestWithParam<std::tuple<Family, Engine>> {
 protected:
  void SetUp() override {
    if (auto why = netnsSkipReason()) GTEST_SKIP() << *why;
  }
};

Topology& sharedTopology(Family f);

TEST_P(OracleTest, RandomRulesetsMatchKernelCounters) {
  const Family f = std::get<0>(GetParam());
  const Engine engine = std::get<1>(GetParam());
  Topology& topo = sharedTopology(f);
  unsigned failures = 0;
  const unsigned n = caseCount();
  for (unsigned i = 0; i < n && failures < 3; ++i) {
    uint64_t seed = 1000 + i + (f == Family::IPv6 ? 500000 : 0);
    GeneratedCase gc = generateCase(f, seed);
    DiagnosticEngine d("generated");
    ParseOptions po;
    po.family = f;
    parseRestore(gc.rules, po, d);
    if (d.hasErrors()) {
      ADD_FAILURE() << "seed " << seed << ": nfjit rejects a generated ruleset: " << d.format(d.diagnostics().front())
                    << "\n" << gc.rules;
      ++failures;
      continue;
    }
    Verdict v = compareOnce(topo, gc.rules, gc.packets, engine);
    if (v.diff.empty()) continue;
    ++failures;
    // Reduce to the single packet that shows the difference.
    std::string reproducer;
    for (const auto& p : gc.packets) {
      Verdict one = compareOnce(topo, gc.rules, {p}, engine);
      if (!one.diff.empty()) {
        reproducer = "packet " + hex(p) + "\n" + one.diff;
        break;
      }
    }
    ADD_FAILURE() << (f == Family::IPv4 ? "IPv4" : "IPv6") << " seed " << seed << " differs from the kernel\n"
                  << (reproducer.empty() ? v.diff : reproducer) << "ruleset:\n" << gc.rules;
  }
}

// Corpus files the kernel accepts whose connection tracking, if any, the
// pipeline models (firstUnmodelledConntrackUse: states, tuples, accounting, NOTRACK; no nat
// table yet), with packets aimed at their own rules.
struct CorpusCase {
  std::string path;
  Family family;
};

std::vector<CorpusCase> modelledCorpus() {
  std::vector<CorpusCase> out;
  for (const ManifestRow& row : readCorpusManifest(std::string(NFJIT_SHARED_DIR) + "/corpus")) {
    if (!row.kernelAccepts) continue;
    Family f = row.family;
    std::string path = std::string(NFJIT_SHARED_DIR) + "/corpus/" + row.file;
    DiagnosticEngine d(path);
    auto text = readInputFile(path, d);
    if (!text) continue;
    ParseOptions po;
    po.family = f;
    Ruleset rs = parseRestore(*text, po, d);
    if (d.hasErrors() || firstUnmodelledConntrackUse(rs)) continue;
    out.push_back({path, f});
  }
  return out;
}

Topology& sharedTopology(Family f) {
  static std::map<Family, std::unique_ptr<Topology>> topos;
  auto& t = topos[f];
  if (!t) t = std::make_unique<Topology>(f);
  return *t;
}

class OracleCorpusTest : public ::testing::TestWithParam<CorpusCase> {
 protected:
  void SetUp() override {
    if (auto why = netnsSkipReason()) GTEST_SKIP() << *why;
  }
};

TEST_P(OracleCorpusTest, CountersMatchKernel) {
  const auto& cc = GetParam();
  DiagnosticEngine d(cc.path);
  std::string text = *readInputFile(cc.path, d);
  ParseOptions po;
  po.family = cc.family;
  Ruleset rs = parseRestore(text, po, d);
  ASSERT_FALSE(d.hasErrors());
  // Counters in the file would be loaded too; the comparison starts from zero.
  PrintOptions pr;
  pr.ruleCounters = false;
  for (auto& t : rs.tables)
    for (auto& c : t.chains) c.counters = {};
  std::string rules = printRuleset(rs, pr);
  auto packets = packetsForRuleset(rs, oracleHost(cc.family).localAddrs, 77, 60);
  Topology& topo = sharedTopology(cc.family);
  Verdict v = compareOnce(topo, rules, packets);
  if (v.diff.empty()) return;
  std::string reproducer;
  for (const auto& p : packets) {
    Verdict one = compareOnce(topo, rules, {p});
    if (!one.diff.empty()) {
      reproducer = "packet " + hex(p) + "\n" + one.diff;
      break;
    }
  }
  ADD_FAILURE() << cc.path << " differs from the kernel\n" << (reproducer.empty() ? v.diff : reproducer);
}

INSTANTIATE_TEST_SUITE_P(Corpus, OracleCorpusTest, ::testing::ValuesIn(modelledCorpus()),
                         [](const auto& info) {
                           std::string n = std::filesystem::path(info.param.path).parent_path().filename().string() +
                                           "_" + std::filesystem::path(info.param.path).filename().string();
                           for (auto& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

INSTANTIATE_TEST_SUITE_P(Kernel, OracleTest,
                         ::testing::Combine(::testing::Values(Family::IPv4, Family::IPv6),
                                            ::testing::Values(Engine::Interp, Engine::Jit)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == Family::IPv4 ? "IPv4" : "IPv6") +
                                  (std::get<1>(info.param) == Engine::Jit ? "_jit" : "_interp");
                         });

}  // namespace
}  // namespace nfjit::testing
