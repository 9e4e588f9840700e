// -m ipvs: properties of the IPVS connection a packet belongs to: virtual
// protocol/address/port, direction, forwarding method, control connection
// port (kernel: xt_ipvs.c).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

enum Bits : uint8_t {
  kProperty = 1 << 0, kProto = 1 << 1, kVaddr = 1 << 2, kVport = 1 << 3,
  kDir = 1 << 4, kMethod = 1 << 5, kVportctl = 1 << 6,
};
// IP_VS_CONN_F_* forwarding methods.
constexpr uint32_t kMasq = 0, kTunnel = 2, kDroute = 3;

// What IPVS knows of the packet's connection. PacketView carries no IPVS
// state: the model runs no IPVS, so no packet has the ipvs property.
struct IpvsConn {
  bool property = false;
  uint8_t protocol = 0;
  IpAddr vaddr;
  uint16_t vport = 0, controlPort = 0;
  bool hasControl = false;
  uint32_t fwdMethod = 0;
  uint8_t dir = 0;  // 0 original, 1 reply
};
IpvsConn ipvsOf(const PacketView&) { return IpvsConn{}; }

class IpvsMatch final : public MatchExt {
 public:
  explicit IpvsMatch(Family f) : family_(f) {}
  std::string_view name() const override { return "ipvs"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"ipvs", ArgKind::None, true},        {"vproto", ArgKind::Required, true},
        {"vaddr", ArgKind::Required, true},   {"vport", ArgKind::Required, true},
        {"vdir", ArgKind::Required, false},   {"vmethod", ArgKind::Required, true},
        {"vportctl", ArgKind::Required, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 1: {
        auto p = args::parseProtocol(a.value);
        if (!p) a.fail("unknown protocol `" + a.value + "' for --vproto");
        proto_ = static_cast<uint8_t>(*p);
        break;
      }
      case 2: vaddr_ = meta::hostMaskOrFail(a, family_, a.value); break;
      case 3: vport_ = args::portOrFail(a, a.value, nullptr); break;
      case 4:
        // REPLY is kept as an inverted ORIGINAL, as the kernel does.
        if (meta::caseEq(a.value, "ORIGINAL")) invert_ &= ~kDir;
        else if (meta::caseEq(a.value, "REPLY")) invert_ |= kDir;
        else a.fail("bad value `" + a.value + "' for --vdir (ORIGINAL or REPLY)");
        break;
      case 5:
        if (meta::caseEq(a.value, "GATE")) method_ = kDroute;
        else if (meta::caseEq(a.value, "IPIP")) method_ = kTunnel;
        else if (meta::caseEq(a.value, "MASQ")) method_ = kMasq;
        else a.fail("bad value `" + a.value + "' for --vmethod (GATE, IPIP or MASQ)");
        break;
      case 6: vportctl_ = args::portOrFail(a, a.value, nullptr); break;
    }
    bitmask_ |= uint8_t(1u << a.index);
    if (a.inverted) invert_ |= uint8_t(1u << a.index);
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!bitmask_) ctx.fail("ipvs match: at least one option is required");
    if (bitmask_ & ~kProperty) {
      if (invert_ & kProperty) ctx.fail("ipvs match: ! --ipvs cannot be combined with other options");
      // The other options only apply to IPVS packets.
      bitmask_ |= kProperty;
    }
  }
  void save(SaveWriter& w) const override {
    if (bitmask_ == kProperty) w.opt("ipvs", invert_ & kProperty);
    if (bitmask_ & kProto) w.opt("vproto", invert_ & kProto).num(proto_);
    if (bitmask_ & kVaddr)
      w.opt("vaddr", invert_ & kVaddr).word(meta::addrNoHostMask(family_, vaddr_.addr, vaddr_.mask));
    if (bitmask_ & kVport) w.opt("vport", invert_ & kVport).num(vport_);
    if (bitmask_ & kDir) w.opt("vdir").word((invert_ & kDir) ? "REPLY" : "ORIGINAL");
    if (bitmask_ & kMethod) {
      const char* m = method_ == kDroute ? "GATE" : method_ == kTunnel ? "IPIP" : method_ == kMasq ? "MASQ" : "UNKNOWN";
      w.opt("vmethod", invert_ & kMethod).word(m);
    }
    if (bitmask_ & kVportctl) w.opt("vportctl", invert_ & kVportctl).num(vportctl_);
  }
  bool match(EvalContext& ctx) const override {
    const IpvsConn c = ipvsOf(ctx.pkt);
    auto inv = [&](uint8_t bit) { return bool(invert_ & bit); };
    if (bitmask_ == kProperty) return c.property != inv(kProperty);
    if (!c.property) return false;
    if ((bitmask_ & kProto) && (c.protocol == proto_) == inv(kProto)) return false;
    if ((bitmask_ & kDir) && (c.dir == 0) == inv(kDir)) return false;
    if ((bitmask_ & kVaddr) && meta::maskedEqual(family_, c.vaddr, vaddr_.addr, vaddr_.mask) == inv(kVaddr))
      return false;
    if ((bitmask_ & kVport) && (c.vport == vport_) == inv(kVport)) return false;
    if ((bitmask_ & kMethod) && (c.fwdMethod == method_) == inv(kMethod)) return false;
    if (bitmask_ & kVportctl) {
      if (!c.hasControl) return false;
      if ((c.controlPort == vportctl_) == inv(kVportctl)) return false;
    }
    return true;
  }
  bool isStateful() const override { return true; }  // IPVS connection state

  Family family_;
  uint8_t bitmask_ = 0, invert_ = 0, proto_ = 0;
  args::AddrMask vaddr_;
  uint16_t vport_ = 0, vportctl_ = 0;
  uint32_t method_ = 0;
};

}  // namespace

NFJIT_REGISTER_MATCH("ipvs", kFamBoth, IpvsMatch);

}  // namespace nfjit
