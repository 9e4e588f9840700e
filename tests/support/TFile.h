// Runs iptables' own extension test files (`rule;saved;OK|FAIL`) against
// nfjit's parser and printer, the way iptables-test.py runs them against
// iptables: each rule is appended to each listed chain of the table.
#pragma once
#include <string>
#include <vector>

#include "compiler/ir/Types.h"

namespace nfjit::testing {

struct TLineResult {
  std::string file;
  int line = 0;
  Family family = Family::IPv4;
  std::string chain;
  std::string rule;
  std::string expected;  // expected saved rule ("" for FAIL)
  std::string expectResult;  // OK / FAIL / NOMATCH
  bool passed = false;
  std::string got;  // printed rule or the diagnostic
};

// Families a .t file is run for, from its name (libxt_ both, libipt_ v4,
// libip6t_ v6, iptables.t v4); empty for ebtables/arptables files.
std::vector<Family> familiesForTFile(const std::string& filename);
// Runs every test line of one file for one family. One result per test
// line (a line passes only if it passes in every chain).
std::vector<TLineResult> runTFile(const std::string& path, Family family);

}  // namespace nfjit::testing
