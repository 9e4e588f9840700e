// Deciding "some packet reaches and matches this rule" without the solver:
// a concrete packet inside the rule's path box is run through the
// flattened traversal (only occurrences whose boxes hold it can match), and
// moved out of the box of whatever blocks it, a few times. Most rules of
// large rulesets are reachable and are decided this way; the rest go to Z3.
#pragma once
#include <z3++.h>

#include <array>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "verifier/ChainModel.h"
#include "verifier/BoxIndex.h"
#include "verifier/ConcreteEval.h"

namespace nfjit::verifier {

class ConcreteSearch {
 public:
  ConcreteSearch(const ChainModel& m, Family f);
  // True when a packet reaches occurrence `target` of `tr` and matches it,
  // with every stateful unknown on the way matching and every other
  // unknown not (so the rule is reachable in the three-valued sense too).
  // False says nothing: ask the solver.
  // statefulMatch false: stateful unknowns do not match either (is the
  // rule reachable at all, whatever they do?).
  // `start`: the corner of the target's box the search starts from (other
  // corners find other packets, e.g. for -Wredundant's refutations).
  enum class Start : uint8_t { Low, High, Middle };
  bool reaches(const Traversal& tr, size_t target, bool statefulMatch = true, Start start = Start::Low);
  // An earlier occurrence on the target's path that decides every packet
  // of the target's box once its stateful matches hold (e.g. an unconditional
  // `-m recent --update -j DROP_CHAIN`): with them forced, nothing reaches
  // the target. -1 when there is none that is this plain.
  int forcedBlocker(const Traversal& tr, size_t target) const;
  // Packets must also satisfy these, one per hook (the host model): a
  // packet that reaches the target but not them is no answer.
  void setHostConstraints(const std::array<z3::expr, 5>& byHook) { host_.emplace(byHook); }
  // reaches(), looking only at packets inside `within` as well.
  // `reuse`: first try the packets that reached the target before (cheap, but
  // one of them may fail what the caller checks next where a new search would not).
  bool reachesWithin(const Traversal& tr, size_t target, const Box& within, bool statefulMatch, bool reuse = false);
  // After a successful reaches(): does that packet match occurrence `j` and
  // the jumps that lead to it (unknown matches off unless on the target's
  // path)? 1 yes, 0 no, -1 cannot tell (a mark match).
  // ownUnknowns: the unknown matches of j's own rule match too (the caller
  // reports the answer as depending on them). Only where that rule does not
  // occur before the last target, whose run took them as not matching.
  // rerun: j's rule occurs on the way to the target too; the packet must
  // still reach it with those unknowns matching (checked by running again).
  int matchesPath(const Traversal& tr, size_t j, bool ownUnknowns = false, bool rerun = false);
  // A packet inside `box` that matches occurrence `target` and the jumps
  // that lead to it (reached or not), their unknown matches matching, at
  // the traversal's hook. False says nothing.
  bool matchesWithin(const Traversal& tr, size_t target, const Box& box);
  // Packets the solver found (an earlier rule's refutation, say) as starts
  // for reachesLike: what they chose for fields outside the boxes (state,
  // flags, interface) often serves the next rule as well. The newest few are kept.
  void addTemplate(const z3::model& m);
  size_t templates() const { return templates_.size(); }
  // reaches(), starting from template `k` where the target's box allows.
  bool reachesLike(const Traversal& tr, size_t target, size_t k, bool statefulMatch);
  // The packet of the last successful reaches(), as a witness (bytes built).
  Witness lastPacket() const;
  // After a successful reaches(): the label the traversal gives that packet
  // (unknown matches behaving as they did) with the occurrences marked in
  // `skip` left out. None when the search cannot tell.
  std::optional<std::string> outcomeWithout(const Traversal& tr, const std::vector<bool>& skip);
  size_t packetsTried = 0;

