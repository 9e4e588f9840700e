#include "compiler/interp/Interpreter.h"

#include "compiler/interp/Traversal.h"

namespace nfjit {

CounterSet::CounterSet(const Ruleset& rs) {
  for (const auto& t : rs.tables) {
    rules_.emplace_back();
    policies_.emplace_back(t.chains.size());
    for (const auto& c : t.chains) rules_.back().emplace_back(c.rules.size());
  }
}

void CounterSet::applyTo(Ruleset& rs) const {
  for (size_t t = 0; t < rs.tables.size() && t < rules_.size(); ++t)
    for (size_t c = 0; c < rs.tables[t].chains.size(); ++c) {
      auto& chain = rs.tables[t].chains[c];
      chain.counters = policies_[t][c];
      for (size_t r = 0; r < chain.rules.size(); ++r) chain.rules[r].counters = rules_[t][c][r];
    }
}

bool ifaceMatches(const std::string& pattern, const std::string& iface) {
  if (!pattern.empty() && pattern.back() == '+')
    return iface.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return pattern == iface;
}

static bool addrMatches(Family f, const IpAddr& a, const IpAddr& addr, const IpAddr& mask) {
  for (unsigned i = 0; i < addrBytes(f); ++i)
    if ((a.b[i] & mask.b[i]) != addr.b[i]) return false;
  return true;
}

bool ipHeaderMatches(const IpHeaderMatch& ip, Family f, EvalContext& ctx) {
  const PacketView& p = ctx.pkt;
  if (addrMatches(f, p.src, ip.src, ip.srcMask) == ip.invSrc) return false;
  if (addrMatches(f, p.dst, ip.dst, ip.dstMask) == ip.invDst) return false;
  if (!ip.inIface.empty() && ifaceMatches(ip.inIface, p.inIface) == ip.invIn) return false;
  if (!ip.outIface.empty() && ifaceMatches(ip.outIface, p.outIface) == ip.invOut) return false;
  if (f == Family::IPv4) {
    if (ip.proto && (p.protocol == ip.proto) == ip.invProto) return false;
    if (ip.fragment && (p.fragoff != 0) == ip.invFragment) return false;
    return true;
  }
  if (ip.proto || ip.invProto) {
    if (!p.protocolFound) {
      // ipv6_find_hdr failed: the kernel drops unless this is a later fragment.
      if (p.fragoff == 0) ctx.hotdrop = true;
      return false;
    }
    if (ip.proto == p.protocol) return !ip.invProto;
    if (ip.proto != 0 && !ip.invProto) return false;
  }
  return true;
}

namespace {

// The reference search: every rule's IP header part, then its matches in order.
class ReferenceSearch final : public RuleSearch {
 public:
  explicit ReferenceSearch(const Ruleset& rs) : rs_(rs) {}
  int64_t next(size_t ti, size_t ci, size_t from, EvalContext& ctx) override {
    const Chain& c = rs_.tables[ti].chains[ci];
    for (size_t pos = from; pos < c.rules.size(); ++pos) {
      const Rule& r = c.rules[pos];
      bool matched = ipHeaderMatches(r.ip, rs_.family, ctx);
      for (size_t m = 0; matched && m < r.matches.size(); ++m) matched = r.matches[m].ext->match(ctx);
      if (ctx.hotdrop) return -2;
      if (matched) return int64_t(pos);
    }
    return -1;
  }

 private:
  const Ruleset& rs_;
};

}  // namespace

Interpreter::Interpreter(const Ruleset& rs) : rs_(rs), counters_(rs), chainIndex_(buildChainIndex(rs)) {}

TraversalResult Interpreter::run(std::string_view table, Hook hook, EvalContext& ctx) {
  ReferenceSearch search(rs_);
  return traverseTable(rs_, chainIndex_, counters_, table, hook, ctx, search);
}

}  // namespace nfjit
