// Packets aimed at the rules of a given ruleset (for corpus files in the
// kernel oracle): addresses inside and just outside each rule's prefixes,
// ports at the ends of its ranges, every protocol it names.
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/ir/Ruleset.h"

namespace nfjit::testing {

// `localAddrs` are the firewall's own addresses; sources never use them or
// addresses the kernel discards before the first hook.
std::vector<std::vector<uint8_t>> packetsForRuleset(const Ruleset& rs, const std::vector<IpAddr>& localAddrs,
                                                    uint64_t seed, unsigned count);

}  // namespace nfjit::testing
