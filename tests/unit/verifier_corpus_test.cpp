// check, diff and query on every corpus file nfjit accepts (MANIFEST.tsv
// "accepts"): each runs to the end, every definite finding's witness
// replays as claimed, a file diffed against itself is equivalent, a file
// diffed against itself minus one rule gives only differences whose witness
// the interpreter confirms, and a query answers with a replayed witness or
// a proof of none. The same for whole paths (diff --paths, query --path).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend/RestoreParser.h"
#include "tests/support/CorpusManifest.h"
#include "tests/support/VerifierFixtures.h"
#include "verifier/PathModel.h"
#include "verifier/Verifier.h"

namespace nfjit {
namespace {

namespace fs = std::filesystem;

using testing::ManifestRow;

std::vector<ManifestRow> acceptedFiles() {
  std::vector<ManifestRow> out;
  for (auto& row : testing::readCorpusManifest(fs::path(NFJIT_SHARED_DIR) / "corpus"))
    if (row.kernelAccepts) out.push_back(std::move(row));
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Ruleset load(const std::string& text, Family f, const std::string&) { return testsupport::parseRules(text, f); }

// The filter chain with the most rules: removing its first rule is the most
// likely change to matter.
std::pair<size_t, size_t> busiestFilterChain(const Ruleset& rs) {
  std::pair<size_t, size_t> best{SIZE_MAX, 0};
  size_t most = 0;
  for (size_t t = 0; t < rs.tables.size(); ++t) {
    if (rs.tables[t].name != "filter") continue;
    for (size_t c = 0; c < rs.tables[t].chains.size(); ++c)
      if (rs.tables[t].chains[c].rules.size() > most) {
        most = rs.tables[t].chains[c].rules.size();
        best = {t, c};
      }
  }
  return best;
}

class VerifierOnCorpus : public ::testing::TestWithParam<ManifestRow> {};

TEST_P(VerifierOnCorpus, CheckDiffAndQuery) {
  const ManifestRow& e = GetParam();
  const fs::path path = fs::path(NFJIT_SHARED_DIR) / "corpus" / e.file;
  const std::string text = slurp(path);
  Ruleset rs = load(text, e.family, e.file);
  if (::testing::Test::HasFailure()) return;

  // check: every definite witness went through the interpreter as claimed.
  verifier::CheckResult r = verifier::checkRuleset(rs);
  for (const auto& f : r.findings) {
    if (f.definite && f.dependsOn.empty() && f.witness) {
      EXPECT_TRUE(f.replayed) << f.name << " at line " << f.rule.loc.line << ": " << f.message;
    }
  }

  // diff against an identical copy: equivalent everywhere, definitely.
  Ruleset same = load(text, e.family, e.file);
  for (const auto& cd : verifier::diffRulesets(rs, same)) {
    EXPECT_TRUE(cd.equivalent) << cd.chain;
    EXPECT_TRUE(cd.differences.empty()) << cd.chain;
  }

  // diff against the file minus one rule: what differs must differ in the interpreter too.
  auto [ti, ci] = busiestFilterChain(rs);
  if (ti != SIZE_MAX) {
    Ruleset fewer = load(text, e.family, e.file);
    auto& rules = fewer.tables[ti].chains[ci].rules;
    rules.erase(rules.begin());
    for (const auto& cd : verifier::diffRulesets(rs, fewer))
      for (const auto& d : cd.differences) {
        if (!d.definite) continue;
        EXPECT_TRUE(d.replayed) << cd.chain << ": " << d.witness.describe();
        EXPECT_NE(d.oldReplay, d.newReplay) << cd.chain << ": " << d.witness.describe();
      }
  }

  // Whole paths: the identical copy is equivalent on every path; against the
  // file minus one rule, a difference either replays through the reference
  // pipeline with two different fates or says why it cannot.
  for (const auto& pd : verifier::diffPaths(rs, same, std::nullopt)) {
    EXPECT_TRUE(pd.equivalent) << verifier::pathKindName(pd.kind);
    EXPECT_FALSE(pd.difference.has_value()) << verifier::pathKindName(pd.kind);
  }
  if (ti != SIZE_MAX) {
    Ruleset fewer = load(text, e.family, e.file);
    auto& rules = fewer.tables[ti].chains[ci].rules;
    rules.erase(rules.begin());
    for (const auto& pd : verifier::diffPaths(rs, fewer, std::nullopt)) {
      if (!pd.difference) continue;
      const auto& d = *pd.difference;
      EXPECT_NE(d.oldFate.fate + d.oldFate.chain, d.newFate.fate + d.newFate.chain) << verifier::pathKindName(pd.kind);
      if (d.replayed) {
        EXPECT_NE(d.oldReplay, d.newReplay) << verifier::pathKindName(pd.kind) << ": " << d.witness.describe() << " old "
                                            << verifier::pathFateText(d.oldFate) << " new " << verifier::pathFateText(d.newFate);
      } else {
        EXPECT_FALSE(d.replayNote.empty()) << verifier::pathKindName(pd.kind) << ": " << d.witness.describe();
      }
    }
  }
  // A packet delivered locally along the whole input path, or a proof of none.
  {
    Ruleset tcp = load("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp\nCOMMIT\n", e.family, "--where");
    auto q = verifier::queryPath(rs, verifier::PathKind::Input, tcp.tables[0].chains[0].rules[0], "deliver", std::nullopt);
    if (q.found) {
      ASSERT_TRUE(q.witness.has_value());
      ASSERT_TRUE(q.fate.has_value());
      EXPECT_EQ(q.fate->fate, "deliver");
      if (q.definite && !q.replayed) {
        EXPECT_FALSE(q.replayNote.empty()) << q.witness->describe();
      }
    }
  }

  // query: a TCP packet INPUT accepts, or a proof that there is none.
  Ruleset where = load("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp\nCOMMIT\n", e.family, "--where");
  bool hasInput = false;
  for (const auto& t : rs.tables)
    if (t.name == "filter" && t.findChain("INPUT")) hasInput = true;
  if (hasInput) {
    verifier::QueryResult q = verifier::queryRuleset(rs, "filter", "INPUT", where.tables[0].chains[0].rules[0], "ACCEPT");
    if (q.found && q.definite) {
      ASSERT_TRUE(q.witness.has_value());
      EXPECT_TRUE(q.replayed) << q.witness->describe();
    }
  }
}

std::string testName(const ::testing::TestParamInfo<ManifestRow>& info) {
  std::string n;
  for (char c : info.param.file) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Accepted, VerifierOnCorpus, ::testing::ValuesIn(acceptedFiles()), testName);

}  // namespace
}  // namespace nfjit
