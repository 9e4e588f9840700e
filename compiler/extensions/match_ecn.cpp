// -m ecn: ECN bits of the IP header and the TCP ECE/CWR flags (kernel: xt_ecn.c).
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

class EcnMatch final : public MatchExt {
 public:
  explicit EcnMatch(Family) {}
  std::string_view name() const override { return "ecn"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"ecn-tcp-cwr", ArgKind::None, true},
                                      {"ecn-tcp-ece", ArgKind::None, true},
                                      {"ecn-ip-ect", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        cwr_ = true;
        invCwr_ = a.inverted;
        break;
      case 1:
        ece_ = true;
        invEce_ = a.inverted;
        break;
      case 2:
        ect_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 3));
        ip_ = true;
        invIp_ = a.inverted;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!cwr_ && !ece_ && !ip_) ctx.fail("ECN match: some option required");
    if ((cwr_ || ece_) && (ctx.proto != 6 || ctx.protoInverted))
      ctx.fail("ecn match: cannot match TCP bits in rule for non-tcp packets (use -p tcp)");
  }
  void save(SaveWriter& w) const override {
    if (ece_) w.opt("ecn-tcp-ece", invEce_);
    if (cwr_) w.opt("ecn-tcp-cwr", invCwr_);
    if (ip_) w.opt("ecn-ip-ect", invIp_).num(ect_);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (ip_ && ((hdr::dsfield(p) & 0x03) == ect_) == invIp_) return false;
    if (ece_ || cwr_) {
      uint8_t th[20];
      if (!headerAt(p, p.thoff, th, sizeof th)) return false;  // no hotdrop here in the kernel
      bool ece = th[13] & 0x40, cwr = th[13] & 0x80;
      if (ece_ && ece == invEce_) return false;
      if (cwr_ && cwr == invCwr_) return false;
    }
    return true;
  }

  bool cwr_ = false, ece_ = false, ip_ = false, invCwr_ = false, invEce_ = false, invIp_ = false;
  uint8_t ect_ = 0;
};

}  // namespace

NFJIT_REGISTER_MATCH("ecn", kFamBoth, EcnMatch);

}  // namespace nfjit
