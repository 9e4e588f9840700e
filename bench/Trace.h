// ClassBench inputs for nfjit-bench: the canonical rules, the trace and its
// ground truth (see /work/shared/classbench/README.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nfjit::bench {

struct CanonRule {
  int id;
  uint32_t sip, dip;
  unsigned slen, dlen;
  uint16_t splo, sphi, dplo, dphi;
  int proto;  // -1 = any
};

struct Packet {
  uint32_t sip, dip;
  uint16_t sport, dport;
  uint8_t proto;
};

std::vector<CanonRule> loadCanon(const std::string& path);
std::vector<Packet> loadTrace(const std::string& path);
std::vector<int32_t> loadMatches(const std::string& path);
// The rule id of each rule of chain CB, in order: a port rule for any
// protocol became a tcp and a udp rule with the same id.
std::vector<int32_t> iptablesRuleIds(const std::vector<CanonRule>& rules);

}  // namespace nfjit::bench
