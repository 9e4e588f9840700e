// -m ipcomp: compression parameter index range (kernel: xt_ipcomp.c).
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

class IpcompMatch final : public MatchExt {
 public:
  explicit IpcompMatch(Family) {}
  std::string_view name() const override { return "ipcomp"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"ipcompspi", ArgKind::Required, true}, {"compres", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 0) {
      spi_ = args::rangeOrFail(a, a.value, 0, UINT32_MAX);
      inv_ = a.inverted;
    } else {
      // Stored and printed like iptables does; the kernel never tests it.
      res_ = true;
    }
  }
  void finalCheck(const RuleContext& ctx) override { hdr::requireProto(ctx, 108, "ipcomp", "ipcomp"); }
  void save(SaveWriter& w) const override {
    if (!(spi_ == args::Range{0, UINT32_MAX}) || inv_) hdr::saveRange(w, "ipcompspi", spi_, inv_);
    if (res_) w.opt("compres");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t h[4];  // next header, flags, 16-bit CPI
    if (!headerAt(p, p.thoff, h, sizeof h)) {
      ctx.hotdrop = true;
      return false;
    }
    return hdr::inRange(be16(h + 2), spi_) != inv_;
  }

  args::Range spi_{0, UINT32_MAX};
  bool inv_ = false, res_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("ipcomp", kFamBoth, IpcompMatch);

}  // namespace nfjit