 private:
  struct Point {
    std::array<u128, kNumDims> v{};
    uint8_t ttl = 64, tos = 0, tcpFlags = 0x02, icmpType = 8, icmpCode = 0, ctstate = 2, pktType = 0;
    uint16_t length = 40;
    uint32_t mark = 0;
  };
  enum class Out : uint8_t { Fell, Exited, Blocked, Reached, GiveUp };
  struct Res {
    Out out;
    int by = -1;  // Blocked/Exited: the occurrence that took the packet elsewhere
  };
  bool reachesIn(const Traversal& tr, size_t target, const Box& box, bool statefulMatch, Start start);
  // From the placed point: run, step out of blockers' boxes, run again.
  bool searchFromPoint(const Traversal& tr, const Box& box);
  std::vector<Point> templates_;  // newest first
  std::optional<ConcreteEval> eval_;  // evalCond without the solver's model
  std::vector<u128> evalValues_;       // the point's fields for eval_, reused
  // Sets up a search for `target`: its path's unknowns matching, the point
  // at the box's `start` corner with readable defaults. False: no valid point.
  bool place(const Traversal& tr, size_t target, const Box& box, bool statefulMatch, Start start);
  bool wellFormedPoint() const;  // SymPacket::wellFormed, for the fields a point sets
  // Fields outside the box (state, TCP flags, TTL, ICMP type...) for which
  // the target's path conditions hold, solved once per target on a small
  // solver of its own (`-m state --state ESTABLISHED` is never met by the
  // default NEW packet). Applied to p_; false when the path has no such needs.
  void applySeed(const Traversal& tr, size_t target);
  struct Seed {
    bool needed = false, found = false;
    uint8_t ttl = 64, tos = 0, tcpFlags = 0x02, icmpType = 8, icmpCode = 0, ctstate = 2, pktType = 0;
  };
  std::map<std::pair<const Traversal*, size_t>, Seed> seeds_;
  std::optional<z3::solver> seedSolver_;
  // Packets that reached a target before (with the stateful setting they
  // were found under): -Wconflict asks for one inside each later rule's box,
  // and an earlier answer often lies there already.
  struct Reached {
    bool statefulMatch;
    Point p;
  };
  std::map<std::pair<const Traversal*, size_t>, std::vector<Reached>> reached_;
  Res run(const Traversal& tr, size_t begin, size_t end);
  // The occurrences whose box holds the point p_ (BoxIndex), cached for the last point.
  const std::vector<uint64_t>& candidatesFor(const Traversal& tr);
  std::map<const Traversal*, BoxIndex> indexes_;
  std::vector<uint64_t> cand_;
  const Traversal* candTr_ = nullptr;
  std::array<u128, kNumDims> candPoint_{};
  int matches(const Traversal& tr, size_t i);  // 1, 0, or -1: cannot tell
  bool evalCond(const z3::expr& e);
  void fixLength();
  z3::model modelOf() const;
  // Each field of a point with its packet variable, in one order: the box
  // dimensions, then (forEachField) the rest. modelOf, evalCond and
  // addTemplate read or write points through these, so the lists cannot
  // drift apart. `f(var, field)` gets the field by reference.
  template <class P, class F>
  void forEachBoxField(P& p, F&& f) const {
    const SymPacket& k = m_.packet();
    f(k.src, p.v[kDimSrc]);
    f(k.dst, p.v[kDimDst]);
    f(k.proto, p.v[kDimProto]);
    f(k.sport, p.v[kDimSport]);
    f(k.dport, p.v[kDimDport]);
    f(k.inIf, p.v[kDimIn]);
    f(k.outIf, p.v[kDimOut]);
    f(k.frag, p.v[kDimFrag]);
  }
  template <class P, class F>
  void forEachField(P& p, F&& f) const {
    const SymPacket& k = m_.packet();
    forEachBoxField(p, f);
    f(k.ttl, p.ttl);
    f(k.tos, p.tos);
    f(k.tcpFlags, p.tcpFlags);
    f(k.icmpType, p.icmpType);
    f(k.icmpCode, p.icmpCode);
    f(k.ctstate, p.ctstate);
    f(k.pktType, p.pktType);
    f(k.length, p.length);
    f(k.mark, p.mark);
  }
  static z3::expr bv(z3::context& c, u128 v, unsigned w);

  const ChainModel& m_;
  Family family_;
  std::unordered_set<unsigned> statefulVars_;
  std::vector<z3::expr> statefulExprs_;
  // Per query.
  bool debug_ = std::getenv("NFJIT_VERIFY_DEBUG") != nullptr;
  size_t target_ = 0;
  bool statefulOn_ = true;
  bool coversForced(const Occurrence& o, const Box& box) const;
  const std::vector<bool>* skip_ = nullptr;  // outcomeWithout: occurrences left out
  Point p_;
  uint32_t mark_ = 0;
  std::unordered_set<unsigned> trueVars_;  // own and ancestors' unknowns
  std::vector<z3::expr> trueExprs_;
  std::optional<z3::model> model_;
  std::optional<std::array<z3::expr, 5>> host_;
};

}  // namespace nfjit::verifier
