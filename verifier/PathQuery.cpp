// query --path: a packet of the given kind, matching an expression, whose
// whole path ends as asked; its witness replayed through HookPipeline.
#include "verifier/HostModel.h"
#include "verifier/PathModel.h"

namespace nfjit::verifier {

PathQueryResult queryPath(const Ruleset& rs, PathKind kind, const Rule& where, const std::string& fate,
                          const std::optional<HostModel>& host) {
  z3::context c;
  std::vector<Rule> extra;
  if (host) extra = hostIfaceRules(*host);
  extra.push_back(Rule{});  // `where` may name interfaces of its own: copy only its IP part
  extra.back().ip = where.ip;
  IfaceUniverse ifs = ifaceUniverse(rs, extra);
  SymPacket pkt(c, rs.family, ifs);
  ChainModel m(c, rs, pkt, "q");
  PathModel pm(m, kind, host);
  LoweredRule w = lowerRule(c, pkt, where, "where");
  z3::expr_vector ends(c);
  for (const auto& o : pm.outcomes())
    if (o.what.fate != "elsewhere" && (fate.empty() || o.what.fate == fate)) ends.push_back(o.cond);
  PathQueryResult q;
  q.definite = pm.unknowns().empty() && w.unknowns.empty();
  z3::solver s(c);
  s.set("timeout", 60000u);
  s.add(pm.domain() && pm.routed() && w.cond && z3::mk_or(ends));
  const z3::expr first = (pkt.ctstate & c.bv_val(0x1f, 8)) == c.bv_val(kCtNew, 8);
  z3::expr_vector prefer(c);
  prefer.push_back(first);
  z3::check_result r = s.check(prefer);
  if (r != z3::sat) r = s.check();
  if (r == z3::unknown) throw std::runtime_error("the solver gave up (timeout)");
  if (r == z3::unsat) return q;
  z3::model mo = s.get_model();
  q.found = true;
  for (const auto& o : pm.outcomes())
    if (mo.eval(o.cond, true).is_true()) q.fate = o.what;
  Witness wit = witnessFromModel(mo, pkt);
  m.assumeUnparsed(mo, wit);
  q.witness = kind == PathKind::Forward ? arrivalForm(wit, Hook::Forward) : wit;
  if (q.fate) {
    bool fwd = false;
    q.replay = replayPath(rs, *q.witness, kind, host, fwd);
    q.replayed = replayAgrees(q.replay, fwd, q.fate->fate, kind);
    if (!q.replayed)
      q.replayNote = kPathReplayDisagrees;
  }
  return q;
}

}  // namespace nfjit::verifier
