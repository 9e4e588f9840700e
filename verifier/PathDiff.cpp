// Whole-path diff: per path kind, one solver query "some packet on this path
// gets different fates", its witness replayed through HookPipeline.
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "compiler/frontend/Printer.h"

#include "verifier/Checks.h"
#include "verifier/HostModel.h"
#include "verifier/PathModel.h"

namespace nfjit::verifier {

namespace {


const PathOutcome* holding(const z3::model& m, const PathModel& pm) {
  for (const auto& o : pm.outcomes())
    if (m.eval(o.cond, true).is_true()) return &o;
  return nullptr;
}

PathDiff diffOne(z3::context& c, const SymPacket& pkt, const ChainModel& mo, const ChainModel& mn, PathKind kind,
                 const std::optional<HostModel>& host) {
  PathModel po(mo, kind, host), pn(mn, kind, host);
  PathDiff d;
  d.kind = kind;
  z3::expr_vector differ(c);
  for (const auto& a : po.outcomes())
    for (const auto& b : pn.outcomes())
      if (a.what.fate != b.what.fate) differ.push_back(a.cond && b.cond);
  z3::solver s(c);
  s.set("timeout", 60000u);
  s.add(po.domain() && (po.routed() || pn.routed()) && z3::mk_or(differ));
  // A readable witness: one both rulesets route along this path (a
  // difference of verdicts rather than of routing), and the first packet of
  // a connection (what replay simulates: the nat chains see it), when possible.
  const z3::expr both = po.routed() && pn.routed();
  const z3::expr first = (pkt.ctstate & c.bv_val(0x1f, 8)) == c.bv_val(kCtNew, 8);
  z3::check_result r = z3::unknown;
  std::vector<z3::expr> keep;
  for (const std::vector<z3::expr>& prefs : {std::vector<z3::expr>{both, first}, {both}, {first}, {}}) {
    z3::expr_vector a(c);
    for (const auto& e : prefs) a.push_back(e);
    r = s.check(a);
    if (r == z3::sat) {
      keep = prefs;
      break;
    }
  }
  if (r == z3::sat) {
    // Then a packet one can send: headers only, TTL 64, documentation
    // addresses where the difference allows (greedy, as HookSolver::checkNice).
    s.set("timeout", 3000u);
    auto checkWith = [&](const std::vector<z3::expr>& v) {
      z3::expr_vector a(c);
      for (const auto& e : v) a.push_back(e);
      return s.check(a);
    };
    std::vector<z3::expr> all = keep;
    for (const auto& p : readablePacket(pkt)) all.push_back(p);
    if (checkWith(all) == z3::sat) {
      keep = all;
    } else {
      for (const auto& p : readablePacket(pkt)) {
        keep.push_back(p);
        if (checkWith(keep) != z3::sat) keep.pop_back();
      }
    }
    r = checkWith(keep);
  }
  if (r == z3::unsat) return d;  // equivalent whatever the unknown matches do
  d.equivalent = false;
  d.definite = po.unknowns().empty() && pn.unknowns().empty();
  if (r == z3::unknown) {
    d.definite = false;  // the solver gave up: neither claim is made
    return d;
  }
  z3::model m = s.get_model();
  const PathOutcome* a = holding(m, po);
  const PathOutcome* b = holding(m, pn);
  if (!a || !b) {
    d.definite = false;
    return d;
  }
  PathDifference x;
  Witness w = witnessFromModel(m, pkt);
  mo.assumeUnparsed(m, w);
  x.witness = kind == PathKind::Forward ? arrivalForm(w, Hook::Forward) : w;
  x.oldFate = a->what;
  x.newFate = b->what;
  if (!host && kind == PathKind::Forward && (a->what.fate == "elsewhere" || b->what.fate == "elsewhere")) {
    x.replayNote = "no host model";
  } else {
    bool fo = false, fn = false;
    x.oldReplay = replayPath(mo.ruleset(), x.witness, kind, host, fo);
    x.newReplay = replayPath(mn.ruleset(), x.witness, kind, host, fn);
    x.replayed = replayAgrees(x.oldReplay, fo, a->what.fate, kind) && replayAgrees(x.newReplay, fn, b->what.fate, kind);
    if (!x.replayed) x.replayNote = kPathReplayDisagrees;
  }
  d.difference = std::move(x);
  return d;
}

}  // namespace

// HookPipeline's fate name for a claimed fate ("" when it has none).
static std::string expectedReplay(const std::string& fate) {
  if (fate == "deliver" || fate == "forward" || fate == "sent") return fate;
  if (fate == "DROP") return "drop";
  if (fate == "REJECT") return "reject";
  if (fate == "QUEUE") return "queue";
  return "";
}

// What replay does not reproduce: it applies NAT as the kernel does, but
// picks the lowest address/port of a range where the kernel hashes or
// randomises, and it sends the witness as the first packet of its
// connection (NEW, never ESTABLISHED or RELATED).
const char* const kPathReplayDisagrees =
    "the reference pipeline disagrees (it takes the lowest address/port of a NAT range and sends the witness as "
    "the first packet of its connection; unknown matches may be assumed otherwise)";

// Replays the wire form through the whole pipeline of `rs`. Without a host
// model the host is made up to route the witness along `kind`.
std::string replayPath(const Ruleset& rs, const Witness& wire, PathKind kind, const std::optional<HostModel>& host,
                       bool& forwardPath) {
  HostModel h;
  if (host) {
    h = *host;
  } else {
    h.inIface = wire.inIface.empty() ? "in0" : wire.inIface;
    h.outIface = wire.outIface.empty() ? "out0" : wire.outIface;
    if (kind == PathKind::Input) h.localAddrs.push_back(wire.dst);
  }
  resetStatefulMatches(rs);
  HookPipeline pipe(rs, h);
  std::vector<uint8_t> bytes = wire.bytes;  // rewritten in place (TTL, NAT)
  const uint32_t len = static_cast<uint32_t>(bytes.size());
  // Generated by the host: the OUTPUT path, with the socket's mark.
  PipelineResult r = kind == PathKind::Output
                         ? pipe.processLocal(bytes.data(), len, 0, 0, wire.mark)
                         : pipe.process(bytes.data(), len, PktType::Host, {}, false, 0, 0, h.inIface);
  forwardPath = r.forwardPath;
  // REJECT drops too; what tells it from DROP on the wire is the reply it sends.
  if (r.fate == PipelineResult::Fate::Dropped && r.effects.rejectSent) return "reject";
  return fateName(r.fate);
}

bool replayAgrees(const std::string& got, bool forwardPath, const std::string& claimed, PathKind kind) {
  // "elsewhere": this ruleset's routing took the packet off the path.
  if (claimed == "elsewhere") return kind == PathKind::Forward ? !forwardPath : forwardPath;
  std::string want = expectedReplay(claimed);
  return !want.empty() && want == got;
}

namespace {

Hook mainHook(PathKind k) {
  return k == PathKind::Input ? Hook::LocalIn : k == PathKind::Forward ? Hook::Forward : Hook::LocalOut;
}

// The tables other than filter hold the same chains, policies and rules in
// both versions (a table missing on one side counts as empty).
bool sameOutsideFilter(const Ruleset& a, const Ruleset& b) {
  auto text = [](const Ruleset& rs, const std::string& table) {
    std::string out;
    for (const auto& t : rs.tables)
      if (t.name == table)
        for (const auto& ch : t.chains) {
          if (ch.rules.empty() && (!ch.builtin || ch.policy != Policy::Drop)) continue;
          out += ch.name + (ch.policy == Policy::Drop ? " DROP\n" : "\n");
          for (const auto& r : ch.rules) out += printRule(r, ch.name, rs.family) + "\n";
        }
    return out;
  };
  for (const char* t : {"raw", "mangle", "nat", "security"})
    if (text(a, t) != text(b, t)) return false;
  return true;
}

PathFate fateOf(const std::string& label, const std::vector<RuleRefV>& rules, PathKind k, const std::string& chain) {
  PathFate f;
  if (label == "ACCEPT") {
    f.fate = k == PathKind::Input ? "deliver" : k == PathKind::Forward ? "forward" : "sent";
    return f;
  }
  f.fate = label == "REJECT" ? "REJECT" : verdictClass(label);
  f.table = "filter";
  f.chain = chain;
  f.label = label;
  // The chain diff names the deciding rule, not its occurrence: any index
  // >= 0 says "a rule, not the policy".
  if (!rules.empty()) f.ruleText = rules.back().text, f.line = rules.back().loc.line, f.occ = 0;
  return f;
}

// With every other table the same in both versions, the per-chain diff of
// the path's filter chain answers for the whole path: identical chains treat
// a packet alike before filter (the chain diff covers every mark, state and
// address filter may then see, host constraints included) and after it. A
// difference counts only once its witness replays along the path as
// claimed; none does: ask the path model.
std::optional<PathDiff> fromChainDiff(const ChainDiff& cd, PathKind k, const std::optional<HostModel>& host,
                                      const Ruleset& oldRs, const Ruleset& newRs) {
  PathDiff d;
  d.kind = k;
  d.definite = cd.definite;
  if (cd.equivalent) return d;
  for (const auto& x : cd.differences) {
    PathDifference p;
    p.witness = k == PathKind::Forward ? arrivalForm(x.witness, Hook::Forward) : x.witness;
    p.oldFate = fateOf(x.oldVerdict, x.oldRules, k, cd.chain);
    p.newFate = fateOf(x.newVerdict, x.newRules, k, cd.chain);
    bool fo = false, fn = false;
    p.oldReplay = replayPath(oldRs, p.witness, k, host, fo);
    p.newReplay = replayPath(newRs, p.witness, k, host, fn);
    p.replayed = replayAgrees(p.oldReplay, fo, p.oldFate.fate, k) && replayAgrees(p.newReplay, fn, p.newFate.fate, k);
    if (!p.replayed) continue;
    d.equivalent = false;
    d.definite = cd.definite && x.definite;
    d.difference = std::move(p);
    return d;
  }
  return std::nullopt;
}

}  // namespace

std::vector<PathDiff> diffPaths(const Ruleset& oldRs, const Ruleset& newRs, const std::optional<HostModel>& host) {
  if (oldRs.family != newRs.family) throw std::runtime_error("the rulesets are of different families");
  std::vector<PathDiff> out;
  // The same rules in the same order: every path is the same, whatever the
  // unmodelled targets do (their effects get separate unknowns per ruleset).
  if (printRuleset(oldRs) == printRuleset(newRs)) {
    for (PathKind k : {PathKind::Input, PathKind::Forward, PathKind::Output}) out.push_back({k, true, true, {}});
    return out;
  }
  // Where only the filter table changed, the per-chain diff, with its
  // shared-block encoding, answers for the paths.
  std::optional<std::vector<ChainDiff>> chainDiffs;
  std::vector<std::optional<PathDiff>> quick;
  const bool onlyFilterChanged = sameOutsideFilter(oldRs, newRs);
  for (PathKind k : {PathKind::Input, PathKind::Forward, PathKind::Output}) {
    quick.emplace_back();
    if (!onlyFilterChanged) continue;
    if (!chainDiffs) {
      DiffOptions o;
      o.host = host;
      chainDiffs = diffRulesets(oldRs, newRs, "filter", nullptr, o);
    }
    for (const auto& cd : *chainDiffs)
      if (cd.hook == mainHook(k)) quick.back() = fromChainDiff(cd, k, host, oldRs, newRs);
  }
  if (std::all_of(quick.begin(), quick.end(), [](const auto& q) { return q.has_value(); })) {
    for (auto& q : quick) out.push_back(std::move(*q));
    return out;
  }
  z3::context c;
  std::vector<Rule> extra;
  if (host) extra = hostIfaceRules(*host);
  std::vector<const Rule*> extraPtrs;
  for (const auto& r : extra) extraPtrs.push_back(&r);
  IfaceUniverse ifs;
  ifs.build({&oldRs, &newRs}, extraPtrs);
  SymPacket pkt(c, oldRs.family, ifs);
  // Rules with the same text share their unknown matches: an unchanged
  // stateful rule behaves the same in both.
  ChainModel mo(c, oldRs, pkt, "o", true), mn(c, newRs, pkt, "n", true);
  size_t i = 0;
  for (PathKind k : {PathKind::Input, PathKind::Forward, PathKind::Output}) {
    if (quick[i]) out.push_back(std::move(*quick[i]));
    else out.push_back(diffOne(c, pkt, mo, mn, k, host));
    ++i;
  }
  return out;
}

}  // namespace nfjit::verifier
