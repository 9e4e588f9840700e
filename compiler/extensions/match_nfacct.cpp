// -m nfacct: counts the packet in a named extended accounting object
// (kernel: xt_nfacct.c). Objects are created with the nfacct tool, outside
// the ruleset; a fresh network namespace has none, so the kernel's
// checkentry fails for every name and so does nfjit.
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class NfacctMatch final : public MatchExt {
 public:
  explicit NfacctMatch(Family) {}
  std::string_view name() const override { return "nfacct"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"nfacct-name", ArgKind::Required, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.value.empty()) a.fail("--nfacct-name must not be empty");
    // NFACCT_NAME_MAX is 32 bytes with the NUL: iptables keeps 31 characters.
    name_ = a.value.substr(0, 31);
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("nfacct match: --nfacct-name is required");
    ctx.fail("nfacct: accounting object `" + name_ +
             "' does not exist (create it with `nfacct add " + name_ + "' first)");
  }
  void save(SaveWriter& w) const override { w.opt("nfacct-name").str(name_); }
  bool match(EvalContext&) const override {
    // An object without quota only counts: the match always succeeds.
    return true;
  }

  std::string name_;
  bool set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("nfacct", kFamBoth, NfacctMatch);

}  // namespace nfjit
