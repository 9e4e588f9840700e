// -m connlimit: number of connections per source/destination network
// (kernel: xt_connlimit.c on nf_conncount).
#include <map>
#include <tuple>

#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

using Addr16 = std::array<uint8_t, 16>;
using ConnKey = std::tuple<Addr16, Addr16, uint16_t, uint16_t, uint8_t>;
struct Conn {
  IpAddr src, dst;
  uint16_t sport, dport;
  uint8_t proto;
  ConnKey key() const { return {src.b, dst.b, sport, dport, proto}; }
};

class ConnlimitMatch final : public MatchExt {
 public:
  explicit ConnlimitMatch(Family f) : family_(f), mask_(prefixMask(f, addrBits(f))) {}
  std::string_view name() const override { return "connlimit"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"connlimit-upto", ArgKind::Required, true}, {"connlimit-above", ArgKind::Required, true},
        {"connlimit-mask", ArgKind::Required, false}, {"connlimit-saddr", ArgKind::None, false},
        {"connlimit-daddr", ArgKind::None, false},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
      case 1:
        if (haveLimit_) a.fail("--connlimit-upto and --connlimit-above cannot be combined");
        haveLimit_ = true;
        limit_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        // "upto N" is stored as an inverted "above N".
        inv_ = (a.index == 0) != a.inverted;
        break;
      case 2:
        mask_ = meta::plenMaskOrFail(a, family_, a.value);
        break;
      case 3:
      case 4:
        if (haveAddrSel_) a.fail("--connlimit-saddr and --connlimit-daddr cannot be combined");
        haveAddrSel_ = true;
        daddr_ = a.index == 4;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveLimit_) ctx.fail("connlimit match: --connlimit-above or --connlimit-upto is required");
  }
  void save(SaveWriter& w) const override {
    w.opt(inv_ ? "connlimit-upto" : "connlimit-above").num(limit_);
    // Saved as the number of mask bits set, contiguous or not.
    unsigned bits = 0;
    for (unsigned i = 0; i < addrBytes(family_); ++i) bits += static_cast<unsigned>(__builtin_popcount(mask_.b[i]));
    w.opt("connlimit-mask").num(bits);
    w.opt(daddr_ ? "connlimit-daddr" : "connlimit-saddr");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    IpAddr key = applyMask(daddr_ ? p.dst : p.src, mask_);
    // The connection is identified by its tuple in the packet's direction;
    // untracked packets by their own addresses and ports.
    Conn conn;
    if (meta::ctPresent(p.ct)) {
      const ConnInfo& ct = p.ct;
      conn = ct.dir == 0 ? Conn{ct.origSrc, ct.origDst, ct.origSrcPort, ct.origDstPort, ct.l4proto}
                         : Conn{ct.replSrc, ct.replDst, ct.replSrcPort, ct.replDstPort, ct.l4proto};
    } else {
      uint8_t ports[4] = {};
      bool hasPorts = (p.protocol == 6 || p.protocol == 17 || p.protocol == 132 || p.protocol == 33 ||
                       p.protocol == 136) &&
                      p.fragoff == 0 && headerAt(p, p.thoff, ports, 4);
      conn = Conn{p.src, p.dst, hasPorts ? be16(ports) : uint16_t(0),
                  hasPorts ? be16(ports + 2) : uint16_t(0), p.protocol};
    }
    auto& conns = table_[key.b];
    // Connections whose conntrack entry has timed out no longer count.
    for (auto it = conns.begin(); it != conns.end();)
      it = it->second < ctx.nowNs ? conns.erase(it) : std::next(it);
    uint64_t ttl = (p.ct.expires ? p.ct.expires : 1) * 1000000000ull;
    conns[conn.key()] = ctx.nowNs + ttl;
    uint32_t count = static_cast<uint32_t>(conns.size());
    return (count > limit_) != inv_;
  }
  bool isStateful() const override { return true; }
  void resetState() const override { table_.clear(); }


  Family family_;
  uint32_t limit_ = 0;
  IpAddr mask_;
  bool inv_ = false, haveLimit_ = false, haveAddrSel_ = false, daddr_ = false;
  // Per masked address: connection -> deadline (ns).
  mutable std::map<std::array<uint8_t, 16>, std::map<ConnKey, uint64_t>> table_;
};

}  // namespace

NFJIT_REGISTER_MATCH("connlimit", kFamBoth, ConnlimitMatch);

}  // namespace nfjit
