// -j DNPT: stateless IPv6 network prefix translation of the destination prefix (PREROUTING/OUTPUT);
// mangle table (kernel: ip6t_NPT.c).
#include "compiler/extensions/tgt_npt.h"

namespace nfjit {
namespace {

class DNPTTarget final : public tgt::NptTarget {
 public:
  explicit DNPTTarget(Family) : NptTarget(false, "DNPT") {}
};

}  // namespace

NFJIT_REGISTER_TARGET("DNPT", kFamV6, DNPTTarget);

}  // namespace nfjit
