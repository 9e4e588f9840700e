// -j TPROXY: deliver the packet to a local (transparent) socket without
// rewriting it, marking it for policy routing (kernel: xt_TPROXY.c,
// revision 1). mangle table, PREROUTING, -p tcp or -p udp.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class TproxyTarget final : public TargetExt {
 public:
  explicit TproxyTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "TPROXY"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"on-port", ArgKind::Required}, {"on-ip", ArgKind::Required}, {"tproxy-mark", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: port_ = args::portOrFail(a, a.value, nullptr), havePort_ = true; break;
      case 1: addr_ = args::addrOrFail(a, family_, a.value); break;
      case 2: {
        auto vm = args::valueMaskOrFail(a, a.value);
        markValue_ = vm.value;
        markMask_ = vm.mask;
        break;
      }
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!havePort_) ctx.fail("TPROXY target: option `--on-port' must be specified");
    if (!tgt::protoIs(ctx, 6) && !tgt::protoIs(ctx, 17))
      ctx.fail("TPROXY target: can be used only in combination with either `-p tcp' or `-p udp'");
    tgt::requireTable(ctx, "TPROXY", {"mangle"});
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kPre; }
  void save(SaveWriter& w) const override {
    w.opt("on-port").num(port_);
    w.opt("on-ip").word(formatIpAddr(family_, addr_));
    w.opt("tproxy-mark").word(tgt::hexw(markValue_, 0) + "/" + tgt::hexw(markMask_, 0));
  }
  Verdict apply(EvalContext& ctx) const override {
    // The runtime looks up the listening socket (on-ip 0 = the incoming
    // interface's address, port 0 = the packet's) and drops the packet when
    // none is found; the mark is applied with the socket assignment.
    ctx.effects.tproxy = true;
    ctx.effects.tproxyAddr = addr_;
    ctx.effects.tproxyPort = port_;
    ctx.pkt.mark = (ctx.pkt.mark & ~markMask_) ^ markValue_;
    return Verdict::Accept;
  }
  bool isTerminating() const override { return true; }

 private:
  Family family_;
  uint16_t port_ = 0;
  IpAddr addr_;
  uint32_t markValue_ = 0, markMask_ = 0;
  bool havePort_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("TPROXY", kFamBoth, TproxyTarget);

}  // namespace nfjit
