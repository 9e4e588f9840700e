// Fixtures the verifier tests share: rulesets from strings, a filter table
// around a rule body, findings by name and line, the nfjit binary.
// Header-only because it uses gtest's EXPECT, which the support library
// (also linked into tools) does not link.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "compiler/frontend/RestoreParser.h"
#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/RulesetFixture.h"
#include "verifier/HostModel.h"
#include "verifier/Report.h"
#include "verifier/PathModel.h"
#include "verifier/Verifier.h"

namespace nfjit::testsupport {

// Lines: *filter 1, :INPUT 2, :FORWARD 3, :OUTPUT 4, then extraChains'
// declarations, then the body.
struct FilterTable {
  std::string input = "DROP", forward = "ACCEPT", output = "ACCEPT";
  std::string extraChains;
};
inline std::string filterTable(const std::string& body, const FilterTable& t = {}) {
  return "*filter\n:INPUT " + t.input + " [0:0]\n:FORWARD " + t.forward + " [0:0]\n:OUTPUT " + t.output +
         " [0:0]\n" + t.extraChains + body + "COMMIT\n";
}

// The answer for one path kind of a diffPaths result (null when it has none).
inline const verifier::PathDiff* findPath(const std::vector<verifier::PathDiff>& ds, verifier::PathKind k) {
  for (const auto& d : ds)
    if (d.kind == k) return &d;
  return nullptr;
}

inline std::string dumpFindings(const verifier::CheckResult& r) {
  std::ostringstream os;
  verifier::printFindings(os, "test", r);
  return os.str();
}

inline const verifier::Finding* findFinding(const verifier::CheckResult& r, const std::string& name, uint32_t line) {
  for (const auto& f : r.findings)
    if (f.name == name && f.rule.loc.line == line) return &f;
  return nullptr;
}

#ifdef NFJIT_BINARY
// The nfjit command line's exit code (output discarded).
inline int runNfjit(const std::string& args) {
  std::string cmd = std::string(NFJIT_BINARY) + " " + args + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
#endif

// A host with arrivals on eth0, the default route on eth1 and these local addresses.
inline HostModel hostOnEth0(std::vector<const char*> locals) {
  HostModel h;
  h.inIface = "eth0";
  h.outIface = "eth1";
  for (const char* a : locals) h.localAddrs.push_back(*parseIpAddr(Family::IPv4, a));
  return h;
}

// The witness, as it arrives, through the pipeline `nfjit replay` runs.
inline PipelineResult runPipeline(const Ruleset& rs, const HostModel& h, const verifier::Witness& w, Hook hook) {
  HookPipeline pipe(rs, h);
  verifier::Witness a = verifier::arrivalForm(w, hook);
  return pipe.process(a.bytes.data(), static_cast<uint32_t>(a.bytes.size()), PktType::Host, {}, false, 1000000, 0);
}

}  // namespace nfjit::testsupport
