// -m hbh: IPv6 hop-by-hop options header (kernel: ip6t_hbh.c).
#include "compiler/extensions/hdr_opts.h"

namespace nfjit {
NFJIT_REGISTER_MATCH("hbh", kFamV6, hdr::OptsMatch<hdr::kNhHop>);
}  // namespace nfjit
