// -m tcp: ports, --tcp-flags / --syn, --tcp-option (kernel: xt_tcpudp.c).
#include <array>

#include "compiler/extensions/ExtensionApi.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

constexpr std::array<std::pair<const char*, uint8_t>, 8> kTcpFlagNames = {{
    {"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
    {"ACK", 0x10}, {"URG", 0x20}, {"ECE", 0x40}, {"CWR", 0x80},
}};

uint8_t parseTcpFlags(const OptionArg& a, const std::string& s, SourceLoc loc) {
  uint8_t flags = 0;
  for (auto part : args::split(s, ',')) {
    std::string up(part);
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up == "ALL") { flags = 0xff; continue; }
    if (up == "NONE") continue;
    bool found = false;
    for (auto& [n, bit] : kTcpFlagNames)
      if (up == n) { flags |= bit; found = true; }
    if (!found) a.failAt(loc, "unknown TCP flag `" + std::string(part) + "' in --tcp-flags");
  }
  return flags;
}

void saveTcpFlags(SaveWriter& w, uint8_t flags) {
  if (flags == 0) {
    w.word("NONE");
    return;
  }
  std::string s;
  for (auto& [n, bit] : kTcpFlagNames)
    if (flags & bit) {
      if (!s.empty()) s += ',';
      s += n;
    }
  w.word(s);
}

class TcpMatch final : public MatchExt {
 public:
  explicit TcpMatch(Family) {}
  std::string_view name() const override { return "tcp"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"source-port", ArgKind::Required, true},  {"sport", ArgKind::Required, true},
        {"destination-port", ArgKind::Required, true}, {"dport", ArgKind::Required, true},
        {"syn", ArgKind::None, true},              {"tcp-flags", ArgKind::Two, true},
        {"tcp-option", ArgKind::Required, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: case 1:
        if (haveSport_) a.fail("multiple --sport flags not allowed");
        haveSport_ = true;
        sport_ = args::portRangeOrFail(a, a.value, "tcp");
        invSport_ = a.inverted;
        break;
      case 2: case 3:
        if (haveDport_) a.fail("multiple --dport flags not allowed");
        haveDport_ = true;
        dport_ = args::portRangeOrFail(a, a.value, "tcp");
        invDport_ = a.inverted;
        break;
      case 4:
        if (haveFlags_) a.fail("only one of --syn and --tcp-flags allowed");
        haveFlags_ = true;
        flagMask_ = 0x17;  // FIN,SYN,RST,ACK
        flagCmp_ = 0x02;
        invFlags_ = a.inverted;
        break;
      case 5:
        if (haveFlags_) a.fail("only one of --syn and --tcp-flags allowed");
        haveFlags_ = true;
        flagMask_ = parseTcpFlags(a, a.value, a.valueLoc);
        flagCmp_ = parseTcpFlags(a, a.value2, a.value2Loc);
        invFlags_ = a.inverted;
        break;
      case 6:
        option_ = static_cast<uint8_t>(args::uintOrFail(a, 1, 255));
        invOption_ = a.inverted;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (ctx.proto != 6 || ctx.protoInverted) ctx.fail("tcp match requires `-p tcp'");
  }
  void save(SaveWriter& w) const override {
    if (sport_.lo != 0 || sport_.hi != 65535 || invSport_)
      w.opt("sport", invSport_).word(args::formatRange(sport_));
    if (dport_.lo != 0 || dport_.hi != 65535 || invDport_)
      w.opt("dport", invDport_).word(args::formatRange(dport_));
    if (option_ || invOption_) w.opt("tcp-option", invOption_).num(option_);
    if (flagMask_ || invFlags_) {
      w.opt("tcp-flags", invFlags_);
      saveTcpFlags(w, flagMask_);
      saveTcpFlags(w, flagCmp_);
    }
  }
  bool lower(LoweringContext& c) const override {
    if (option_) return false;  // TCP options are not modelled
    c.require(c.range(Field::Frag, 0, 0));
    auto t = c.range(Field::Sport, sport_.lo, sport_.hi);
    c.require(invSport_ ? c.negate(t) : t);
    t = c.range(Field::Dport, dport_.lo, dport_.hi);
    c.require(invDport_ ? c.negate(t) : t);
    t = c.maskEq(Field::TcpFlags, flagCmp_, flagMask_);
    c.require(invFlags_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) {
      // A fragment at offset 8 could overwrite the flags: the kernel drops it.
      if (p.fragoff == 1) ctx.hotdrop = true;
      return false;
    }
    uint8_t th[20];
    if (!headerAt(p, p.thoff, th, sizeof th)) {
      ctx.hotdrop = true;
      return false;
    }
    uint16_t sp = be16(th), dp = be16(th + 2);
    if (((sp >= sport_.lo && sp <= sport_.hi) != !invSport_)) return false;
    if (((dp >= dport_.lo && dp <= dport_.hi) != !invDport_)) return false;
    if (((th[13] & flagMask_) == flagCmp_) == invFlags_) return false;
    if (option_) {
      unsigned doff = (th[12] >> 4) * 4u;
      if (doff < 20) {
        ctx.hotdrop = true;
        return false;
      }
      uint8_t opts[40];
      unsigned optlen = doff - 20;
      if (!headerAt(p, p.thoff + 20, opts, optlen)) {
        ctx.hotdrop = true;
        return invOption_;
      }
      bool found = false;
      for (unsigned i = 0; i < optlen;) {
        if (opts[i] == option_) { found = true; break; }
        if (opts[i] < 2) ++i;
        else i += (i + 1 < optlen && opts[i + 1]) ? opts[i + 1] : 1;
      }
      if (found == invOption_) return false;
    }
    return true;
  }

  args::Range sport_{0, 65535}, dport_{0, 65535};
  bool invSport_ = false, invDport_ = false, haveSport_ = false, haveDport_ = false;
  uint8_t flagMask_ = 0, flagCmp_ = 0, option_ = 0;
  bool invFlags_ = false, haveFlags_ = false, invOption_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("tcp", kFamBoth, TcpMatch);

}  // namespace nfjit
