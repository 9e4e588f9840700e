// Rules as Z3 formulas over one symbolic packet. The IP header part is
// lowered here; extension matches lower themselves through the abstract
// nfjit::LoweringContext (compiler/ir/Lowering.h), implemented here with Z3.
// A match that cannot lower itself becomes a fresh Boolean: "unknown",
// which the analyses treat three-valued.
#pragma once
#include <z3++.h>

#include <string>
#include <vector>

#include "compiler/ir/Lowering.h"
#include "compiler/ir/Ruleset.h"
#include "verifier/Box.h"

namespace nfjit::verifier {

// Interfaces are an index into the names the rulesets mention, plus one
// representative name for each '+' wildcard and one that matches nothing.
// Index 0 is "" (no interface: INPUT has no output interface).
struct IfaceUniverse {
  std::vector<std::string> names;
  unsigned bits = 1;
  void build(const std::vector<const Ruleset*>& rulesets, const std::vector<const Rule*>& extra = {});
};

// The universe of one ruleset plus extra rules (the host model's interfaces).
IfaceUniverse ifaceUniverse(const Ruleset& rs, const std::vector<Rule>& extra = {});

struct SymPacket {
  explicit SymPacket(z3::context& c, Family f, const IfaceUniverse& ifs);
  Family family;
  z3::expr src, dst, proto, sport, dport, icmpType, icmpCode, tcpFlags, ttl, length, tos, mark, ctstate,
      pktType, frag, inIf, outIf;
  const IfaceUniverse& ifaces;
  const z3::expr& field(Field f) const;
  unsigned width(Field f) const;
  // What every real packet satisfies at a hook (valid conntrack state,
  // interfaces present or absent, room for the headers).
  z3::expr wellFormed(Hook hook) const;
};

// One matched-on unknown: the extension and where it is written.
struct UnknownMatch {
  z3::expr var;
  std::string what;  // "limit at line 12"
  uint32_t line = 0;
  // Stateful (limit, recent, quota...): may hold for any packet at some
  // moment, so "possibly" findings assume it does. Unknown packet
  // attributes (mac, u32...) are left free instead.
  bool stateful = false;
  // The match itself (permissive mode: an UnparsedMatch the witness replay
  // evaluates as the model chose).
  const MatchExt* ext = nullptr;
};

struct LoweredRule {
  z3::expr cond;  // the rule's matches all hold (over the packet's mark on entry: pkt.mark)
  Box box;
  std::vector<UnknownMatch> unknowns;
  uint32_t fieldsUsed = 0;  // bit per Field
  // cond holds exactly for the packets in `box` (given its unknowns): a
  // concrete packet is tested by the box alone (verifier/ConcreteSearch.h).
  bool boxExact = false;
  LoweredRule(z3::context& c) : cond(c.bool_val(true)) {}
};

// Lowers one rule; `tag` makes its unknown variables unique.
LoweredRule lowerRule(z3::context& c, const SymPacket& pkt, const Rule& rule, const std::string& tag);

// The effect of a non-terminating target on the fields later rules see.
struct TargetEffect {
  bool known = true;            // false: the fields in `havoc` become unknown
  uint32_t havoc = 0;           // bit per Field
  bool setsMark = false;
  uint32_t markValue = 0, markMask = 0;  // mark = (mark & ~mask) ^ value
};
TargetEffect targetEffect(const Target& t, Family f);

inline uint32_t fieldBit(Field f) { return 1u << unsigned(f); }

// The box as a condition on the packet.
z3::expr boxCondition(const SymPacket& pkt, const Box& b);

// An address as the bit-vector the packet's src/dst fields hold.
z3::expr addressExpr(z3::context& c, Family f, const IpAddr& a);

}  // namespace nfjit::verifier
