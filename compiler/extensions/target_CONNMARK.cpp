// -j CONNMARK: set the connection mark, or copy it between packet and
// connection under masks, with an optional shift (kernel: xt_connmark.c,
// revision 2).
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

enum class Mode : uint8_t { None, Set, Save, Restore };

class ConnmarkTarget final : public TargetExt {
 public:
  explicit ConnmarkTarget(Family) {}
  std::string_view name() const override { return "CONNMARK"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"set-xmark", ArgKind::Required},      {"set-mark", ArgKind::Required},
        {"and-mark", ArgKind::Required},       {"or-mark", ArgKind::Required},
        {"xor-mark", ArgKind::Required},       {"save-mark", ArgKind::None},
        {"restore-mark", ArgKind::None},       {"left-shift-mark", ArgKind::Required},
        {"right-shift-mark", ArgKind::Required}, {"ctmask", ArgKind::Required},
        {"nfmask", ArgKind::Required},         {"mask", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    auto u32 = [&] { return static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); };
    if (a.index <= 6) op_.take(a);
    switch (a.index) {
      case 0: {
        auto vm = args::valueMaskOrFail(a, a.value);
        mode_ = Mode::Set, ctmark_ = vm.value, ctmask_ = vm.mask;
        break;
      }
      case 1: {
        auto vm = args::valueMaskOrFail(a, a.value);
        mode_ = Mode::Set, ctmark_ = vm.value, ctmask_ = vm.value | vm.mask;
        break;
      }
      case 2: mode_ = Mode::Set, ctmark_ = 0, ctmask_ = ~u32(); break;
      case 3: mode_ = Mode::Set, ctmark_ = ctmask_ = u32(); break;
      case 4: mode_ = Mode::Set, ctmark_ = u32(), ctmask_ = 0; break;
      case 5: mode_ = Mode::Save; break;
      case 6: mode_ = Mode::Restore; break;
      case 7: case 8:
        shiftRight_ = a.index == 8;
        shiftBits_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 32));
        break;
      case 9: case 10:
        // --ctmask/--nfmask and --mask exclude each other.
        if (haveMask_) a.failAt(a.optLoc, "option `--" + std::string(a.name) + "' cannot be used together with `--mask'");
        haveCtNf_ = true;
        (a.index == 9 ? ctmask_ : nfmask_) = u32();
        break;
      case 11:
        if (haveCtNf_) a.failAt(a.optLoc, "option `--mask' cannot be used together with `--ctmask'/`--nfmask'");
        haveMask_ = true;
        nfmask_ = ctmask_ = u32();
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (mode_ == Mode::None) ctx.fail("CONNMARK target: no operation specified");
  }
  void save(SaveWriter& w) const override {
    auto h = [](uint32_t v) { return tgt::hexw(v, 0); };
    switch (mode_) {
      case Mode::Set: w.opt("set-xmark").word(h(ctmark_) + "/" + h(ctmask_)); break;
      case Mode::Save: w.opt("save-mark").opt("nfmask").word(h(nfmask_)).opt("ctmask").word(h(ctmask_)); break;
      case Mode::Restore: w.opt("restore-mark").opt("nfmask").word(h(nfmask_)).opt("ctmask").word(h(ctmask_)); break;
      case Mode::None: break;
    }
    if (shiftBits_ != 0) w.opt(shiftRight_ ? "right-shift-mark" : "left-shift-mark").num(shiftBits_);
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (!tgt::hasConntrack(p)) return Verdict::Continue;
    switch (mode_) {
      case Mode::Set: p.ct.mark = shift((p.ct.mark & ~ctmask_) ^ ctmark_); break;
      case Mode::Save: p.ct.mark = (p.ct.mark & ~ctmask_) ^ shift(p.mark & nfmask_); break;
      case Mode::Restore: p.mark = (p.mark & ~nfmask_) ^ shift(p.ct.mark & ctmask_); break;
      case Mode::None: break;
    }
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint32_t shift(uint32_t v) const {
    if (shiftBits_ >= 32) return 0;  // the kernel's u32 shift by 32 is undefined; nothing survives it
    return shiftRight_ ? v >> shiftBits_ : v << shiftBits_;
  }
  Mode mode_ = Mode::None;
  uint32_t ctmark_ = 0, ctmask_ = UINT32_MAX, nfmask_ = UINT32_MAX;
  bool shiftRight_ = false;
  uint8_t shiftBits_ = 0;
  bool haveMask_ = false, haveCtNf_ = false;
  tgt::Exclusive op_;
};

}  // namespace

NFJIT_REGISTER_TARGET("CONNMARK", kFamBoth, ConnmarkTarget);

}  // namespace nfjit
