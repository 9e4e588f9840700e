// Fuzzes the rules-file front end: any input must give a ruleset or
// diagnostics, never a crash or a hang; an accepted ruleset must print, and
// its printed form must parse again and print identically.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  for (nfjit::Family f : {nfjit::Family::IPv4, nfjit::Family::IPv6}) {
    nfjit::DiagnosticEngine diags("fuzz");
    nfjit::ParseOptions po;
    po.family = f;
    nfjit::Ruleset rs = nfjit::parseRestore(text, po, diags);
    if (diags.hasErrors()) continue;
    std::string printed = nfjit::printRuleset(rs);
    nfjit::DiagnosticEngine again("fuzz-reparse");
    nfjit::Ruleset rs2 = nfjit::parseRestore(printed, po, again);
    if (again.hasErrors()) {
      std::cerr << "printed ruleset does not parse:\n" << printed;
      again.print(std::cerr);
      std::abort();
    }
    if (nfjit::printRuleset(rs2) != printed) {
      std::cerr << "printing is not idempotent:\n" << printed << "---\n" << nfjit::printRuleset(rs2);
      std::abort();
    }
  }
  return 0;
}
