// -m addrtype (revision 1): routing type of the source / destination
// address (kernel: xt_addrtype.c).
//
// The kernel asks the FIB. Without a routing model the type is derived from
// the address and the hook: broadcast/multicast/loopback by address, LOCAL
// for the destination of INPUT traffic and the source of locally generated
// traffic, UNICAST otherwise.
#include <strings.h>

#include <algorithm>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

// RTN_* order; bit i of a mask is type i.
constexpr const char* kTypes[] = {"UNSPEC",    "UNICAST",     "LOCAL",    "BROADCAST", "ANYCAST", "MULTICAST",
                                  "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW",     "NAT",     "XRESOLVE"};
enum : uint16_t {
  kUnspec = 1 << 0,
  kUnicast = 1 << 1,
  kLocal = 1 << 2,
  kBroadcast = 1 << 3,
  kAnycast = 1 << 4,
  kMulticast = 1 << 5,
  kBlackhole = 1 << 6,
  kUnreachable = 1 << 7,
  kProhibit = 1 << 8,
};

class AddrtypeMatch final : public MatchExt {
 public:
  explicit AddrtypeMatch(Family f) : fam_(f) {}
  std::string_view name() const override { return "addrtype"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"src-type", ArgKind::Required, true},
        {"dst-type", ArgKind::Required, true},
        {"limit-iface-in", ArgKind::None},
        {"limit-iface-out", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        src_ = parseTypes(a);
        invSrc_ = a.inverted;
        break;
      case 1:
        dst_ = parseTypes(a);
        invDst_ = a.inverted;
        break;
      case 2:
        if (limitOut_) a.fail("--limit-iface-in cannot be used with --limit-iface-out");
        limitIn_ = true;
        break;
      case 3:
        if (limitIn_) a.fail("--limit-iface-out cannot be used with --limit-iface-in");
        limitOut_ = true;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!src_ && !dst_) ctx.fail("addrtype: you must specify --src-type or --dst-type");
    if (fam_ == Family::IPv6) {
      uint16_t all = src_ | dst_;
      if (all & kBlackhole) ctx.fail("addrtype: ipv6 BLACKHOLE matching not supported");
      if (all >= kProhibit) ctx.fail("addrtype: ipv6 PROHIBIT (THROW, NAT ..) matching not supported");
      if (all & kBroadcast) ctx.fail("addrtype: ipv6 does not support BROADCAST matching");
    }
  }
  // The interface a limit refers to must exist at the hook.
  HookMask allowedHooks(std::string_view) const override {
    HookMask m = kAllHooks;
    if (limitIn_) m &= HookMask(~(hookBit(Hook::PostRouting) | hookBit(Hook::LocalOut)));
    if (limitOut_) m &= HookMask(~(hookBit(Hook::PreRouting) | hookBit(Hook::LocalIn)));
    return m;
  }
  void save(SaveWriter& w) const override {
    if (src_) w.opt("src-type", invSrc_).word(typeList(src_));
    if (dst_) w.opt("dst-type", invDst_).word(typeList(dst_));
    if (limitIn_) w.opt("limit-iface-in");
    if (limitOut_) w.opt("limit-iface-out");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (src_ && matchType(ctx, p.src, false, src_) == invSrc_) return false;
    if (dst_ && matchType(ctx, p.dst, true, dst_) == invDst_) return false;
    return true;
  }

 private:
  static uint16_t parseTypes(const OptionArg& a) {
    uint16_t mask = 0;
    for (auto part : args::split(a.value, ',')) {
      bool found = false;
      // iptables accepts a case-insensitive prefix, first table entry wins.
      for (unsigned i = 0; i < std::size(kTypes) && !part.empty(); ++i)
        if (strncasecmp(kTypes[i], std::string(part).c_str(), part.size()) == 0) {
          mask |= uint16_t(1u << i);
          found = true;
          break;
        }
      if (!found) a.fail("addrtype: bad type `" + std::string(part) + "' in --" + std::string(a.name));
    }
    return mask;
  }
  static std::string typeList(uint16_t mask) {
    std::string s;
    for (unsigned i = 0; i < std::size(kTypes); ++i)
      if (mask & (1u << i)) {
        if (!s.empty()) s += ',';
        s += kTypes[i];
      }
    return s;
  }
  bool isLocal(const EvalContext& ctx, bool isDst) const {
    return isDst ? ctx.hook == Hook::LocalIn : ctx.pkt.localSource;
  }
  bool matchType(const EvalContext& ctx, const IpAddr& a, bool isDst, uint16_t mask) const {
    if (fam_ == Family::IPv4) {
      uint32_t v = a.v4();
      uint16_t t;
      if ((v >> 24) == 0 || v == 0xffffffffu)
        t = kBroadcast;
      else if ((v >> 28) == 0xe)
        t = kMulticast;
      else if ((v >> 24) == 127)
        t = kLocal;
      else if (isDst && ctx.pkt.pktType == PktType::Broadcast)
        t = kBroadcast;
      else
        t = isLocal(ctx, isDst) ? kLocal : kUnicast;
      return (mask & t) != 0;
    }
    // IPv6: the address class narrows first, then a route look-up decides
    // LOCAL / ANYCAST / UNREACHABLE.
    bool any = a == IpAddr{};
    bool multicast = a.b[0] == 0xff;
    IpAddr loop{};
    loop.b[15] = 1;
    bool loopback = a == loop;
    bool mapped = !any && std::all_of(a.b.begin(), a.b.begin() + 10, [](uint8_t x) { return x == 0; }) &&
                  a.b[10] == 0xff && a.b[11] == 0xff;
    bool unicast = !any && !multicast && !mapped;
    if ((mask & kMulticast) && !multicast) return false;
    if ((mask & kUnicast) && !unicast) return false;
    if ((mask & kUnspec) && !any) return false;
    if (mask & (kLocal | kAnycast | kUnreachable)) {
      uint16_t rt = (loopback || (!multicast && isLocal(ctx, isDst))) ? kLocal : 0;
      return (mask & rt) != 0;
    }
    return true;
  }

  Family fam_;
  uint16_t src_ = 0, dst_ = 0;
  bool invSrc_ = false, invDst_ = false, limitIn_ = false, limitOut_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("addrtype", kFamBoth, AddrtypeMatch);

}  // namespace nfjit
