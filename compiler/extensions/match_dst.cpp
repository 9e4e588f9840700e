// -m dst: IPv6 destination options header (kernel: ip6t_hbh.c, "dst").
#include "compiler/extensions/hdr_opts.h"

namespace nfjit {
NFJIT_REGISTER_MATCH("dst", kFamV6, hdr::OptsMatch<hdr::kNhDest>);
}  // namespace nfjit
