// Concrete packets from solver models, and their replay through the
// reference interpreter: a finding is only as good as its witness.
#pragma once
#include <z3++.h>

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/interp/Interpreter.h"
#include "verifier/Lowering.h"

namespace nfjit::verifier {

struct Witness {
  Family family = Family::IPv4;
  IpAddr src, dst;
  uint8_t proto = 0, icmpType = 0, icmpCode = 0, tcpFlags = 0, ttl = 64, tos = 0, pktType = 0;
  uint16_t sport = 0, dport = 0, length = 0;
  uint32_t mark = 0;
  uint8_t ctstate = 0;  // CtStateBit set, NAT bits included
  bool fragment = false;
  std::string inIface, outIface;
  std::vector<uint8_t> bytes;  // from the IP header on
  std::string describe() const;
  // Permissive mode: what each unparsed match was assumed to do for this
  // packet (ChainModel::assumeUnparsed); replay evaluates them so, and any
  // not listed as false.
  std::vector<std::pair<const MatchExt*, bool>> assumed;
};

Witness witnessFromModel(const z3::model& m, const SymPacket& pkt);
// The value the model gives a bit-vector of up to 128 bits (0 where it gives none).
u128 modelValue(const z3::model& m, const z3::expr& e);
// Fills the bytes from the fields.
void buildBytes(Witness& w);

// The packet as the interpreter sees it at `hook`; `bytes` must outlive it.
bool toPacketView(const Witness& w, std::vector<uint8_t>& bytes, PacketView& pv);

struct Replay {
  bool ok = false;  // the packet could be built and parsed
  TraversalResult result;
  std::string verdict;  // ACCEPT, DROP, QUEUE, STOLEN
  // What decided, named as the models name it: the deciding target's label
  // when it has this verdict (REJECT, DNAT...), else `verdict` (policies).
  // DROP and REJECT are one kernel verdict but not one behaviour.
  std::string label;
};
Replay replay(const Ruleset& rs, size_t table, Hook hook, const Witness& w);
// Each witness is replayed as the first packet the rules see: rate limits,
// quotas and recent lists as freshly loaded (MatchExt::resetState).
void resetStatefulMatches(const Table& t);
void resetStatefulMatches(const Ruleset& rs);
// Does the rule's own condition hold for the packet (ignoring the path)?
bool ruleMatchesAlone(const Ruleset& rs, const Rule& rule, std::string_view table, Hook hook, const Witness& w);

}  // namespace nfjit::verifier
