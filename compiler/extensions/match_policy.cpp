// -m policy: the IPsec policy (transforms) a packet was decapsulated with
// or will be encapsulated with (kernel: xt_policy.c).
#include <vector>

#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

constexpr unsigned kMaxElem = 4;  // XT_POLICY_MAX_ELEM
constexpr uint8_t kModeTransport = 0, kModeTunnel = 1;

enum Opt { kDirOpt, kPolOpt, kStrictOpt, kReqid, kSpi, kTunSrc, kTunDst, kProtoOpt, kModeOpt, kNext };

struct Elem {
  // Which fields are matched and which are inverted, by Opt bit.
  uint16_t match = 0, invert = 0;
  uint32_t reqid = 0, spi = 0;
  args::AddrMask src, dst;
  uint8_t proto = 0, mode = kModeTransport;
  bool on(int o) const { return match & (1u << o); }
  bool inv(int o) const { return invert & (1u << o); }
};

// One xfrm state: inbound, the security path in the order the transforms
// were removed; outbound, the bundle from the outermost transform in.
struct XfrmState {
  IpAddr saddr, daddr;
  uint8_t proto = 0, mode = 0;
  uint32_t spi = 0, reqid = 0;
};
// PacketView has no IPsec security path or xfrm bundle: packets are seen
// as not IPsec-processed (the kernel's "no policy" case).
const std::vector<XfrmState>* securityPath(const PacketView&) { return nullptr; }

