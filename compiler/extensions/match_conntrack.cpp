// -m conntrack (revision 3): connection tracking state, status, tuple
// addresses/ports, protocol, expiry and direction (kernel: xt_conntrack.c).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

enum Opt {
  kState, kProto, kOrigSrc, kOrigDst, kReplSrc, kReplDst, kOrigSrcPort, kOrigDstPort,
  kReplSrcPort, kReplDstPort, kStatus, kExpire, kDir, kNumOpts
};

class ConntrackMatch final : public MatchExt {
 public:
  explicit ConntrackMatch(Family f) : family_(f) {}
  std::string_view name() const override { return "conntrack"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"ctstate", ArgKind::Required, true},       {"ctproto", ArgKind::Required, true},
        {"ctorigsrc", ArgKind::Required, true},     {"ctorigdst", ArgKind::Required, true},
        {"ctreplsrc", ArgKind::Required, true},     {"ctrepldst", ArgKind::Required, true},
        {"ctorigsrcport", ArgKind::Required, true}, {"ctorigdstport", ArgKind::Required, true},
        {"ctreplsrcport", ArgKind::Required, true}, {"ctrepldstport", ArgKind::Required, true},
        {"ctstatus", ArgKind::Required, true},      {"ctexpire", ArgKind::Required, true},
        {"ctdir", ArgKind::Required, false},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    const int o = a.index;
    have_ |= 1u << o;
    if (a.inverted) inv_ |= 1u << o;
    switch (o) {
      case kState:
        stateMask_ = meta::parseStateList(a.value, true);
        if (!stateMask_) a.fail("bad ctstate `" + a.value + "' for --ctstate");
        break;
      case kProto: {
        auto p = args::parseProtocol(a.value);
        if (!p) a.fail("unknown protocol `" + a.value + "' for --ctproto");
        // Protocol 0 cannot be told apart from "no protocol" in the kernel.
        if (*p == 0)
          a.fail(a.inverted ? "--ctproto 0: condition would always match protocol"
                            : "--ctproto 0: rule would never match protocol");
        proto_ = static_cast<uint8_t>(*p);
        break;
      }
      case kOrigSrc: case kOrigDst: case kReplSrc: case kReplDst:
        addr_[o - kOrigSrc] = meta::hostMaskOrFail(a, family_, a.value);
        break;
      case kOrigSrcPort: case kOrigDstPort: case kReplSrcPort: case kReplDstPort:
        port_[o - kOrigSrcPort] = args::portRangeOrFail(a, a.value, nullptr);
        break;
      case kStatus:
        statusMask_ = 0;
        for (auto word : args::split(a.value, ',')) {
          static constexpr std::pair<std::string_view, uint32_t> kNames[] = {
              {"NONE", 0}, {"EXPECTED", meta::kIpsExpected}, {"SEEN_REPLY", meta::kIpsSeenReply},
              {"ASSURED", meta::kIpsAssured}, {"CONFIRMED", meta::kIpsConfirmed}};
          bool found = false;
          for (auto& [n, bit] : kNames)
            if (!word.empty() && meta::prefixCaseEq(word, n)) {
              statusMask_ |= bit;
              found = true;
              break;
            }
          if (!found) a.fail("bad ctstatus `" + a.value + "' for --ctstatus");
        }
        break;
      case kExpire:
        expire_ = args::rangeOrFail(a, a.value, 0, UINT32_MAX);
        break;
      case kDir:
        // REPLY is stored as an inverted ORIGINAL, as the kernel does.
        if (meta::caseEq(a.value, "ORIGINAL")) inv_ &= ~(1u << kDir);
        else if (meta::caseEq(a.value, "REPLY")) inv_ |= 1u << kDir;
        else a.fail("bad value `" + a.value + "' for --ctdir (ORIGINAL or REPLY)");
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!have_) ctx.fail("conntrack: at least one option is required");
  }
  void save(SaveWriter& w) const override {
    auto on = [&](int o) { return (have_ >> o) & 1u; };
    auto inv = [&](int o) { return ((inv_ >> o) & 1u) != 0; };
    if (on(kState)) w.opt("ctstate", inv(kState)).word(meta::formatStateList(stateMask_));
    if (on(kProto)) w.opt("ctproto", inv(kProto)).num(proto_);
    static constexpr const char* kAddrNames[] = {"ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"};
    for (int i = 0; i < 4; ++i)
      if (on(kOrigSrc + i))
        w.opt(kAddrNames[i], inv(kOrigSrc + i))
            .word(meta::addrNoHostMask(family_, addr_[i].addr, addr_[i].mask));
    static constexpr const char* kPortNames[] = {"ctorigsrcport", "ctorigdstport", "ctreplsrcport",
                                                 "ctrepldstport"};
    for (int i = 0; i < 4; ++i)
      if (on(kOrigSrcPort + i)) w.opt(kPortNames[i], inv(kOrigSrcPort + i)).word(args::formatRange(port_[i]));
    if (on(kStatus)) {
      std::string s;
      static constexpr std::pair<const char*, uint32_t> kOrder[] = {
          {"EXPECTED", meta::kIpsExpected}, {"SEEN_REPLY", meta::kIpsSeenReply},
          {"ASSURED", meta::kIpsAssured}, {"CONFIRMED", meta::kIpsConfirmed}};
      for (auto& [n, bit] : kOrder)
        if (statusMask_ & bit) s += (s.empty() ? "" : ",") + std::string(n);
      w.opt("ctstatus", inv(kStatus)).word(s.empty() ? "NONE" : s);
    }
    if (on(kExpire)) w.opt("ctexpire", inv(kExpire)).word(args::formatRange(expire_));
    if (on(kDir)) w.opt("ctdir").word(inv(kDir) ? "REPLY" : "ORIGINAL");
  }
  bool lower(LoweringContext& c) const override {
    // Only --ctstate is a packet attribute here; the tuple, status and
    // expiry options are unknown to the verifier.
    if (have_ != (1u << kState)) return false;
    auto t = c.negate(c.maskEq(Field::CtState, 0, stateMask_));
    c.require((inv_ >> kState) & 1u ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    const ConnInfo& ct = ctx.pkt.ct;
    auto on = [&](int o) { return (have_ >> o) & 1u; };
    auto inv = [&](int o) { return ((inv_ >> o) & 1u) != 0; };
    if (on(kState) && ((meta::packetStateBits(ct, true) & stateMask_) != 0) == inv(kState))
      return false;
    // Without a conntrack only --ctstate can have matched.
    if (!meta::ctPresent(ct)) return on(kState);
    if (on(kDir) && ((ct.dir == 0) == inv(kDir))) return false;
    const IpAddr* tuple[] = {&ct.origSrc, &ct.origDst, &ct.replSrc, &ct.replDst};
    for (int i = 0; i < 4; ++i)
      if (on(kOrigSrc + i) &&
          meta::maskedEqual(family_, *tuple[i], addr_[i].addr, addr_[i].mask) == inv(kOrigSrc + i))
        return false;
    if (on(kProto) && ((ct.l4proto == proto_) == inv(kProto))) return false;
    const uint16_t ports[] = {ct.origSrcPort, ct.origDstPort, ct.replSrcPort, ct.replDstPort};
    for (int i = 0; i < 4; ++i)
      if (on(kOrigSrcPort + i) &&
          ((ports[i] >= port_[i].lo && ports[i] <= port_[i].hi) == inv(kOrigSrcPort + i)))
        return false;
    if (on(kStatus) && (((statusMask_ & ct.status) != 0) == inv(kStatus))) return false;
    if (on(kExpire) &&
        ((ct.expires >= expire_.lo && ct.expires <= expire_.hi) == inv(kExpire)))
      return false;
    return true;
  }

  Family family_;
  uint32_t have_ = 0, inv_ = 0;
  uint16_t stateMask_ = 0;
  uint8_t proto_ = 0;
  uint32_t statusMask_ = 0;
  args::AddrMask addr_[4];
  args::Range port_[4];
  args::Range expire_;
};

}  // namespace

NFJIT_REGISTER_MATCH("conntrack", kFamBoth, ConntrackMatch);

}  // namespace nfjit
