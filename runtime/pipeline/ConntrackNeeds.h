// Which parts of a ruleset need connection tracking. Until the conntrack
// runtime exists, replay refuses them rather than give them a made-up state.
#pragma once
#include <optional>
#include <string>

#include "compiler/ir/Ruleset.h"

namespace nfjit {

struct ConntrackUse {
  SourceLoc loc;
  std::string what;  // "match `conntrack'", "table `nat'"...
};

std::optional<ConntrackUse> firstConntrackUse(const Ruleset& rs);

}  // namespace nfjit