class PolicyMatch final : public MatchExt {
 public:
  explicit PolicyMatch(Family f) : family_(f) { elems_.emplace_back(); }
  std::string_view name() const override { return "policy"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"dir", ArgKind::Required},
        {"pol", ArgKind::Required},
        {"strict", ArgKind::None},
        {"reqid", ArgKind::Required, true, true},
        {"spi", ArgKind::Required, true, true},
        {"tunnel-src", ArgKind::Required, true, true},
        {"tunnel-dst", ArgKind::Required, true, true},
        {"proto", ArgKind::Required, true, true},
        {"mode", ArgKind::Required, true, true},
        {"next", ArgKind::None, false, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    Elem& e = elems_.back();
    if (a.index >= kReqid && a.index <= kModeOpt) {
      if (e.on(a.index)) a.fail("policy match: double --" + std::string(a.name) + " option");
      e.match |= uint16_t(1u << a.index);
      if (a.inverted) e.invert |= uint16_t(1u << a.index);
    }
    switch (a.index) {
      case kDirOpt:
        if (a.value == "in") in_ = true;
        else if (a.value == "out") out_ = true;
        else a.fail("invalid --dir `" + a.value + "' (in or out)");
        break;
      case kPolOpt:
        if (a.value == "none") none_ = true;
        else if (a.value != "ipsec") a.fail("invalid --pol `" + a.value + "' (none or ipsec)");
        break;
      case kStrictOpt: strict_ = true; break;
      case kReqid: e.reqid = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); break;
      case kSpi: e.spi = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); break;
      case kTunSrc: e.src = meta::hostMaskOrFail(a, family_, a.value); break;
      case kTunDst: e.dst = meta::hostMaskOrFail(a, family_, a.value); break;
      case kProtoOpt: {
        auto p = args::parseProtocol(a.value);
        if (!p) a.fail("unknown protocol `" + a.value + "' for --proto");
        if (*p != 50 && *p != 51 && *p != 108) a.fail("policy match: --proto must be ah, esp or ipcomp");
        e.proto = static_cast<uint8_t>(*p);
        break;
      }
      case kModeOpt:
        if (a.value == "transport") e.mode = kModeTransport;
        else if (a.value == "tunnel") e.mode = kModeTunnel;
        else a.fail("invalid --mode `" + a.value + "' (transport or tunnel)");
        break;
      case kNext:
        if (elems_.size() >= kMaxElem) a.fail("policy match: maximum policy depth (4) reached");
        sawNext_ = true;
        elems_.emplace_back();
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!in_ && !out_) ctx.fail("policy match: neither --dir in nor --dir out specified");
    if (sawNext_ && !strict_) ctx.fail("policy match: --next requires --strict");
    if (none_) {
      if (strict_) ctx.fail("policy match: --pol none cannot be combined with --strict");
      // Element options without --next are accepted and dropped, as iptables does.
      if (sawNext_) ctx.fail("policy match: --pol none cannot be combined with several policy elements");
    }
    for (size_t i = 0; i < elems_.size() && !none_; ++i) {
      const Elem& e = elems_[i];
      if (strict_ && !e.match)
        ctx.fail("policy match: empty policy element " + std::to_string(i) +
                 " with --strict (give at least one of --reqid, --spi, --tunnel-src, --tunnel-dst, --proto, --mode)");
      if ((e.on(kTunSrc) || e.on(kTunDst)) &&
          ((e.mode == kModeTunnel && e.inv(kModeOpt)) || (e.mode == kModeTransport && !e.inv(kModeOpt))))
        ctx.fail("policy match: --tunnel-src/--tunnel-dst are only valid in tunnel mode");
    }
  }
  HookMask allowedHooks(std::string_view) const override {
    HookMask m = kAllHooks;
    // Input policies exist before routing, output policies after it.
    if (out_) m &= ~(hookBit(Hook::PreRouting) | hookBit(Hook::LocalIn));
    if (in_) m &= ~(hookBit(Hook::PostRouting) | hookBit(Hook::LocalOut));
    return m;
  }
  void save(SaveWriter& w) const override {
    w.opt("dir").word(in_ ? "in" : "out");
    w.opt("pol").word(none_ ? "none" : "ipsec");
    if (strict_) w.opt("strict");
    if (none_) return;
    for (size_t i = 0; i < elems_.size(); ++i) {
      const Elem& e = elems_[i];
      if (e.on(kReqid)) w.opt("reqid", e.inv(kReqid)).num(e.reqid);
      if (e.on(kSpi)) w.opt("spi", e.inv(kSpi)).hex(e.spi);
      if (e.on(kProtoOpt)) w.opt("proto", e.inv(kProtoOpt)).word(args::protocolName(e.proto, family_));
      if (e.on(kModeOpt)) w.opt("mode", e.inv(kModeOpt)).word(e.mode == kModeTunnel ? "tunnel" : "transport");
      if (e.on(kTunDst))
        w.opt("tunnel-dst", e.inv(kTunDst)).word(meta::addrNoHostMask(family_, e.dst.addr, e.dst.mask));
      if (e.on(kTunSrc))
        w.opt("tunnel-src", e.inv(kTunSrc)).word(meta::addrNoHostMask(family_, e.src.addr, e.src.mask));
      if (i + 1 < elems_.size()) w.opt("next");
    }
  }
  bool match(EvalContext& ctx) const override {
    const std::vector<XfrmState>* sp = securityPath(ctx.pkt);
    int ret = sp ? matchPath(*sp) : -1;
    if (ret < 0) return none_;  // no IPsec: only --pol none matches
    return none_ ? false : ret != 0;
  }
  bool isStateful() const override { return true; }  // depends on the xfrm state

 private:
  bool matchState(const XfrmState& x, const Elem& e) const {
    auto addrOk = [&](int o, const args::AddrMask& am, const IpAddr& a) {
      return !e.on(o) || meta::maskedEqual(family_, a, am.addr, am.mask) != e.inv(o);
    };
    auto eq = [&](int o, uint32_t want, uint32_t got) { return !e.on(o) || (want == got) != e.inv(o); };
    return addrOk(kTunSrc, e.src, x.saddr) && addrOk(kTunDst, e.dst, x.daddr) &&
           eq(kProtoOpt, e.proto, x.proto) && eq(kModeOpt, e.mode, x.mode) && eq(kSpi, e.spi, x.spi) &&
           eq(kReqid, e.reqid, x.reqid);
  }
  // Non-strict: any transform matching the first element will do. Strict:
  // the transforms match the elements one to one; inbound the most recently
  // removed transform (the end of the security path) comes first, outbound
  // the bundle is walked from the outside in.
  int matchPath(const std::vector<XfrmState>& sp) const {
    if (sp.empty()) return -1;
    const size_t n = sp.size();
    if (in_ && strict_ && elems_.size() != n) return 0;
    for (size_t k = 0; k < n; ++k) {
      const XfrmState& x = in_ ? sp[n - 1 - k] : sp[k];
      size_t pos = strict_ ? k : 0;
      if (pos >= elems_.size()) return 0;
      if (matchState(x, elems_[pos])) {
        if (!strict_) return 1;
      } else if (strict_) {
        return 0;
      }
    }
    if (!strict_) return 0;
    return in_ ? 1 : n == elems_.size();
  }

  Family family_;
  bool in_ = false, out_ = false, none_ = false, strict_ = false, sawNext_ = false;
  std::vector<Elem> elems_;
};

}  // namespace

NFJIT_REGISTER_MATCH("policy", kFamBoth, PolicyMatch);

}  // namespace nfjit
