// -j SNPT: stateless IPv6 network prefix translation of the source prefix (INPUT/POSTROUTING);
// mangle table (kernel: ip6t_NPT.c).
#include "compiler/extensions/tgt_npt.h"

namespace nfjit {
namespace {

class SNPTTarget final : public tgt::NptTarget {
 public:
  explicit SNPTTarget(Family) : NptTarget(true, "SNPT") {}
};

}  // namespace

NFJIT_REGISTER_TARGET("SNPT", kFamV6, SNPTTarget);

}  // namespace nfjit
