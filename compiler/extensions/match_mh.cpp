// -m mh: IPv6 mobility header type range (kernel: ip6t_mh.c).
#include <strings.h>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

struct MhName {
  const char* name;
  uint8_t type;
};
constexpr MhName kMhNames[] = {
    {"binding-refresh-request", 0},
    {"brr", 0},
    {"home-test-init", 1},
    {"hoti", 1},
    {"careof-test-init", 2},
    {"coti", 2},
    {"home-test", 3},
    {"hot", 3},
    {"careof-test", 4},
    {"cot", 4},
    {"binding-update", 5},
    {"bu", 5},
    {"binding-acknowledgement", 6},
    {"ba", 6},
    {"binding-error", 7},
    {"be", 7},
};

// A name by prefix (an exact name wins), else a number 0-255.
uint8_t mhType(const OptionArg& a, std::string_view s) {
  const MhName* hit = nullptr;
  for (const auto& n : kMhNames) {
    std::string_view nm(n.name);
    if (s.empty() || s.size() > nm.size() || strncasecmp(n.name, std::string(s).c_str(), s.size()) != 0)
      continue;
    if (!hit || nm.size() == s.size()) hit = &n;
  }
  if (hit) return hit->type;
  if (auto v = args::parseUInt(s, 0, 255)) return static_cast<uint8_t>(*v);
  a.fail("Invalid MH type `" + std::string(s) + "' for --mh-type");
}

class MhMatch final : public MatchExt {
 public:
  explicit MhMatch(Family) {}
  std::string_view name() const override { return "mh"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"mh-type", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    std::string_view s = a.value;
    auto colon = s.find(':');
    if (colon == std::string_view::npos) {
      types_.lo = types_.hi = mhType(a, s);
    } else {
      auto lo = s.substr(0, colon), hi = s.substr(colon + 1);
      types_.lo = lo.empty() ? 0 : mhType(a, lo);
      types_.hi = hi.empty() ? 255 : mhType(a, hi);
      if (types_.lo > types_.hi) a.fail("Invalid MH type range `" + a.value + "' (min > max)");
    }
    inv_ = a.inverted;
  }
  void finalCheck(const RuleContext& ctx) override { hdr::requireProto(ctx, 135, "mh", "mh"); }
  void save(SaveWriter& w) const override {
    if (!(types_ == args::Range{0, 255}) || inv_) hdr::saveRange(w, "mh-type", types_, inv_);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t h[6];  // payload proto, length, type, reserved, checksum
    if (!headerAt(p, p.thoff, h, sizeof h)) {
      ctx.hotdrop = true;
      return false;
    }
    if (h[0] != hdr::kNhNone) {
      ctx.hotdrop = true;  // RFC 3775: the payload protocol must be "no next header"
      return false;
    }
    return hdr::inRange(h[2], types_) != inv_;
  }

  args::Range types_{0, 255};
  bool inv_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("mh", kFamV6, MhMatch);

}  // namespace nfjit
