// -m hl: IPv6 hop limit equal / not equal / less / greater (kernel: ip6t_hl).
#include "compiler/extensions/hdr_ttl.h"

namespace nfjit {
NFJIT_REGISTER_MATCH("hl", kFamV6, hdr::TtlMatch<true>);
}  // namespace nfjit
