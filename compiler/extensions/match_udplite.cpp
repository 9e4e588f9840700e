// -m udplite: the udp match bound to IPPROTO_UDPLITE (kernel: xt_tcpudp.c).
#include "compiler/extensions/hdr_udp.h"

namespace nfjit {
NFJIT_REGISTER_MATCH("udplite", kFamBoth, hdr::UdpLikeMatch<136>);
}  // namespace nfjit
