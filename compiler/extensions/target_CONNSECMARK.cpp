// -j CONNSECMARK: copy the security mark from packet to connection (--save)
// or back (--restore) (kernel: xt_CONNSECMARK.c). mangle or security table.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class ConnsecmarkTarget final : public TargetExt {
 public:
  explicit ConnsecmarkTarget(Family) {}
  std::string_view name() const override { return "CONNSECMARK"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"save", ArgKind::None}, {"restore", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    excl_.take(a);
    mode_ = a.index == 0 ? 1 : 2;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!mode_) ctx.fail("CONNSECMARK target: parameter --save or --restore is required");
    tgt::requireTable(ctx, "CONNSECMARK", {"mangle", "security"});
  }
  void save(SaveWriter& w) const override { w.opt(mode_ == 1 ? "save" : "restore"); }
  Verdict apply(EvalContext& ctx) const override {
    // Only packets with a connection; the runtime holds both secmarks and
    // copies only into an unset one.
    if (tgt::hasConntrack(ctx.pkt)) ctx.effects.connsecmark = mode_;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint8_t mode_ = 0;  // 1 save, 2 restore
  tgt::Exclusive excl_;
};

}  // namespace

NFJIT_REGISTER_TARGET("CONNSECMARK", kFamBoth, ConnsecmarkTarget);

}  // namespace nfjit
