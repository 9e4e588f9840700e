// -j CHECKSUM --checksum-fill: complete a checksum left to offload
// (CHECKSUM_PARTIAL) in software (kernel: xt_CHECKSUM.c). mangle table.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class ChecksumTarget final : public TargetExt {
 public:
  explicit ChecksumTarget(Family) {}
  std::string_view name() const override { return "CHECKSUM"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"checksum-fill", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg&) override { fill_ = true; }
  void finalCheck(const RuleContext& ctx) override {
    if (!fill_) ctx.fail("CHECKSUM target: option `--checksum-fill' must be specified");
    tgt::requireTable(ctx, "CHECKSUM", {"mangle"});
  }
  void save(SaveWriter& w) const override {
    if (fill_) w.opt("checksum-fill");
  }
  Verdict apply(EvalContext&) const override {
    // The packets nfjit sees always carry complete checksums (no offload
    // state), which the kernel target leaves untouched.
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  bool fill_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("CHECKSUM", kFamBoth, ChecksumTarget);

}  // namespace nfjit
