// DPDK rte_acl as a peer classifier for nfjit-bench (built only when
// libdpdk is found). Rules and packets are the ClassBench 5-tuples.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/Trace.h"

struct rte_acl_ctx;

namespace nfjit::bench {

class DpdkAcl {
 public:
  // Initialises the EAL once (no hugepages, no PCI); false with `error` on failure.
  static bool init(std::string& error);
  // Builds the ACL context: rule i gets priority (rules - i) so that the
  // first rule wins, userdata id + 1 (0 = no match).
  DpdkAcl(const std::vector<CanonRule>& rules, std::string& error);
  ~DpdkAcl();
  bool ok() const { return ctx_ != nullptr; }
  // Classifies packets [0, n) of `tuples` in batches; out[i] = rule id or -1.
  void classify(size_t first, size_t n, std::vector<int32_t>& out) const;
  void setPackets(const std::vector<Packet>& packets);
  std::string algorithm() const { return alg_; }

 private:
  ::rte_acl_ctx* ctx_ = nullptr;
  std::vector<uint8_t> tuples_;  // 16 bytes per packet, network order
  std::string alg_;
};

}  // namespace nfjit::bench
