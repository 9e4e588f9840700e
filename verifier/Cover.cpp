// check --cover-pcap: a solver model per uncovered rule, confirmed by
// running it through the same pipeline `nfjit replay` uses (interpreter),
// so the cover claims exactly what the replay will count.
#include "verifier/Cover.h"

#include <map>

#include "verifier/Checks.h"
#include "verifier/HostModel.h"

namespace nfjit::verifier {

namespace {

struct Step {
  const char* table;
  Hook hook;
};

// HookPipeline::process's order for a received packet.
const std::vector<Step> kLocalPath = {{"raw", Hook::PreRouting},   {"mangle", Hook::PreRouting},
                                      {"nat", Hook::PreRouting},   {"mangle", Hook::LocalIn},
                                      {"filter", Hook::LocalIn},   {"security", Hook::LocalIn},
                                      {"nat", Hook::LocalIn}};
const std::vector<Step> kForwardPath = {{"raw", Hook::PreRouting},    {"mangle", Hook::PreRouting},
                                        {"nat", Hook::PreRouting},    {"mangle", Hook::Forward},
                                        {"filter", Hook::Forward},    {"security", Hook::Forward},
                                        {"mangle", Hook::PostRouting}, {"nat", Hook::PostRouting}};

class Coverer {
 public:
  Coverer(const Ruleset& rs, const HostModel& host)
      : rs_(rs),
        hostRules_(hostIfaceRules(host)),
        ifs_(ifaceUniverse(rs, hostRules_)),
        pkt_(c_, rs.family, ifs_),
        model_(c_, rs, pkt_, "v"),
        hs_(c_, pkt_),
        pipe_(rs, host),
        host_(host) {
    addHostConstraints(hs_, pkt_, host);
    for (const auto& tr : model_.traversals()) {
      WalkOptions wo;
      wo.define = &hs_.solver();
      defs_.push_back(model_.walk(tr, wo));
    }
  }

  CoverResult run() {
    std::map<std::tuple<size_t, size_t, size_t>, std::string> reachable;  // rule -> why not covered yet
    const auto& travs = model_.traversals();
    for (size_t ti = 0; ti < travs.size(); ++ti) {
      const Traversal& tr = travs[ti];
      for (size_t oi = 0; oi < tr.occs.size(); ++oi) {
        const Occurrence& o = tr.occs[oi];
        if (o.pathBox.empty || counted(o)) continue;
        const std::vector<z3::expr> at = {defs_[ti].activeAt[oi], defs_[ti].matchAt[oi]};
        if (hs_.decide(c_.bool_val(true), tr.hook, at) != z3::sat) continue;
        auto& why = reachable[{o.table, o.chain, o.rule}];
        if (tr.hook == Hook::LocalOut) {
          why = "OUTPUT sees only packets the host itself sends, which a capture cannot carry";
          continue;
        }
        if (tryPacket(ti, oi, c_.bool_val(true))) continue;
        // Dropped by an earlier hook: ask for a packet those hooks accept.
        if (hs_.decide(prefixAccepts(ti), tr.hook, at) == z3::sat && tryPacket(ti, oi, prefixAccepts(ti))) continue;
        why = "every packet that reaches it is dropped earlier on its path (or changed there by a target)";
      }
    }
    CoverResult out;
    out.packets = std::move(packets_);
    for (size_t t = 0; t < rs_.tables.size(); ++t)
      for (size_t ch = 0; ch < rs_.tables[t].chains.size(); ++ch)
        for (size_t r = 0; r < rs_.tables[t].chains[ch].rules.size(); ++r) {
          CoverEntry e;
          e.rule = makeRuleRef(rs_, t, ch, r);
          auto it = reachable.find({t, ch, r});
          e.covered = pipe_.classifier().counters().rule(t, ch, r).packets > 0;
          e.reachable = e.covered || it != reachable.end();
          if (e.reachable && !e.covered) e.why = it->second;
          out.reachable += e.reachable;
          out.covered += e.covered;
          out.rules.push_back(std::move(e));
        }
    std::stable_sort(out.rules.begin(), out.rules.end(),
                     [](const CoverEntry& a, const CoverEntry& b) { return a.rule.loc.line < b.rule.loc.line; });
    return out;
  }

