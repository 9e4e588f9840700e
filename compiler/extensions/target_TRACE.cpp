// -j TRACE: mark the packet so every rule it traverses is logged
// (kernel: xt_TRACE.c sets skb->nf_trace). raw table.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class TraceTarget final : public TargetExt {
 public:
  explicit TraceTarget(Family) {}
  std::string_view name() const override { return "TRACE"; }
  std::span<const OptionSpec> options() const override { return {}; }
  void parseOption(const OptionArg&) override {}
  void finalCheck(const RuleContext& ctx) override { tgt::requireTable(ctx, "TRACE", {"raw"}); }
  void save(SaveWriter&) const override {}
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.trace = true;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }
};

}  // namespace

NFJIT_REGISTER_TARGET("TRACE", kFamBoth, TraceTarget);

}  // namespace nfjit
