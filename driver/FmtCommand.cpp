// nfjit fmt: parse into the IR and print back canonically.
#include <iostream>

#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"
#include "driver/Commands.h"

namespace nfjit::driver {

int runFmt(const FmtOptions& o) {
  DiagnosticEngine diags(o.file == "-" ? "<stdin>" : o.file);
  auto text = readInputFile(o.file, diags);
  if (!text) {
    diags.print(std::cerr);
    return 2;
  }
  ParseOptions po;
  po.family = o.ipv6 ? Family::IPv6 : Family::IPv4;
  Ruleset rs = parseRestore(*text, po, diags);
  diags.print(std::cerr);
  if (diags.hasErrors()) return 2;
  PrintOptions pr;
  pr.ruleCounters = !o.noCounters;
  std::cout << printRuleset(rs, pr);
  return 0;
}

}  // namespace nfjit::driver