 private:
  bool counted(const Occurrence& o) { return pipe_.classifier().counters().rule(o.table, o.chain, o.rule).packets > 0; }

  // Solves for a packet that reaches and matches the occurrence (and `extra`),
  // replays it through the pipeline and keeps it; true when the rule counted it.
  bool tryPacket(size_t ti, size_t oi, const z3::expr& extra) {
    const Traversal& tr = model_.traversals()[ti];
    const std::vector<z3::expr> at = {defs_[ti].activeAt[oi], defs_[ti].matchAt[oi]};
    std::vector<z3::expr> pref = at;
    pref.push_back(hostPreference(pkt_, host_, tr.hook));
    if (hs_.checkNice(extra, tr.hook, pref) != z3::sat && hs_.checkNice(extra, tr.hook, at) != z3::sat) return false;
    Witness w = arrivalForm(witnessFromModel(hs_.lastModel(), pkt_), tr.hook);
    std::vector<uint8_t> bytes = w.bytes;  // process() rewrites the TTL in place
    const uint64_t ns = (packets_.size() + 1) * 1000000ull;  // the timestamps writeWitnessPcap gives
    pipe_.process(bytes.data(), static_cast<uint32_t>(bytes.size()), PktType::Host, {}, false, ns, ns / 1000000000ull);
    packets_.push_back(std::move(w));
    return counted(tr.occs[oi]);
  }

  // The packet survives the hooks before this traversal's on its path
  // (marks set there are not carried over: the replay check catches that).
  z3::expr prefixAccepts(size_t ti) {
    auto it = prefix_.find(ti);
    if (it != prefix_.end()) return it->second;
    const Traversal& tr = model_.traversals()[ti];
    const std::string& table = rs_.tables[tr.table].name;
    const auto& path = tr.hook == Hook::LocalIn || tr.hook == Hook::PreRouting ? kLocalPath : kForwardPath;
    const bool decremented = tr.hook == Hook::Forward || tr.hook == Hook::PostRouting;
    z3::expr_vector all(c_);
    for (const Step& s : path) {
      if (s.table == table && s.hook == tr.hook) break;
      for (const auto& other : model_.traversals()) {
        if (rs_.tables[other.table].name != s.table || other.hook != s.hook) continue;
        WalkResult w = model_.walk(other, {});
        z3::expr_vector acc(c_);
        for (const auto& [label, e] : w.decided)
          if (verdictClass(label) == "ACCEPT") acc.push_back(e);
        z3::expr ok = z3::mk_or(acc);
        if (decremented && s.hook == Hook::PreRouting) {
          // PREROUTING saw the TTL before the forward path decremented it.
          z3::expr_vector from(c_), to(c_);
          from.push_back(pkt_.ttl);
          to.push_back(pkt_.ttl + c_.bv_val(1, 8));
          ok = ok.substitute(from, to);
        }
        all.push_back(ok);
      }
    }
    return prefix_.emplace(ti, z3::mk_and(all)).first->second;
  }

  const Ruleset& rs_;
  z3::context c_;
  std::vector<Rule> hostRules_;
  IfaceUniverse ifs_;
  SymPacket pkt_;
  ChainModel model_;
  HookSolver hs_;
  HookPipeline pipe_;
  const HostModel& host_;
  std::vector<WalkResult> defs_;
  std::vector<Witness> packets_;
  std::map<size_t, z3::expr> prefix_;
};

}  // namespace

CoverResult coverRuleset(const Ruleset& rs, const HostModel& host) { return Coverer(rs, host).run(); }

void printCover(std::ostream& os, const std::string& file, const CoverResult& c) {
  for (const auto& e : c.rules)
    if (e.reachable && !e.covered)
      os << file << ":" << e.rule.loc.line << ":" << (e.rule.loc.col ? e.rule.loc.col : 1)
         << ": note: reachable rule not covered by the cover packets: " << e.why << "\n";
  os << "nfjit check: " << c.packets.size() << " cover packets reach " << c.covered << " of " << c.reachable
     << " reachable rules\n";
}

}  // namespace nfjit::verifier
