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
  void parseOption(const OptionArg& a) override { mark_.parse(a); }
  void finalCheck(const RuleContext& ctx) override { mark_.requireGiven(ctx, "mark"); }
  void save(SaveWriter& w) const override { mark_.save(w); }
  bool lower(LoweringContext& c) const override {
    auto t = c.maskEq(Field::Mark, mark_.mark, mark_.mask);
    c.require(mark_.inverted ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override { return mark_.holdsFor(ctx.pkt.mark); }

  meta::MarkOption mark_;
};

}  // namespace

NFJIT_REGISTER_MATCH("mark", kFamBoth, MarkMatch);

}  // namespace nfjit
