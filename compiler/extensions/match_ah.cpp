// -m ah: two kernel modules under one name. IPv4 (ipt_ah.c) reads the AH
// header as the transport header of `-p ah'; IPv6 (ip6t_ah.c) finds it in
// the extension-header chain and can also test its length and reserved field.
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

class AhMatch4 final : public MatchExt {
 public:
  explicit AhMatch4(Family) {}
  std::string_view name() const override { return "ah"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"ahspi", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    spi_ = args::rangeOrFail(a, a.value, 0, UINT32_MAX);
    inv_ = a.inverted;
  }
  void finalCheck(const RuleContext& ctx) override { hdr::requireProto(ctx, 51, "ah", "ah"); }
  void save(SaveWriter& w) const override {
    if (!(spi_ == args::Range{0, UINT32_MAX}) || inv_) hdr::saveRange(w, "ahspi", spi_, inv_);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t h[12];  // next header, length, reserved, SPI, sequence
    if (!headerAt(p, p.thoff, h, sizeof h)) {
      ctx.hotdrop = true;
      return false;
    }
    return hdr::inRange(be32(h + 4), spi_) != inv_;
  }

  args::Range spi_{0, UINT32_MAX};
  bool inv_ = false;
};

class AhMatch6 final : public MatchExt {
 public:
  explicit AhMatch6(Family) {}
  std::string_view name() const override { return "ah"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"ahspi", ArgKind::Required, true}, {"ahlen", ArgKind::Required, true}, {"ahres", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        spi_ = args::rangeOrFail(a, a.value, 0, UINT32_MAX);
        invSpi_ = a.inverted;
        break;
      case 1:
        len_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        invLen_ = a.inverted;
        break;
      case 2: res_ = true; break;
    }
  }
  void save(SaveWriter& w) const override {
    if (!(spi_ == args::Range{0, UINT32_MAX}) || invSpi_) hdr::saveRange(w, "ahspi", spi_, invSpi_);
    if (len_ != 0 || invLen_) w.opt("ahlen", invLen_).num(len_);
    if (res_) w.opt("ahres");
  }
  bool match(EvalContext& ctx) const override {
    uint32_t off = 0;
    if (!hdr::findOrDrop(ctx, hdr::kNhAuth, off)) return false;
    uint8_t h[12];
    if (!headerAt(ctx.pkt, off, h, sizeof h)) {
      ctx.hotdrop = true;
      return false;
    }
    uint32_t hlen = (uint32_t(h[1]) + 2) << 2;
    if (hdr::inRange(be32(h + 4), spi_) == invSpi_) return false;
    // A zero --ahlen means "not given", as in the kernel.
    if (len_ != 0 && (len_ == hlen) == invLen_) return false;
    if (res_ && be16(h + 2) != 0) return false;
    return true;
  }

  args::Range spi_{0, UINT32_MAX};
  uint32_t len_ = 0;
  bool invSpi_ = false, invLen_ = false, res_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("ah", kFamV4, AhMatch4);
NFJIT_REGISTER_MATCH("ah", kFamV6, AhMatch6);

}  // namespace nfjit
