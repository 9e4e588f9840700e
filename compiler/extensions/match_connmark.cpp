// -m connmark: the mark of the packet's connection under a mask
// (kernel: xt_connmark.c connmark_mt).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

class ConnmarkMatch final : public MatchExt {
 public:
  explicit ConnmarkMatch(Family) {}
  std::string_view name() const override { return "connmark"; }
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
    if (!set_) ctx.fail("connmark match: --mark is required");
  }
  void save(SaveWriter& w) const override {
    w.opt("mark", inv_);
    meta::saveMarkMask(w, mark_, mask_);
  }
  bool match(EvalContext& ctx) const override {
    // No conntrack: no match, whatever the inversion.
    if (!meta::ctPresent(ctx.pkt.ct)) return false;
    return ((ctx.pkt.ct.mark & mask_) == mark_) != inv_;
  }

  uint32_t mark_ = 0, mask_ = 0xffffffff;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("connmark", kFamBoth, ConnmarkMatch);

}  // namespace nfjit
