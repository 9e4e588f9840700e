// -m udp: port ranges (kernel: xt_tcpudp.c, udp_mt).
#include "compiler/extensions/hdr_udp.h"

namespace nfjit {
NFJIT_REGISTER_MATCH("udp", kFamBoth, hdr::UdpLikeMatch<17>);
}  // namespace nfjit
