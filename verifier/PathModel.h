// A packet's whole path through the tables (DESIGN.md hook order, as
// runtime/pipeline/HookPipeline.cpp executes it): the chains along one path
// composed into one symbolic fate. State flows from chain to chain: the
// mark, the destination address/port after DNAT/REDIRECT (seen by later
// chains and by the routing decision), and the fields targets changed in
// ways not modelled (later matches on them become unknown, never dropped).
#pragma once
#include <nlohmann/json.hpp>
#include <z3++.h>

#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include "runtime/pipeline/HookPipeline.h"
#include "verifier/ChainModel.h"
#include "verifier/Verifier.h"

namespace nfjit::verifier {

// Received and delivered locally, received and forwarded, generated locally.
enum class PathKind : uint8_t { Input, Forward, Output };
const char* pathKindName(PathKind k);  // "input", "forward", "output"

// How a path ends for a packet.
struct PathFate {
  // "deliver" / "forward" / "sent" (accepted all along: HookPipeline's fate
  // names), the verdict that stopped it ("DROP", "REJECT", "QUEUE", or an
  // unmodelled terminal target's name), or "elsewhere": this ruleset's own
  // routing (after its DNAT) sends the packet along another path.
  std::string fate;
  std::string table, chain;  // the built-in chain that decided (stopping fates)
  std::string label;         // the deciding target's label
  int occ = -1;              // its occurrence in that chain's traversal (-1: policy)
  std::string ruleText;      // the deciding rule, canonical (empty: policy)
  uint32_t line = 0;
  size_t traversal = 0;
};
// One way a path can end, and for which packets.
struct PathOutcome {
  PathFate what;
  z3::expr cond;
};

class PathModel {
 public:
  // Without a host model the routing decision is left open: every address
  // may be local or not, so both received paths are possible for any packet.
  PathModel(const ChainModel& m, PathKind kind, const std::optional<HostModel>& host);
  PathKind kind() const { return kind_; }
  // Disjoint, and together cover `domain()`.
  const std::vector<PathOutcome>& outcomes() const { return outcomes_; }
  // What every packet on this path satisfies whatever the rules (well-formed
  // at the hooks, arrives as the host receives it...), not the routing.
  z3::expr domain() const { return domain_; }
  // The ruleset routes the packet along this path (DNAT included).
  z3::expr routed() const { return routed_; }
  // Unknown matches met on the way (three-valued results).
  const std::vector<UnknownMatch>& unknowns() const { return unknowns_; }

 private:
  void step(const std::string& table, Hook hook, bool natOnly);
  void applyNat(const Occurrence& o, const z3::expr& fired, Hook hook);
  const ChainModel& m_;
  PathKind kind_;
  z3::expr alive_, mark_, dst_, dport_, domain_, routed_;
  uint32_t havoc_ = 0;
  bool preRouting_ = true;  // forward path: chains before routing see the TTL undecremented
  std::vector<PathOutcome> outcomes_;
  std::vector<UnknownMatch> unknowns_;
};

// Whole-path diff: per path kind, OLD and NEW give every packet the same fate.
struct PathDifference {
  Witness witness;  // as seen at the path's first hook (the wire form: arrivalForm is applied)
  PathFate oldFate, newFate;
  std::string oldReplay, newReplay;  // HookPipeline's fates for the witness
  bool replayed = false;             // both replays agree with the claimed fates
  std::string replayNote;            // why not, when not
};
struct PathDiff {
  PathKind kind = PathKind::Forward;
  bool equivalent = true;
  bool definite = true;  // false: the answer depends on unknown matches or unmodelled targets
  std::optional<PathDifference> difference;
};
std::vector<PathDiff> diffPaths(const Ruleset& oldRs, const Ruleset& newRs, const std::optional<HostModel>& host);

// Replays a witness's wire form through HookPipeline with `rs` (without a
// host model, one made up to route it along `kind`); HookPipeline's fate
// name, and whether it took the forward path.
std::string replayPath(const Ruleset& rs, const Witness& wire, PathKind kind, const std::optional<HostModel>& host,
                       bool& forwardPath);
// Does that replay agree with a claimed fate (PathFate::fate)?
bool replayAgrees(const std::string& got, bool forwardPath, const std::string& claimed, PathKind kind);
// The note of a path witness whose replay disagrees with the model.
extern const char* const kPathReplayDisagrees;

// query --path: a packet matching `where` (a rule's match part, on the
// packet as it arrives or is sent) whose path ends with `fate` ("" any;
// "deliver"/"forward"/"sent", "DROP", "REJECT", "QUEUE"...).
struct PathQueryResult {
  bool found = false;
  bool definite = true;
  std::optional<PathFate> fate;
  std::optional<Witness> witness;  // wire form
  std::string replay;              // HookPipeline's fate for it
  bool replayed = false;
  std::string replayNote;
};
PathQueryResult queryPath(const Ruleset& rs, PathKind kind, const Rule& where, const std::string& fate,
                          const std::optional<HostModel>& host);

// Printing (verifier/PathReport.cpp).
void printPathDiffs(std::ostream& os, const std::vector<PathDiff>& ds);
std::string pathFateText(const PathFate& o);
nlohmann::json pathDiffsJson(const std::vector<PathDiff>& ds);

}  // namespace nfjit::verifier
