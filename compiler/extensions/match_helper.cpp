// -m helper: the conntrack helper of the master connection of a related
// (expected) connection (kernel: xt_helper.c).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

class HelperMatch final : public MatchExt {
 public:
  explicit HelperMatch(Family) {}
  std::string_view name() const override { return "helper"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"helper", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    // struct xt_helper_info holds 30 bytes including the NUL: iptables
    // silently keeps the first 29 characters.
    name_ = a.value.substr(0, 29);
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("helper match: --helper is required");
  }
  void save(SaveWriter& w) const override { w.opt("helper", inv_).str(name_); }
  bool match(EvalContext& ctx) const override {
    const ConnInfo& ct = ctx.pkt.ct;
    // Only connections created from an expectation have a master; its
    // helper is what ConnInfo::helper reports for them.
    if (!meta::ctPresent(ct) || !(ct.status & meta::kIpsExpected) || ct.helper.empty()) return inv_;
    if (name_.empty()) return !inv_;
    // The kernel compares strlen(helper name) bytes: a longer rule name
    // whose start is the helper's name also matches.
    bool eq = name_.compare(0, ct.helper.size(), ct.helper) == 0;
    return eq != inv_;
  }

  std::string name_;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("helper", kFamBoth, HelperMatch);

}  // namespace nfjit
