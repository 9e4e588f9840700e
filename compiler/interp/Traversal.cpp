#include "compiler/interp/Traversal.h"

namespace nfjit {

ChainIndex buildChainIndex(const Ruleset& rs) {
  ChainIndex index;
  for (const auto& t : rs.tables) {
    index.emplace_back();
    for (size_t c = 0; c < t.chains.size(); ++c) index.back()[t.chains[c].name] = c;
  }
  return index;
}

TraversalResult traverseTable(const Ruleset& rs, const ChainIndex& chainIndex, CounterSet& counters,
                              std::string_view tableName, Hook hook, EvalContext& ctx, RuleSearch& search) {
  TraversalResult res;
  size_t ti = 0;
  for (; ti < rs.tables.size(); ++ti)
    if (rs.tables[ti].name == tableName) break;
  if (ti == rs.tables.size()) return res;
  const Table& table = rs.tables[ti];
  const auto& index = chainIndex[ti];
  int64_t resolved = search.hookChain(ti, hook);
  if (resolved < 0) {
    auto it = index.find(hookChainName(hook));
    if (it == index.end()) return res;
    resolved = int64_t(it->second);
  }
  const size_t startChain = size_t(resolved);
  ctx.table = table.name;
  ctx.hook = hook;
  search.begin(ti, ctx);

  struct Frame {
    size_t chain, next;
  };
  std::vector<Frame> stack;  // return addresses of jumps
  size_t chain = startChain, pos = 0;
  const uint64_t bytes = ctx.pkt.len;

  auto policy = [&] {
    const Chain& bc = table.chains[startChain];
    auto& pc = counters.policy(ti, startChain);
    pc.packets++;
    pc.bytes += bytes;
    res.matched.push_back({ti, startChain, 0, true});
    res.verdict = bc.policy == Policy::Drop ? Verdict::Drop : Verdict::Accept;
    return res;
  };
  // RETURN or the end of a chain: back to the caller, or the policy when
  // leaving the built-in chain (a goto does not push, so it returns to the
  // caller's caller).
  auto returnFromChain = [&]() -> bool {
    if (stack.empty()) return false;
    chain = stack.back().chain;
    pos = stack.back().next;
    stack.pop_back();
    return true;
  };

  for (;;) {
    const Chain& c = table.chains[chain];
    // next() answers -1 past the chain's end (which updates may have moved).
    int64_t found = search.next(ti, chain, pos, ctx);
    if (found == -2) {
      res.hotdrop = true;
      res.verdict = Verdict::Drop;
      return res;
    }
    if (found < 0) {
      if (chain == startChain || !returnFromChain()) return policy();
      continue;
    }
    pos = size_t(found);
    Counters* updatedCounters = search.ruleCounters(ti, chain, pos);
    auto& rc = updatedCounters ? *updatedCounters : counters.rule(ti, chain, pos);
    rc.packets++;
    rc.bytes += bytes;
    res.matched.push_back({ti, chain, pos, false});
    const Rule* updatedRule = search.rule(ti, chain, pos);
    const Target& t = (updatedRule ? *updatedRule : c.rules[pos]).target;
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
        int64_t target = search.jumpTarget(ti, chain, pos);
        if (target < 0) {
          auto it = index.find(t.chain);
          if (it == index.end()) {  // cannot happen after front-end checks
            res.verdict = Verdict::Drop;
            return res;
          }
          target = int64_t(it->second);
        }
        if (t.kind == Target::Kind::Jump) stack.push_back({chain, pos + 1});
        chain = size_t(target);
        pos = 0;
        break;
      }
      case Target::Kind::Extension: {
        Verdict v = t.ext->apply(ctx);
        if (v == Verdict::Continue || v == Verdict::Return) search.packetChanged(ctx);
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
