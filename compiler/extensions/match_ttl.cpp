// -m ttl: IPv4 TTL equal / not equal / less / greater (kernel: ipt_ttl).
#include "compiler/extensions/hdr_ttl.h"

namespace nfjit {
NFJIT_REGISTER_MATCH("ttl", kFamV4, hdr::TtlMatch<false>);
}  // namespace nfjit
