// DESIGN.md's kernel test topology: three namespaces src → fw → sink joined
// by veth pairs (src:vsrc ↔ fw:in0, fw:out0 ↔ sink:vsink), nothing linked to
// the root namespace. Frames are sent from src with an AF_PACKET socket and
// whatever reaches sink is captured the same way.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/Netns.h"

namespace nfjit::testing {

struct TopologyAddrs {
  std::string in0, in0Net, out0, out0Net, sinkHop;
  unsigned in0Len = 24, out0Len = 24;
};
TopologyAddrs topologyAddrs(Family f);
// fw as `nfjit replay` (and the verifier's host model) sees it: arrivals on
// in0, default route out0, in0's and out0's addresses local.
HostModel topologyHost(Family f);

class Topology {
 public:
  // Builds the three namespaces; throws std::runtime_error on failure.
  explicit Topology(Family f);
  ~Topology();

  Family family() const { return family_; }
  const Netns& fw() const { return *fw_; }
  // Loads a ruleset into fw with the kernel's restore tool (zero counters).
  RestoreResult load(const std::string& rules);
  // Sends each IP packet from src as an Ethernet frame to in0's MAC, waits
  // until fw has processed them, and returns the IP packets that reached
  // sink (family only).
  std::vector<std::vector<uint8_t>> send(const std::vector<std::vector<uint8_t>>& ipPackets);
  // The reply direction: sends each IP packet from sink as an Ethernet frame
  // to out0's MAC, waits until fw has processed them, and returns the IP
  // packets that reached src (fw routes in0's network back out in0).
  std::vector<std::vector<uint8_t>> sendFromSink(const std::vector<std::vector<uint8_t>>& ipPackets);
  // iptables-save -c of fw, comment lines removed.
  std::string saveCounters() const;

 private:
  Family family_;
  std::unique_ptr<Netns> src_, fw_, sink_;
  // Frames from `txFd` (dst → src MAC), then what arrives on `rxFd`.
  std::vector<std::vector<uint8_t>> inject(int txFd, int txIfindex, const std::array<uint8_t, 6>& dstMac,
                                           const std::array<uint8_t, 6>& srcMac, int rxFd,
                                           const std::vector<std::vector<uint8_t>>& ipPackets);
  std::array<uint8_t, 6> in0Mac_{}, vsrcMac_{}, out0Mac_{}, vsinkMac_{};
  // One AF_PACKET socket per end host, each sending and capturing there.
  int txFd_ = -1, rxFd_ = -1;
  int txIfindex_ = 0, rxIfindex_ = 0;
};

}  // namespace nfjit::testing
