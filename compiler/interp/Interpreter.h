// The reference interpreter: netfilter's traversal of one table's chains
// for one packet at one hook (ipt_do_table / ip6t_do_table), written for
// clarity. It defines what a ruleset means; the JIT and the verifier are
// tested against it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "compiler/interp/Classifier.h"
#include "compiler/ir/Ruleset.h"
#include "runtime/packet/PacketView.h"

namespace nfjit {

// Per-rule and per-policy counters, parallel to a Ruleset.
class CounterSet {
 public:
  explicit CounterSet(const Ruleset& rs);
  Counters& rule(size_t table, size_t chain, size_t rule) { return rules_[table][chain][rule]; }
  Counters& policy(size_t table, size_t chain) { return policies_[table][chain]; }
  const Counters& rule(size_t table, size_t chain, size_t rule) const { return rules_[table][chain][rule]; }
  const Counters& policy(size_t table, size_t chain) const { return policies_[table][chain]; }
  // Writes the counters into a copy of the ruleset, for printing `-c` style.
  void applyTo(Ruleset& rs) const;

 private:
  std::vector<std::vector<std::vector<Counters>>> rules_;
  std::vector<std::vector<Counters>> policies_;
};

struct RuleRef {
  size_t table = 0, chain = 0, rule = 0;
  bool isPolicy = false;  // the built-in chain's policy decided
  bool operator==(const RuleRef&) const = default;
};

struct TraversalResult {
  Verdict verdict = Verdict::Accept;  // Accept, Drop, Queue or Stolen
  std::vector<RuleRef> matched;       // every rule whose matches all held, in order (and the policy)
  bool hotdrop = false;
};

class Interpreter final : public Classifier {
 public:
  explicit Interpreter(const Ruleset& rs);
  // Traverses table's built-in chain for `hook`; a table without that chain
  // accepts. Counts into counters().
  TraversalResult run(std::string_view table, Hook hook, EvalContext& ctx) override;
  CounterSet& counters() override { return counters_; }
  const Ruleset& ruleset() const { return rs_; }

 private:
  const Ruleset& rs_;
  CounterSet counters_;
  std::vector<std::map<std::string, size_t, std::less<>>> chainIndex_;  // per table: name -> chain
};

// ip_packet_match / ip6_packet_match: the rule's IP header part.
// Sets ctx.hotdrop where the kernel does (IPv6 header walk failure).
bool ipHeaderMatches(const IpHeaderMatch& ip, Family f, EvalContext& ctx);
// Interface name comparison with iptables' '+' wildcard.
bool ifaceMatches(const std::string& pattern, const std::string& iface);

}  // namespace nfjit
