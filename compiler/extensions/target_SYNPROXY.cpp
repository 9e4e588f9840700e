// -j SYNPROXY: answer client SYNs with a SYN cookie and only open the
// connection to the server once the client's ACK proves it (kernel:
// xt_SYNPROXY.c, nf_synproxy_core.c). INPUT/FORWARD, -p tcp.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class SynproxyTarget final : public TargetExt {
 public:
  explicit SynproxyTarget(Family) {}
  std::string_view name() const override { return "SYNPROXY"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"sack-perm", ArgKind::None}, {"timestamp", ArgKind::None}, {"wscale", ArgKind::Required},
        {"mss", ArgKind::Required},   {"ecn", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: sackPerm_ = true; break;
      case 1: timestamp_ = true; break;
      // iptables reads 32-bit values into the kernel's u8/u16 fields.
      case 2: wscale_ = static_cast<uint8_t>(args::uintOrFail(a, 0, UINT32_MAX)), haveWscale_ = true; break;
      case 3: mss_ = static_cast<uint16_t>(args::uintOrFail(a, 0, UINT32_MAX)), haveMss_ = true; break;
      case 4: ecn_ = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!tgt::protoIs(ctx, 6)) ctx.fail("SYNPROXY target: only valid with `-p tcp'");
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kIn | tgt::kFwd; }
  void save(SaveWriter& w) const override {
    if (sackPerm_) w.opt("sack-perm");
    if (timestamp_) w.opt("timestamp");
    if (haveWscale_) w.opt("wscale").num(wscale_);
    if (haveMss_) w.opt("mss").num(mss_);
    if (ecn_) w.opt("ecn");
  }
  Verdict apply(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint8_t th[20];
    if (p.fragoff != 0 || !headerAt(p, p.thoff, th, sizeof th)) return Verdict::Drop;
    uint8_t f = th[13];
    bool syn = f & 0x02, ack = f & 0x10, fin = f & 0x01, rst = f & 0x04;
    if (syn && !(ack || fin || rst)) {
      ctx.effects.synproxy = 1;  // cookie SYN/ACK sent, client SYN consumed
      return Verdict::Stolen;
    }
    if (ack && !(fin || rst || syn)) {
      ctx.effects.synproxy = 2;  // cookie checked by the runtime; consumed either way
      return Verdict::Stolen;
    }
    return Verdict::Continue;
  }
  // Other segments go on to the next rule.
  bool isTerminating() const override { return false; }

 private:
  bool sackPerm_ = false, timestamp_ = false, ecn_ = false, haveWscale_ = false, haveMss_ = false;
  uint8_t wscale_ = 0;
  uint16_t mss_ = 0;
};

}  // namespace

NFJIT_REGISTER_TARGET("SYNPROXY", kFamBoth, SynproxyTarget);

}  // namespace nfjit
