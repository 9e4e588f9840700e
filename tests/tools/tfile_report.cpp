// Prints every .t line result: `tfile_report SHARED/iptables-tests/*.t`.
// With --failing, only the lines that fail (for working on extensions).
#include <cstring>
#include <iostream>

#include "tests/support/TFile.h"

int main(int argc, char** argv) {
  bool failingOnly = false;
  size_t total = 0, passed = 0;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--failing") == 0) failingOnly = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--failing") == 0) continue;
    for (auto f : nfjit::testing::familiesForTFile(argv[i])) {
      for (const auto& r : nfjit::testing::runTFile(argv[i], f)) {
        ++total;
        passed += r.passed;
        if (r.passed && failingOnly) continue;
        std::cout << (r.passed ? "PASS " : "FAIL ") << r.file << ":" << r.line << ":"
                  << (f == nfjit::Family::IPv4 ? 4 : 6) << " [" << r.expectResult << "] " << r.rule << "\n";
        if (!r.passed) std::cout << "    expected: " << r.expected << "\n    got:      " << r.got << "\n";
      }
    }
  }
  std::cout << passed << " of " << total << " lines pass\n";
  return passed == total ? 0 : 1;
}
