// The host that `nfjit replay` simulates (nfjit::HostModel, runtime/pipeline/)
// as constraints on the symbolic packet at each hook, so that a witness
// found under them takes the same path when its pcap is replayed with the
// same --in-iface / --out-iface / --local / --route options.
#pragma once
#include <z3++.h>

#include <array>
#include <vector>

#include "runtime/pipeline/HookPipeline.h"
#include "verifier/Checks.h"
#include "verifier/Lowering.h"

namespace nfjit::verifier {

// Rules that only name the host's interfaces: pass them to
// IfaceUniverse::build so those names get an index of their own.
std::vector<Rule> hostIfaceRules(const HostModel& host);

// What replay guarantees about a packet seen at `hook`: PREROUTING, INPUT
// and FORWARD packets arrive on in-iface; INPUT ones are addressed to a
// local (or multicast) address from a non-martian source; FORWARD and
// POSTROUTING ones are forwarded (not local, routed to their out
// interface, with a TTL that survived the decrement); OUTPUT ones come from
// a local address and leave by their route.
z3::expr hostConstraint(const SymPacket& pkt, const HostModel& host, Hook hook);

// What HookPipeline requires of every received packet whatever the host:
// a non-martian source; on the forward path also a unicast destination, a
// frame for this host and a TTL that survived the decrement (pkt.ttl is the
// decremented one). Used by the whole-path model without a host model.
z3::expr receivedConstraint(const SymPacket& pkt, bool forward);

// What a readable witness prefers within hostConstraint: INPUT packets to
// one of the --local addresses rather than to a multicast group.
z3::expr hostPreference(const SymPacket& pkt, const HostModel& host, Hook hook);

// hostConstraint at every hook, indexed by Hook (ConcreteSearch::setHostConstraints).
std::array<z3::expr, 5> hostConstraintsByHook(const SymPacket& pkt, const HostModel& host);

// Asserts hostConstraint under each hook literal of the solver.
void addHostConstraints(HookSolver& hs, const SymPacket& pkt, const HostModel& host);

// The packet as it arrives on the wire, for a pcap: on the forward path the
// hook saw the TTL already decremented.
Witness arrivalForm(const Witness& w, Hook hook);

}  // namespace nfjit::verifier
