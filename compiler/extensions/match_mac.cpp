// -m mac: Ethernet source address (kernel: xt_mac.c).
#include <cctype>
#include <cstdio>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

constexpr HookMask kMacHooks = hookBit(Hook::PreRouting) | hookBit(Hook::LocalIn) | hookBit(Hook::Forward);

class MacMatch final : public MatchExt {
 public:
  explicit MacMatch(Family) {}
  std::string_view name() const override { return "mac"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"mac-source", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    // Exactly six two-digit hex bytes separated by colons.
    const std::string& s = a.value;
    bool ok = s.size() == 17;
    for (size_t i = 0; ok && i < 6; ++i) {
      char h = s[i * 3], l = s[i * 3 + 1];
      ok = std::isxdigit(static_cast<unsigned char>(h)) && std::isxdigit(static_cast<unsigned char>(l)) &&
           (i == 5 || s[i * 3 + 2] == ':');
      if (ok) mac_[i] = static_cast<uint8_t>(std::stoul(s.substr(i * 3, 2), nullptr, 16));
    }
    if (!ok) a.fail("Bad mac address `" + s + "' for --mac-source (expected XX:XX:XX:XX:XX:XX)");
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("mac match requires --mac-source");
  }
  HookMask allowedHooks(std::string_view) const override { return kMacHooks; }
  void save(SaveWriter& w) const override {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac_[0], mac_[1], mac_[2], mac_[3],
                  mac_[4], mac_[5]);
    w.opt("mac-source", inv_).word(buf);
  }
  bool match(EvalContext& ctx) const override {
    // Without an Ethernet header nothing matches, inverted or not.
    if (!ctx.pkt.hasMac) return false;
    return (ctx.pkt.srcMac == mac_) != inv_;
  }

  std::array<uint8_t, 6> mac_{};
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("mac", kFamBoth, MacMatch);

}  // namespace nfjit
