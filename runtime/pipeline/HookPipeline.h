// The kernel's path of a received packet through the netfilter hooks:
// raw → mangle → nat PREROUTING, the routing decision (local address →
// INPUT path, otherwise FORWARD with the TTL already decremented), then
// mangle/filter INPUT (+ nat INPUT) or mangle/filter FORWARD → mangle/nat
// POSTROUTING. nat chains see only a connection's first packet.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "compiler/interp/Interpreter.h"
#include "runtime/packet/FrameParser.h"

namespace nfjit {

struct HostModel {
  std::string inIface = "in0";
  std::string outIface = "out0";
  std::vector<IpAddr> localAddrs;  // of the ruleset's family
};

struct HookStep {
  std::string table;
  Hook hook;
  TraversalResult result;
};

struct PipelineResult {
  enum class Fate : uint8_t {
    Malformed,   // dropped by the IP layer before any hook
    NotIp,       // not an IP packet of the ruleset's family
    Dropped,     // a chain's verdict (or a match's hotdrop)
    Stolen,      // taken by a target (REJECT replies instead)
    Queued,
    RouteDrop,   // the IP layer's routing/forwarding refused it (TTL, martian, other host)
    Delivered,   // accepted on the INPUT path
    Forwarded,   // accepted on the FORWARD path: leaves by the out interface
  };
  Fate fate = Fate::Dropped;
  bool forwardPath = false;
  L3Status l3 = L3Status::Ok;
  std::string reason;            // for RouteDrop / Malformed
  std::vector<HookStep> steps;
  SideEffects effects;           // what targets asked for along the way
};
const char* fateName(PipelineResult::Fate f);

class HookPipeline {
 public:
  HookPipeline(const Ruleset& rs, HostModel host);
  // Processes one IP packet in place (the forward path rewrites the TTL).
  PipelineResult process(uint8_t* l3, uint32_t len, PktType pktType, std::array<uint8_t, 6> srcMac, bool hasMac,
                         uint64_t nowNs, uint64_t wallSec);
  Interpreter& interpreter() { return interp_; }

 private:
  bool isLocal(const IpAddr& a) const;
  bool isMartianSource(const PacketView& p) const;
  bool firstPacketOfFlow(const PacketView& p);

  const Ruleset& rs_;
  HostModel host_;
  Interpreter interp_;
  // Flows already seen (both directions): the nat table is consulted only for
  // the first packet of a connection. The conntrack runtime will replace this.
  std::set<std::vector<uint8_t>> flows_;
};

}  // namespace nfjit
