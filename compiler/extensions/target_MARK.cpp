// -j MARK: skb->mark = (mark & ~mask) ^ value (kernel: xt_mark.c, revision 2).
#include "compiler/extensions/tgt_util.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

class MarkTarget final : public TargetExt {
 public:
  explicit MarkTarget(Family) {}
  std::string_view name() const override { return "MARK"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"set-xmark", ArgKind::Required}, {"set-mark", ArgKind::Required},
        {"and-mark", ArgKind::Required},  {"or-mark", ArgKind::Required},
        {"xor-mark", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    excl_.take(a);
    switch (a.index) {
      case 0: {
        auto vm = args::valueMaskOrFail(a, a.value);
        mark_ = vm.value;
        mask_ = vm.mask;
        break;
      }
      case 1: {
        // --set-mark v/m zeroes the bits of m and sets v: the xor mask is v|m.
        auto vm = args::valueMaskOrFail(a, a.value);
        mark_ = vm.value;
        mask_ = vm.value | vm.mask;
        break;
      }
      case 2: {
        uint32_t v = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        mark_ = 0;
        mask_ = ~v;
        break;
      }
      case 3: mark_ = mask_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); break;
      case 4:
        mark_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        mask_ = 0;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!excl_.any())
      ctx.fail("MARK target: one of the --set-xmark, --{and,or,xor,set}-mark options is required");
  }
  void save(SaveWriter& w) const override {
    w.opt("set-xmark").word(tgt::hexw(mark_, 0) + "/" + tgt::hexw(mask_, 0));
  }
  bool lowerEffect(LoweringContext& c) const override {
    c.setXor(Field::Mark, mark_, mask_);
    return true;
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.pkt.mark = (ctx.pkt.mark & ~mask_) ^ mark_;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint32_t mark_ = 0, mask_ = 0;
  tgt::Exclusive excl_;
};

}  // namespace

NFJIT_REGISTER_TARGET("MARK", kFamBoth, MarkTarget);

}  // namespace nfjit
