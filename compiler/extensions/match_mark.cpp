// -m mark: the packet's nfmark under a mask (kernel: xt_mark.c).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

class MarkMatch final : public MatchExt {
 public:
  explicit MarkMatch(Family) {}
  std::string_view name() const override { return "mark"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"mark", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    auto vm = args::valueMaskOrFail(a, a.value);
    mark_ = vm.value;
    mask_ = vm.mask;
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("mark match: --mark is required");
  }
  void save(SaveWriter& w) const override {
    w.opt("mark", inv_);
    meta::saveMarkMask(w, mark_, mask_);
  }
  bool lower(LoweringContext& c) const override {
    auto t = c.maskEq(Field::Mark, mark_, mask_);
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override { return ((ctx.pkt.mark & mask_) == mark_) != inv_; }

  uint32_t mark_ = 0, mask_ = 0xffffffff;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("mark", kFamBoth, MarkMatch);

}  // namespace nfjit
