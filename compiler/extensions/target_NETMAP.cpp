// -j NETMAP: 1:1 mapping of a whole network, keeping the host bits
// (kernel: xt_NETMAP.c). Destination in PREROUTING/OUTPUT, source in
// POSTROUTING/INPUT. nat table.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class NetmapTarget final : public TargetExt {
 public:
  explicit NetmapTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "NETMAP"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"to", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    // addr[/prefixlen]: the length is numeric only (no dotted masks).
    std::string_view s = a.value;
    auto slash = s.find('/');
    auto addr = parseIpAddr(family_, s.substr(0, slash));
    if (!addr) a.fail("bad network address `" + std::string(s.substr(0, slash)) + "' in --to");
    unsigned len = addrBits(family_);
    if (slash != std::string_view::npos)
      len = static_cast<unsigned>(args::uintOrFail(a, s.substr(slash + 1), 0, addrBits(family_)));
    mask_ = prefixMask(family_, len);
    prefix_ = applyMask(*addr, mask_);
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("NETMAP target: option `--to' must be specified");
    tgt::requireTable(ctx, "NETMAP", {"nat"});
  }
  HookMask allowedHooks(std::string_view) const override {
    return tgt::kPre | tgt::kOut | tgt::kPost | tgt::kIn;
  }
  void save(SaveWriter& w) const override { w.opt("to").addrMask(family_, prefix_, mask_); }
  Verdict apply(EvalContext& ctx) const override {
    NatRequest n;
    n.kind = NatRequest::Kind::Netmap;
    n.hasAddr = true;
    n.minAddr = prefix_;
    n.maxAddr = mask_;
    n.netmapSource = ctx.hook == Hook::PostRouting || ctx.hook == Hook::LocalIn;
    ctx.effects.nat = n;
    return Verdict::Accept;
  }
  bool isTerminating() const override { return true; }

 private:
  Family family_;
  IpAddr prefix_, mask_;
  bool set_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("NETMAP", kFamBoth, NetmapTarget);

}  // namespace nfjit
