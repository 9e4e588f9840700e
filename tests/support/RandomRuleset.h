// Random rulesets and boundary packets for differential tests against the
// kernel. Everything is derived from a seed, so a failure is reproducible.
// The rulesets stay inside what the oracle topology can judge: raw, mangle
// and filter tables, no conntrack or NAT, REJECT only where its reply takes
// a path the model covers.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "compiler/ir/Types.h"

namespace nfjit::testing {

class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t below(uint64_t n) { return n ? g_() % n : 0; }
  bool chance(unsigned percent) { return below(100) < percent; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  std::mt19937_64 g_;
};

struct GeneratedCase {
  std::string rules;                          // iptables-restore text
  std::vector<std::vector<uint8_t>> packets;  // IP packets, as src sends them
};

GeneratedCase generateCase(Family f, uint64_t seed, unsigned rulesPerChain = 8, unsigned packets = 40);

}  // namespace nfjit::testing
