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
  void parseOption(const OptionArg& a) override { mark_.parse(a); }
  void finalCheck(const RuleContext& ctx) override { mark_.requireGiven(ctx, "connmark"); }
  void save(SaveWriter& w) const override { mark_.save(w); }
  bool match(EvalContext& ctx) const override {
    // No conntrack: no match, whatever the inversion.
    return meta::ctPresent(ctx.pkt.ct) && mark_.holdsFor(ctx.pkt.ct.mark);
  }

  meta::MarkOption mark_;
};

}  // namespace

NFJIT_REGISTER_MATCH("connmark", kFamBoth, ConnmarkMatch);

}  // namespace nfjit
