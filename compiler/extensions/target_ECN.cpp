// -j ECN: rewrite the ECN codepoint of the IPv4 header and/or the ECE/CWR
// bits of TCP, e.g. to strip ECN negotiation (kernel: ipt_ECN.c). mangle.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr uint8_t kOpSetIp = 0x01, kOpSetEce = 0x10, kOpSetCwr = 0x20;  // IPT_ECN_OP_*

class EcnTarget final : public TargetExt {
 public:
  explicit EcnTarget(Family) {}
  std::string_view name() const override { return "ECN"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"ecn-tcp-remove", ArgKind::None}, {"ecn-tcp-cwr", ArgKind::Required},
        {"ecn-tcp-ece", ArgKind::Required}, {"ecn-ip-ect", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        if (haveBit_) a.failAt(a.optLoc, "option `--ecn-tcp-remove' cannot be used together with `--ecn-tcp-cwr'/`--ecn-tcp-ece'");
        remove_ = true;
        op_ = kOpSetEce | kOpSetCwr;
        ece_ = cwr_ = 0;
        break;
      case 1: case 2: {
        if (remove_) a.failAt(a.optLoc, "option `--" + std::string(a.name) + "' cannot be used together with `--ecn-tcp-remove'");
        haveBit_ = true;
        uint8_t v = static_cast<uint8_t>(args::uintOrFail(a, 0, 1));
        if (a.index == 1) op_ |= kOpSetCwr, cwr_ = v;
        else op_ |= kOpSetEce, ece_ = v;
        break;
      }
      case 3: op_ |= kOpSetIp, ect_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 3)); break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!op_) ctx.fail("ECN target: an operation is required");
    if ((op_ & (kOpSetEce | kOpSetCwr)) && !tgt::protoIs(ctx, 6))
      ctx.fail("ECN target: cannot use TCP operations on a non-tcp rule (`-p tcp' needed)");
    tgt::requireTable(ctx, "ECN", {"mangle"});
  }
  void save(SaveWriter& w) const override {
    if (op_ == (kOpSetEce | kOpSetCwr) && ece_ == 0 && cwr_ == 0) {
      w.opt("ecn-tcp-remove");
      return;
    }
    if (op_ & kOpSetEce) w.opt("ecn-tcp-ece").num(ece_);
    if (op_ & kOpSetCwr) w.opt("ecn-tcp-cwr").num(cwr_);
    if (op_ & kOpSetIp) w.opt("ecn-ip-ect").num(ect_);
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (p.family != Family::IPv4 || p.len < 20) return Verdict::Continue;
    if (op_ & kOpSetIp) {
      uint8_t tos = p.data[1];
      if ((tos & 0x03) != ect_) tgt::setDsfield(p, static_cast<uint8_t>((tos & ~0x03) | ect_));
    }
    if ((op_ & (kOpSetEce | kOpSetCwr)) && p.data[9] == 6) {
      // Like the kernel, the header after the IP header is taken as TCP.
      uint32_t off = (p.data[0] & 0x0f) * 4u;
      uint8_t th[20];
      if (!headerAt(p, off, th, sizeof th)) return Verdict::Drop;
      uint8_t* t = p.data + off;
      bool eceOk = !(op_ & kOpSetEce) || ((t[13] >> 6) & 1) == ece_;
      bool cwrOk = !(op_ & kOpSetCwr) || ((t[13] >> 7) & 1) == cwr_;
      if (!(eceOk && cwrOk)) {
        uint16_t oldWord = be16(t + 12);
        if (op_ & kOpSetEce) t[13] = static_cast<uint8_t>((t[13] & ~0x40) | (ece_ << 6));
        if (op_ & kOpSetCwr) t[13] = static_cast<uint8_t>((t[13] & ~0x80) | (cwr_ << 7));
        tgt::csumReplace16(t + 16, oldWord, be16(t + 12));
      }
    }
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint8_t op_ = 0, ece_ = 0, cwr_ = 0, ect_ = 0;
  bool remove_ = false, haveBit_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("ECN", kFamV4, EcnTarget);

}  // namespace nfjit
