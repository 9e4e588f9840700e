// -j REJECT: drop the packet and answer with an ICMP(v6) error or a TCP RST
// (kernel: ipt_REJECT.c / ip6t_REJECT.c, nf_reject_ipv4/6.c). filter table,
// INPUT/FORWARD/OUTPUT.
#include <cctype>
#include <strings.h>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr uint8_t kTcpReset = 255;  // SideEffects::rejectType for a RST

struct RejectKind {
  const char* name;
  const char* alias;
  uint8_t type, code;  // ICMP type/code sent, or kTcpReset
};

// In the kernel's enum order (ipt_reject_with / ip6t_reject_with): iptables
// takes the first entry the argument is a prefix of.
constexpr RejectKind kV4[] = {
    {"icmp-net-unreachable", "net-unreach", 3, 0},
    {"icmp-host-unreachable", "host-unreach", 3, 1},
    {"icmp-proto-unreachable", "proto-unreach", 3, 2},
    {"icmp-port-unreachable", "port-unreach", 3, 3},
    {"icmp-net-prohibited", "net-prohib", 3, 9},
    {"icmp-host-prohibited", "host-prohib", 3, 10},
    {"tcp-reset", "tcp-rst", kTcpReset, 0},
    {"icmp-admin-prohibited", "admin-prohib", 3, 13},
};
constexpr RejectKind kV6[] = {
    {"icmp6-no-route", "no-route", 1, 0},
    {"icmp6-adm-prohibited", "adm-prohibited", 1, 1},
    {"icmp6-addr-unreachable", "addr-unreach", 1, 3},
    {"icmp6-port-unreachable", "port-unreach", 1, 4},
    {"tcp-reset", "tcp-reset", kTcpReset, 0},
    {"icmp6-policy-fail", "policy-fail", 1, 5},
    {"icmp6-reject-route", "reject-route", 1, 6},
};

class RejectTarget final : public TargetExt {
 public:
  explicit RejectTarget(Family f) : family_(f) {
    kinds_ = f == Family::IPv4 ? std::span<const RejectKind>(kV4) : std::span<const RejectKind>(kV6);
  }
  std::string_view name() const override { return "REJECT"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"reject-with", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    for (size_t i = 0; i < kinds_.size(); ++i) {
      if (strncasecmp(kinds_[i].name, a.value.c_str(), a.value.size()) == 0 ||
          strncasecmp(kinds_[i].alias, a.value.c_str(), a.value.size()) == 0) {
        with_ = i;
        return;
      }
    }
    a.fail("unknown reject type `" + a.value + "' for --reject-with");
  }
  void finalCheck(const RuleContext& ctx) override {
    if (kinds_[with_].type == kTcpReset && !tgt::protoIs(ctx, 6))
      ctx.fail("REJECT target: --reject-with tcp-reset requires `-p tcp'");
    tgt::requireTable(ctx, "REJECT", {"filter"});
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kIn | tgt::kFwd | tgt::kOut; }
  void save(SaveWriter& w) const override { w.opt("reject-with").word(kinds_[with_].name); }
  Verdict apply(EvalContext& ctx) const override {
    const RejectKind& k = kinds_[with_];
    bool sent = k.type == kTcpReset ? canReset(ctx.pkt) : canIcmp(ctx.pkt);
    ctx.effects.rejectSent = sent;
    if (sent) {
      ctx.effects.rejectType = k.type;
      ctx.effects.rejectCode = k.code;
    }
    return Verdict::Drop;
  }
  bool isTerminating() const override { return true; }

 private:
  static bool isMulticast(Family f, const IpAddr& a) {
    if (f == Family::IPv4) return (a.b[0] & 0xf0) == 0xe0 || a.v4() == 0xffffffffu;
    return a.b[0] == 0xff;
  }
  // nf_send_reset(6): only for a first fragment of TCP that is not a RST
  // itself, between unicast addresses.
  bool canReset(const PacketView& p) const {
    if (p.fragoff != 0 || p.protocol != 6 || !p.protocolFound) return false;
    if (family_ == Family::IPv6 && (p.src == IpAddr{} || isMulticast(family_, p.src))) return false;
    uint8_t th[20];
    if (!headerAt(p, p.thoff, th, sizeof th)) return false;
    if (th[13] & 0x04) return false;  // no RST for a RST
    if (isMulticast(family_, p.dst) || p.pktType == PktType::Broadcast ||
        p.pktType == PktType::Multicast)
      return false;
    return true;
  }
  // icmp_send()/icmpv6_send(): never about a non-first fragment, an ICMP
  // error, or a packet to a broadcast/multicast address.
  bool canIcmp(const PacketView& p) const {
    if (p.fragoff != 0) return false;
    if (isMulticast(family_, p.dst) || p.pktType == PktType::Broadcast ||
        p.pktType == PktType::Multicast)
      return false;
    if (family_ == Family::IPv4) {
      if (p.protocol == 1) {
        uint8_t type;
        if (!headerAt(p, p.thoff, &type, 1)) return false;
        // Error types, and types unknown to the kernel (> NR_ICMP_TYPES).
        if (type > 18 || type == 3 || type == 4 || type == 5 || type == 11 || type == 12) return false;
      }
      if (p.src.v4() == 0) return false;
    } else {
      if (p.protocolFound && p.protocol == 58) {
        uint8_t type;
        if (!headerAt(p, p.thoff, &type, 1)) return false;
        if (type < 128) return false;
      }
      if (p.src == IpAddr{} || p.src.b[0] == 0xff) return false;
    }
    return true;
  }

  Family family_;
  std::span<const RejectKind> kinds_;
  size_t with_ = 3;  // port unreachable, the default, is entry 3 in both tables
};

}  // namespace

NFJIT_REGISTER_TARGET("REJECT", kFamBoth, RejectTarget);

}  // namespace nfjit
