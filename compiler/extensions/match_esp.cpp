// -m esp: SPI range of an ESP header (kernel: xt_esp.c).
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

class EspMatch final : public MatchExt {
 public:
  explicit EspMatch(Family) {}
  std::string_view name() const override { return "esp"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"espspi", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    spi_ = args::rangeOrFail(a, a.value, 0, UINT32_MAX);
    inv_ = a.inverted;
  }
  void finalCheck(const RuleContext& ctx) override { hdr::requireProto(ctx, 50, "esp", "esp"); }
  void save(SaveWriter& w) const override {
    if (!(spi_ == args::Range{0, UINT32_MAX}) || inv_) hdr::saveRange(w, "espspi", spi_, inv_);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t h[8];  // SPI and sequence number
    if (!headerAt(p, p.thoff, h, sizeof h)) {
      ctx.hotdrop = true;
      return false;
    }
    return hdr::inRange(be32(h), spi_) != inv_;
  }

  args::Range spi_{0, UINT32_MAX};
  bool inv_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("esp", kFamBoth, EspMatch);

}  // namespace nfjit
