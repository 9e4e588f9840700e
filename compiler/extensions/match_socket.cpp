// -m socket (revision 3): a local socket exists for the packet
// (kernel: xt_socket.c socket_match / socket_mt6_v1_v2_v3).
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class SocketMatch final : public MatchExt {
 public:
  explicit SocketMatch(Family) {}
  std::string_view name() const override { return "socket"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"transparent", ArgKind::None, false},
                                      {"nowildcard", ArgKind::None, false},
                                      {"restore-skmark", ArgKind::None, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 0) transparent_ = true;
    if (a.index == 1) nowildcard_ = true;
    if (a.index == 2) restoreMark_ = true;
  }
  HookMask allowedHooks(std::string_view) const override {
    return hookBit(Hook::PreRouting) | hookBit(Hook::LocalIn);
  }
  void save(SaveWriter& w) const override {
    if (transparent_) w.opt("transparent");
    if (nowildcard_) w.opt("nowildcard");
    if (restoreMark_) w.opt("restore-skmark");
  }
  bool match(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (!p.hasSocket) return false;
    // PacketView describes the socket found only by its existence: it is
    // taken as bound to a specific address (not a wildcard listener), not
    // IP_TRANSPARENT, with the default socket mark 0.
    constexpr bool kWildcard = false, kTransparent = false;
    constexpr uint32_t kSockMark = 0;
    bool wildcard = !nowildcard_ && kWildcard;
    if (restoreMark_ && !wildcard && (kTransparent || !transparent_)) p.mark = kSockMark;
    if (wildcard || (transparent_ && !kTransparent)) return false;
    return true;
  }

  bool transparent_ = false, nowildcard_ = false, restoreMark_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("socket", kFamBoth, SocketMatch);

}  // namespace nfjit
