// Which uses of connection tracking in a ruleset the reference pipeline does
// not model yet (replay refuses those rather than give them a made-up
// state).
#pragma once
#include <optional>
#include <string>

#include "compiler/ir/Ruleset.h"

namespace nfjit {

struct ConntrackUse {
  SourceLoc loc;
  std::string what;  // "match `conntrack'", "table `nat'"...
};

// The first use HookPipeline does not model. Modelled, and compared with the
// kernel (tests/unit/pipeline_conntrack_oracle_test.cpp and the corpus
// oracle): -m state, -m conntrack with --ctstate/--ctstatus/--ctdir/--ctproto
// and the tuple options (--ctorigsrc ... --ctrepldstport; not --ctexpire),
// -m connbytes, -m connmark, CONNMARK, NOTRACK and CT --notrack. Not yet:
// the nat table (the pipeline's NAT is compared with the kernel on single
// connections, but disagreed on corpus rulesets).
std::optional<ConntrackUse> firstUnmodelledConntrackUse(const Ruleset& rs);

}  // namespace nfjit
