// The address/port range of SNAT, DNAT, MASQUERADE and REDIRECT
// (struct nf_nat_range2 in the kernel): parsing as libxt_NAT does, printing
// as iptables-save does, and the NatRequest handed to the runtime.
#pragma once
#include <string>
#include <string_view>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit::tgt {

struct NatRange {
  bool mapIps = false;          // NF_NAT_RANGE_MAP_IPS
  bool protoSpecified = false;  // NF_NAT_RANGE_PROTO_SPECIFIED
  bool protoOffset = false;     // NF_NAT_RANGE_PROTO_OFFSET
  IpAddr minAddr, maxAddr;
  uint16_t minPort = 0, maxPort = 0, basePort = 0;
  bool random = false, fullyRandom = false, persistent = false;
  SourceLoc portLoc;            // where ports were given, for the -p check
};

// "port[-port[/base]]"; the first port may be a service name.
void parseNatPorts(const OptionArg& a, std::string_view s, NatRange& r);
// "[addr[-addr]][:ports]", IPv6 with ports as "[addr[-addr]]:ports".
void parseNatTo(const OptionArg& a, Family f, std::string_view s, NatRange& r);
// What iptables-save prints after --to-source/--to-destination/--to-ports.
std::string formatNatRange(Family f, const NatRange& r, bool skipColon);
// " --random --random-fully --persistent" as set.
void saveNatFlags(SaveWriter& w, const NatRange& r);
// Ports are only allowed with -p tcp/udp/sctp/dccp/icmp (checked when the
// option is parsed in iptables; here once the rule is complete).
void checkNatPorts(const RuleContext& ctx, const NatRange& r);
NatRequest natRequest(NatRequest::Kind k, const NatRange& r);

}  // namespace nfjit::tgt
