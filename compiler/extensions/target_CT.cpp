// -j CT: attach a conntrack template to the packet before conntrack sees it
// (helper, timeout policy, event mask, zone), or --notrack (kernel:
// xt_CT.c, revision 2). raw table, PREROUTING/OUTPUT.
#include <strings.h>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kHelperField = 16, kTimeoutField = 32;
constexpr uint16_t kZoneDirOrig = 2, kZoneDirRepl = 4, kZoneMark = 8;  // XT_CT_ZONE_*

// In the kernel's IPCT_* bit order.
constexpr const char* kCtEvents[] = {"new",       "related", "destroy", "reply",      "assured",
                                     "protoinfo", "helper",  "mark",    "natseqinfo", "secmark"};
constexpr const char* kExpEvents[] = {"new"};

// In-kernel conntrack helpers and the L4 protocols they register for.
struct Helper {
  const char* name;
  uint8_t proto;
};
constexpr Helper kHelpers[] = {
    {"ftp", 6},   {"irc", 6},    {"sip", 17},        {"sip", 6},        {"tftp", 17},
    {"amanda", 17}, {"sane", 6}, {"pptp", 6},        {"snmp", 17},      {"snmp_trap", 17},
    {"netbios-ns", 17}, {"RAS", 17}, {"Q.931", 6},   {"H.245", 6},
};

class CtTarget final : public TargetExt {
 public:
  explicit CtTarget(Family) {}
  std::string_view name() const override { return "CT"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"notrack", ArgKind::None},     {"helper", ArgKind::Required},
        {"timeout", ArgKind::Required}, {"ctevents", ArgKind::Required},
        {"expevents", ArgKind::Required}, {"zone-orig", ArgKind::Required},
        {"zone-reply", ArgKind::Required}, {"zone", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: notrack_ = true; break;
      case 1: helper_ = tgt::truncated(a.value, kHelperField); break;
      case 2: timeout_ = tgt::truncated(a.value, kTimeoutField); break;
      case 3: ctEvents_ = parseEvents(a, kCtEvents); break;
      case 4: expEvents_ = parseEvents(a, kExpEvents); break;
      case 5: case 6: case 7:
        // Direction flags accumulate over the three options; the id is the last one.
        if (a.index == 5) zoneFlags_ |= kZoneDirOrig;
        if (a.index == 6) zoneFlags_ |= kZoneDirRepl;
        zone_ = 0;
        if (strcasecmp(a.value.c_str(), "mark") == 0)
          zoneFlags_ |= kZoneMark;
        else
          zone_ = static_cast<uint16_t>(args::uintOrFail(a, 0, 65535));
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    tgt::requireTable(ctx, "CT", {"raw"});
    if (notrack_ || helper_.empty()) return;  // the kernel ignores the rest with --notrack
    // The helper is looked up for the rule's L4 protocol.
    if (ctx.proto == 0 || ctx.protoInverted)
      ctx.fail("CT target: --helper needs a layer 4 protocol (`-p tcp', `-p udp') without inversion");
    for (const auto& h : kHelpers)
      if (helper_ == h.name && ctx.proto == h.proto) return;
    ctx.fail("CT target: no conntrack helper `" + helper_ + "' for protocol " +
             args::protocolName(ctx.proto, ctx.family));
  }
  void save(SaveWriter& w) const override {
    if (notrack_) w.opt("notrack");
    if (!helper_.empty()) w.opt("helper").word(helper_);
    if (!timeout_.empty()) w.opt("timeout").word(timeout_);
    if (ctEvents_) w.opt("ctevents").word(formatEvents(ctEvents_, kCtEvents));
    if (expEvents_) w.opt("expevents").word(formatEvents(expEvents_, kExpEvents));
    if ((zoneFlags_ & kZoneMark) || zone_) {
      uint16_t dir = zoneFlags_ & (kZoneDirOrig | kZoneDirRepl);
      w.opt(dir == kZoneDirOrig ? "zone-orig" : dir == kZoneDirRepl ? "zone-reply" : "zone");
      if (zoneFlags_ & kZoneMark) w.word("mark");
      else w.num(zone_);
    }
  }
  Verdict apply(EvalContext& ctx) const override {
    SideEffects& e = ctx.effects;
    if (notrack_) {
      e.notrack = true;
      return Verdict::Continue;
    }
    e.ctTemplate = true;
    e.ctHelper = helper_;
    e.ctTimeout = timeout_;
    e.ctEvents = ctEvents_;
    e.ctExpEvents = expEvents_;
    e.ctZone = zone_;
    e.ctZoneFlags = zoneFlags_;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  template <size_t N>
  static uint32_t parseEvents(const OptionArg& a, const char* const (&names)[N]) {
    uint32_t mask = 0;
    for (auto part : args::split(a.value, ',')) {
      size_t i = 0;
      while (i < N && part != names[i]) ++i;
      if (i == N) a.fail("unknown event type `" + std::string(part) + "' in --" + std::string(a.name));
      mask |= 1u << i;
    }
    return mask;
  }
  template <size_t N>
  static std::string formatEvents(uint32_t mask, const char* const (&names)[N]) {
    std::string s;
    for (size_t i = 0; i < N; ++i)
      if (mask & (1u << i)) {
        if (!s.empty()) s += ',';
        s += names[i];
      }
    return s;
  }

  bool notrack_ = false;
  std::string helper_, timeout_;
  uint32_t ctEvents_ = 0, expEvents_ = 0;
  uint16_t zone_ = 0, zoneFlags_ = 0;
};

}  // namespace

NFJIT_REGISTER_TARGET("CT", kFamBoth, CtTarget);

}  // namespace nfjit
