// -m osf: passive OS fingerprinting of TCP SYNs (kernel: xt_osf.c on
// nfnetlink_osf). Fingerprints are loaded from userspace (nfnl_osf); the
// model has none loaded, so no genre is ever recognised.
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class OsfMatch final : public MatchExt {
 public:
  explicit OsfMatch(Family) {}
  std::string_view name() const override { return "osf"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"genre", ArgKind::Required, true},
                                      {"ttl", ArgKind::Required, false},
                                      {"log", ArgKind::Required, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        // MAXGENRELEN is 32 bytes including the NUL: iptables silently
        // keeps the first 31 characters.
        genre_ = a.value.substr(0, 31);
        inv_ = a.inverted;
        haveGenre_ = true;
        break;
      case 1:
        ttl_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 2));
        haveTtl_ = true;
        break;
      case 2:
        log_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 2));
        haveLog_ = true;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveGenre_) ctx.fail("osf match: --genre is required");
    if (ctx.proto != 6 || ctx.protoInverted) ctx.fail("osf match is only valid for `-p tcp'");
  }
  HookMask allowedHooks(std::string_view) const override {
    return hookBit(Hook::PreRouting) | hookBit(Hook::LocalIn) | hookBit(Hook::Forward);
  }
  void save(SaveWriter& w) const override {
    w.opt("genre", inv_).word(genre_);
    if (haveTtl_) w.opt("ttl").num(ttl_);
    if (haveLog_) w.opt("log").num(log_);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint8_t th[20];
    // Only unfragmented TCP SYNs are fingerprinted.
    if (p.protocol != 6 || p.fragoff != 0 || !headerAt(p, p.thoff, th, sizeof th) || !(th[13] & 0x02))
      return false;
    // With no fingerprint loaded the OS stays unknown; --log reports it.
    if (haveLog_)
      ctx.effects.logs.push_back("Remote OS is not known: " + formatIpAddr(p.family, p.src) + ":" +
                                 std::to_string(be16(th)) + " -> " + formatIpAddr(p.family, p.dst) + ":" +
                                 std::to_string(be16(th + 2)));
    return false;
  }

  std::string genre_;
  uint8_t ttl_ = 0, log_ = 0;
  bool inv_ = false, haveGenre_ = false, haveTtl_ = false, haveLog_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("osf", kFamV4, OsfMatch);

}  // namespace nfjit
