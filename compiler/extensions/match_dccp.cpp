// -m dccp: ports, packet types and options (kernel: xt_dccp.c).
#include <cctype>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

constexpr const char* kTypeNames[] = {"REQUEST", "RESPONSE", "DATA", "ACK",     "DATAACK", "CLOSEREQ",
                                      "CLOSE",   "RESET",    "SYNC", "SYNCACK", "INVALID"};
constexpr unsigned kInvalid = 10;
constexpr uint16_t kInvalidOthers = 0xf800;  // types 11-15 count as INVALID too

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Length of the generic header plus the type-specific part, where options start.
uint32_t dccpHdrLen(uint8_t type, bool x) {
  uint32_t len = x ? 16 : 12;
  switch (type) {
    case 2: return len;  // DATA
    case 3:
    case 4:
    case 5:
    case 6:
    case 8:
    case 9:  // ack bits
      return len + 8;
    case 0: return len + 4;    // REQUEST: service code
    case 1: return len + 12;   // RESPONSE
    default: return len + 12;  // RESET and the rest
  }
}

class DccpMatch final : public MatchExt {
 public:
  explicit DccpMatch(Family) {}
  std::string_view name() const override { return "dccp"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"source-port", ArgKind::Required, true},      {"sport", ArgKind::Required, true},
        {"destination-port", ArgKind::Required, true}, {"dport", ArgKind::Required, true},
        {"dccp-types", ArgKind::Required, true},       {"dccp-option", ArgKind::Required, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
      case 1:
        if (haveS_) a.fail("multiple --sport flags not allowed");
        haveS_ = true;
        sport_ = args::portRangeOrFail(a, a.value, "dccp");
        invS_ = a.inverted;
        break;
      case 2:
      case 3:
        if (haveD_) a.fail("multiple --dport flags not allowed");
        haveD_ = true;
        dport_ = args::portRangeOrFail(a, a.value, "dccp");
        invD_ = a.inverted;
        break;
      case 4:
        types_ = 0;
        for (auto part : args::split(a.value, ',')) {
          if (part.empty()) continue;
          unsigned i = 0;
          while (i < std::size(kTypeNames) && !ieq(kTypeNames[i], part)) ++i;
          if (i == std::size(kTypeNames))
            a.fail("Unknown DCCP type `" + std::string(part) + "' in --dccp-types");
          types_ |= uint16_t(1u << i);
        }
        if (types_ & (1u << kInvalid)) types_ |= kInvalidOthers;
        haveTypes_ = true;
        invTypes_ = a.inverted;
        break;
      case 5:
        option_ = static_cast<uint8_t>(args::uintOrFail(a, 1, 255));
        haveOption_ = true;
        invOption_ = a.inverted;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override { hdr::requireProto(ctx, 33, "dccp", "dccp"); }
  void save(SaveWriter& w) const override {
    if (haveS_) hdr::saveRange(w, "sport", sport_, invS_);
    if (haveD_) hdr::saveRange(w, "dport", dport_, invD_);
    if (haveTypes_) {
      w.opt("dccp-types", invTypes_);
      std::string s;
      for (unsigned i = 0; i <= kInvalid; ++i) {
        if (!(types_ & (1u << i))) continue;
        if (!s.empty()) s += ',';
        s += kTypeNames[i];
      }
      w.word(s);
    }
    if (haveOption_) w.opt("dccp-option", invOption_).num(option_);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t dh[12];
    if (!headerAt(p, p.thoff, dh, sizeof dh)) {
      ctx.hotdrop = true;
      return false;
    }
    if (haveS_ && hdr::inRange(be16(dh), sport_) == invS_) return false;
    if (haveD_ && hdr::inRange(be16(dh + 2), dport_) == invD_) return false;
    uint8_t type = (dh[8] >> 1) & 0x0f;
    if (haveTypes_ && ((types_ & (1u << type)) != 0) == invTypes_) return false;
    if (haveOption_) {
      bool found = findOption(ctx, dh, type);
      if (ctx.hotdrop) return false;
      if (found == invOption_) return false;
    }
    return true;
  }

 private:
  bool findOption(EvalContext& ctx, const uint8_t* dh, uint8_t type) const {
    const PacketView& p = ctx.pkt;
    uint32_t hlen = dccpHdrLen(type, dh[8] & 1);
    uint32_t doff = uint32_t(dh[4]) * 4;
    if (doff < hlen) {
      ctx.hotdrop = true;  // data offset inside the fixed header
      return false;
    }
    uint32_t optlen = doff - hlen;
    if (optlen == 0) return false;
    uint8_t opts[1024];
    if (!headerAt(p, p.thoff + hlen, opts, optlen)) {
      ctx.hotdrop = true;
      return false;
    }
    for (uint32_t i = 0; i < optlen;) {
      if (opts[i] == option_) return true;
      if (opts[i] < 2)
        ++i;
      else
        i += (i + 1 < optlen && opts[i + 1]) ? opts[i + 1] : 1;
    }
    return false;
  }

  args::Range sport_{0, 65535}, dport_{0, 65535};
  bool haveS_ = false, haveD_ = false, invS_ = false, invD_ = false;
  uint16_t types_ = 0;
  bool haveTypes_ = false, invTypes_ = false;
  uint8_t option_ = 0;
  bool haveOption_ = false, invOption_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("dccp", kFamBoth, DccpMatch);

}  // namespace nfjit
