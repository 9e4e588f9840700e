// iptables' extension test files (../shared/iptables-tests/*.t) as a
// table-driven test: OK lines parse and print back in their saved form,
// FAIL lines are rejected. Lines nfjit does not pass yet are listed, with the
// reason, in tests/iptables_t/known_failures.txt; the test fails if a line
// outside that list fails, or if a listed line starts passing (so the list
// only shrinks).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "tests/support/TFile.h"

namespace fs = std::filesystem;
using nfjit::Family;
using nfjit::testing::TLineResult;

namespace {

std::string key(const TLineResult& r) {
  return r.file + ":" + std::to_string(r.line) + (r.family == Family::IPv4 ? ":4" : ":6");
}

std::set<std::string> knownFailures() {
  std::set<std::string> s;
  std::ifstream in(std::string(NFJIT_SOURCE_DIR) + "/tests/iptables_t/known_failures.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    s.insert(line.substr(0, line.find(' ')));
  }
  return s;
}

std::vector<std::string> tFiles() {
  std::vector<std::string> files;
  fs::path dir = fs::path(NFJIT_SHARED_DIR) / "iptables-tests";
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".t" && !nfjit::testing::familiesForTFile(e.path().string()).empty())
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

class TFileTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TFileTest, LinesBehaveAsIptables) {
  static const auto known = knownFailures();
  for (Family f : nfjit::testing::familiesForTFile(GetParam())) {
    for (const auto& r : nfjit::testing::runTFile(GetParam(), f)) {
      bool listed = known.count(key(r)) > 0;
      if (!r.passed && !listed) {
        ADD_FAILURE() << key(r) << " [" << r.expectResult << "] " << r.rule << "\n  expected: " << r.expected
                      << "\n  got:      " << r.got;
      } else if (r.passed && listed) {
        ADD_FAILURE() << key(r) << " passes now: remove it from tests/iptables_t/known_failures.txt";
      }
    }
  }
}

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = fs::path(info.param).stem().string();
  for (auto& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(IptablesTests, TFileTest, ::testing::ValuesIn(tFiles()), testName);

TEST(IptablesTests, PassRate) {
  ASSERT_FALSE(tFiles().empty()) << "no .t files under " << NFJIT_SHARED_DIR;
  size_t total = 0, passed = 0;
  for (const auto& file : tFiles())
    for (Family f : nfjit::testing::familiesForTFile(file))
      for (const auto& r : nfjit::testing::runTFile(file, f)) {
        ++total;
        passed += r.passed;
      }
  std::cout << "iptables .t lines (per family): " << passed << " of " << total << " pass ("
            << (total ? 100.0 * double(passed) / double(total) : 0.0) << "%)\n";
  EXPECT_GT(total, 1000u);
}

}  // namespace
