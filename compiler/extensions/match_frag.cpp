// -m frag: IPv6 fragment header fields (kernel: ip6t_frag.c).
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

class FragMatch final : public MatchExt {
 public:
  explicit FragMatch(Family) {}
  std::string_view name() const override { return "frag"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"fragid", ArgKind::Required, true}, {"fraglen", ArgKind::Required, true},
        {"fragres", ArgKind::None},          {"fragfirst", ArgKind::None},
        {"fragmore", ArgKind::None},         {"fraglast", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        ids_ = args::rangeOrFail(a, a.value, 0, UINT32_MAX);
        invIds_ = a.inverted;
        break;
      case 1:
        len_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        haveLen_ = true;
        invLen_ = a.inverted;
        break;
      case 2: res_ = true; break;
      case 3: first_ = true; break;
      case 4:
        if (last_) a.fail("--fragmore cannot be used with --fraglast");
        more_ = true;
        break;
      case 5:
        if (more_) a.fail("--fraglast cannot be used with --fragmore");
        last_ = true;
        break;
    }
  }
  void save(SaveWriter& w) const override {
    if (!(ids_ == args::Range{0, UINT32_MAX}) || invIds_) hdr::saveRange(w, "fragid", ids_, invIds_);
    if (haveLen_) w.opt("fraglen", invLen_).num(len_);
    if (res_) w.opt("fragres");
    if (first_) w.opt("fragfirst");
    if (more_) w.opt("fragmore");
    if (last_) w.opt("fraglast");
  }
  bool match(EvalContext& ctx) const override {
    uint32_t off = 0;
    if (!hdr::findOrDrop(ctx, hdr::kNhFragment, off)) return false;
    uint8_t fh[8];  // next header, reserved, offset+flags, identification
    if (!headerAt(ctx.pkt, off, fh, sizeof fh)) {
      ctx.hotdrop = true;
      return false;
    }
    uint16_t fo = be16(fh + 2);
    if (hdr::inRange(be32(fh + 4), ids_) == invIds_) return false;
    // --fraglen is stored and printed but, as in the kernel, never tested.
    if (res_ && (fh[1] != 0 || (fo & 0x6) != 0)) return false;
    if (first_ && (fo & ~0x7u) != 0) return false;
    if (more_ && !(fo & 1)) return false;
    if (last_ && (fo & 1)) return false;
    return true;
  }

  args::Range ids_{0, UINT32_MAX};
  uint32_t len_ = 0;
  bool invIds_ = false, haveLen_ = false, invLen_ = false;
  bool res_ = false, first_ = false, more_ = false, last_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("frag", kFamV6, FragMatch);

}  // namespace nfjit
