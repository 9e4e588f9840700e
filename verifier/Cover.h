// check --cover-pcap: per reachable rule (every table and chain), a packet
// that reaches and matches it under the host model, as it arrives on the
// wire, so `nfjit replay` with the same host options counts every rule the
// cover claims.
#pragma once
#include <ostream>
#include <vector>

#include "verifier/Verifier.h"

namespace nfjit::verifier {

struct CoverEntry {
  RuleRefV rule;
  bool reachable = false;  // some packet reaches and matches it (under the host model)
  bool covered = false;    // the cover packets, replayed through the pipeline, count it
  std::string why;         // when reachable but not covered
};

struct CoverResult {
  std::vector<CoverEntry> rules;  // every rule of the ruleset, in file order
  std::vector<Witness> packets;   // arrival form, in the order to replay them
  size_t reachable = 0, covered = 0;
};

// Throws on models too large to build (like checkRuleset).
CoverResult coverRuleset(const Ruleset& rs, const HostModel& host);

void printCover(std::ostream& os, const std::string& file, const CoverResult& c);

}  // namespace nfjit::verifier
