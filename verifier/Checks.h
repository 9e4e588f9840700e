// Helpers shared by the analyses (check, diff, query).
#pragma once
#include <z3++.h>

#include <array>
#include <optional>

#include "verifier/ChainModel.h"
#include "verifier/Verifier.h"

namespace nfjit::verifier {

RuleRefV makeRuleRef(const Ruleset& rs, size_t table, size_t chain, size_t rule);

// What makes a witness readable (TTL 64, a NEW TCP SYN with headers only,
// documentation addresses...), one preference each, for checkNice-style
// greedy queries.
// With `within`, a preferred value outside the box gives way to one inside
// it, so that the preferences fit together more often (one query instead of
// the greedy loop's one per preference).
std::vector<z3::expr> readablePacket(const SymPacket& pkt, const Box* within = nullptr);

// One solver with a literal per hook that switches on "the packet is well
// formed at this hook", so queries for different hooks share it.
class HookSolver {
 public:
  HookSolver(z3::context& c, const SymPacket& pkt);
  z3::solver& solver() { return s_; }
  const z3::expr& hookLit(Hook h) const { return lits_[static_cast<size_t>(h)]; }
  // Checks `e` at hook `h` with extra assumptions; the model is kept.
  z3::check_result check(const z3::expr& e, Hook h, const std::vector<z3::expr>& extra = {});
  // The same when only the answer matters: with every chain defined in the
  // solver, taking the model costs more than many a query.
  z3::check_result decide(const z3::expr& e, Hook h, const std::vector<z3::expr>& extra = {});
  // The same, but steers the model towards a readable packet (TTL 64, a
  // NEW SYN from a documentation address...) where the formula allows.
  // `within`: a box every answer lies in (the rule's), to choose preferences from.
  z3::check_result checkNice(const z3::expr& e, Hook h, const std::vector<z3::expr>& extra = {},
                             const Box* within = nullptr);
  const z3::model& lastModel() const { return *model_; }
  // A fresh literal that implies `e`, asserted for good: several queries on
  // one large formula then share its bit-blasting (check(true, h, {lit...})).
  z3::expr literalFor(const z3::expr& e);
  size_t calls = 0;

 private:
  z3::check_result run(const z3::expr& e, Hook h, const std::vector<z3::expr>& extra, bool keepModel);
  std::optional<z3::model> model_;
  const SymPacket& pkt_;
  std::vector<z3::expr> prefs_;
  z3::solver s_;
  std::vector<z3::expr> lits_;
  size_t goals_ = 0;
};

}  // namespace nfjit::verifier
