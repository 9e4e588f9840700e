// -m state: the conntrack state of the packet (kernel: xt_state.c; iptables
// implements it as an alias of conntrack --ctstate, saved as --state).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

class StateMatch final : public MatchExt {
 public:
  explicit StateMatch(Family) {}
  std::string_view name() const override { return "state"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"state", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    mask_ = meta::parseStateList(a.value, false);
    if (!mask_) a.fail("bad state `" + a.value + "' for --state");
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("state match: --state is required");
  }
  void save(SaveWriter& w) const override {
    w.opt("state", inv_).word(meta::formatStateList(mask_));
  }
  bool lower(LoweringContext& c) const override {
    auto t = c.negate(c.maskEq(Field::CtState, 0, mask_));
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    return ((meta::packetStateBits(ctx.pkt.ct, false) & mask_) != 0) != inv_;
  }

  uint16_t mask_ = 0;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("state", kFamBoth, StateMatch);

}  // namespace nfjit
