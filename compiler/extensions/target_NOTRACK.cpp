// -j NOTRACK: the packet bypasses connection tracking; an alias of
// `-j CT --notrack' that iptables still saves as NOTRACK. raw table.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class NotrackTarget final : public TargetExt {
 public:
  explicit NotrackTarget(Family) {}
  std::string_view name() const override { return "NOTRACK"; }
  std::span<const OptionSpec> options() const override { return {}; }
  void parseOption(const OptionArg&) override {}
  void finalCheck(const RuleContext& ctx) override { tgt::requireTable(ctx, "NOTRACK", {"raw"}); }
  void save(SaveWriter&) const override {}
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.notrack = true;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }
};

}  // namespace

NFJIT_REGISTER_TARGET("NOTRACK", kFamBoth, NotrackTarget);

}  // namespace nfjit
