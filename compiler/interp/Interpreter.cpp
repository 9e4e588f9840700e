#include "compiler/interp/Interpreter.h"

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

Interpreter::Interpreter(const Ruleset& rs) : rs_(rs), counters_(rs) {
  for (const auto& t : rs.tables) {
    chainIndex_.emplace_back();
    for (size_t c = 0; c < t.chains.size(); ++c) chainIndex_.back()[t.chains[c].name] = c;
  }
}

TraversalResult Interpreter::run(std::string_view tableName, Hook hook, EvalContext& ctx) {
  TraversalResult res;
  size_t ti = 0;
  for (; ti < rs_.tables.size(); ++ti)
    if (rs_.tables[ti].name == tableName) break;
  if (ti == rs_.tables.size()) return res;
  const Table& table = rs_.tables[ti];
  auto& index = chainIndex_[ti];
  auto start = index.find(hookChainName(hook));
  if (start == index.end()) return res;
  ctx.table = table.name;
  ctx.hook = hook;

  struct Frame {
    size_t chain, next;
  };
  std::vector<Frame> stack;  // return addresses of jumps
  size_t chain = start->second, pos = 0;
  const uint64_t bytes = ctx.pkt.len;

  auto policy = [&] {
    const Chain& bc = table.chains[start->second];
    auto& pc = counters_.policy(ti, start->second);
    pc.packets++;
    pc.bytes += bytes;
    res.matched.push_back({ti, start->second, 0, true});
    res.verdict = bc.policy == Policy::Drop ? Verdict::Drop : Verdict::Accept;
    return res;
  };
  // RETURN or the end of a chain: back to the caller, or the policy when
  // leaving the built-in chain.
  auto returnFromChain = [&]() -> bool {
    if (stack.empty()) return false;
    chain = stack.back().chain;
    pos = stack.back().next;
    stack.pop_back();
    return true;
  };

  for (;;) {
    const Chain& c = table.chains[chain];
    if (pos >= c.rules.size()) {
      if (chain == start->second || !returnFromChain()) return policy();
      continue;
    }
    const Rule& r = c.rules[pos];
    bool matched = ipHeaderMatches(r.ip, rs_.family, ctx);
    for (size_t m = 0; matched && m < r.matches.size(); ++m) matched = r.matches[m].ext->match(ctx);
    if (ctx.hotdrop) {
      res.hotdrop = true;
      res.verdict = Verdict::Drop;
      return res;
    }
    if (!matched) {
      ++pos;
      continue;
    }
    auto& rc = counters_.rule(ti, chain, pos);
    rc.packets++;
    rc.bytes += bytes;
    res.matched.push_back({ti, chain, pos, false});
    const Target& t = r.target;
    switch (t.kind) {
      case Target::Kind::None:
        ++pos;
        break;
      case Target::Kind::Accept:
        res.verdict = Verdict::Accept;
        return res;
      case Target::Kind::Drop:
        res.verdict = Verdict::Drop;
        return res;
      case Target::Kind::Queue:
        res.verdict = Verdict::Queue;
        return res;
      case Target::Kind::Return:
        if (!returnFromChain()) return policy();
        break;
      case Target::Kind::Jump:
      case Target::Kind::Goto: {
        auto it = index.find(t.chain);
        if (it == index.end()) {  // cannot happen after front-end checks
          res.verdict = Verdict::Drop;
          return res;
        }
        if (t.kind == Target::Kind::Jump) stack.push_back({chain, pos + 1});
        chain = it->second;
        pos = 0;
        break;
      }
      case Target::Kind::Extension: {
        Verdict v = t.ext->apply(ctx);
        if (v == Verdict::Continue) {
          ++pos;
          break;
        }
        if (v == Verdict::Return) {
          if (!returnFromChain()) return policy();
          break;
        }
        res.verdict = v;
        return res;
      }
    }
  }
}

}  // namespace nfjit
