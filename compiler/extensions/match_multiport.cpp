// -m multiport (revision 1): up to 15 ports or port ranges, matched against
// the source, destination or either port (kernel: xt_multiport.c).
#include <vector>

#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

constexpr unsigned kMaxPorts = 15;  // XT_MULTI_PORTS; a range takes two slots

enum class Dir : uint8_t { Source, Destination, Either };

const char* protoForPorts(uint16_t proto) {
  switch (proto) {
    case 6: return "tcp";
    case 17: return "udp";
    case 136: return "udplite";
    case 132: return "sctp";
    case 33: return "dccp";
    default: return nullptr;
  }
}

class MultiportMatch final : public MatchExt {
 public:
  explicit MultiportMatch(Family) {}
  std::string_view name() const override { return "multiport"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"source-ports", ArgKind::Required, true},
        {"sports", ArgKind::Required, true},
        {"destination-ports", ArgKind::Required, true},
        {"dports", ArgKind::Required, true},
        {"ports", ArgKind::Required, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (have_) a.fail("--" + std::string(a.name) + " cannot be combined with another multiport port option");
    have_ = true;
    dir_ = a.index < 2 ? Dir::Source : a.index < 4 ? Dir::Destination : Dir::Either;
    invert_ = a.inverted;
    arg_ = a;
    // Service names depend on -p, known only at the final check; numbers
    // and syntax are checked now so errors point at the value.
    parsePorts(a, nullptr);
  }
  void finalCheck(const RuleContext& ctx) override {
    const char* proto = protoForPorts(ctx.proto);
    if (ctx.protoInverted || (!proto && ctx.proto != 0))
      ctx.fail("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
    if (!proto) ctx.fail("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
    if (!have_) ctx.fail("multiport: no ports specified (use --sports, --dports or --ports)");
    parsePorts(arg_, proto);
  }
  void save(SaveWriter& w) const override {
    w.opt(dir_ == Dir::Source ? "sports" : dir_ == Dir::Destination ? "dports" : "ports", invert_);
    std::string s;
    for (const auto& r : ports_) {
      if (!s.empty()) s += ',';
      s += args::formatRange(r);
    }
    w.word(s);
  }
  bool lower(LoweringContext& c) const override {
    c.require(c.range(Field::Frag, 0, 0));
    std::vector<LoweringContext::Term> any;
    for (const auto& r : ports_) {
      if (dir_ != Dir::Destination) any.push_back(c.range(Field::Sport, r.lo, r.hi));
      if (dir_ != Dir::Source) any.push_back(c.range(Field::Dport, r.lo, r.hi));
    }
    auto t = c.anyOf(any);
    c.require(invert_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t h[4];
    if (!headerAt(p, p.thoff, h, 4)) {
      ctx.hotdrop = true;
      return false;
    }
    uint16_t sp = be16(h), dp = be16(h + 2);
    for (const auto& r : ports_) {
      bool hit =
          (dir_ != Dir::Destination && hdr::inRange(sp, r)) || (dir_ != Dir::Source && hdr::inRange(dp, r));
      if (hit) return !invert_;
    }
    return invert_;
  }

 private:
  void parsePorts(const OptionArg& a, const char* proto) {
    ports_.clear();
    unsigned slots = 0;
    for (auto part : args::split(a.value, ',')) {
      auto colon = part.find(':');
      unsigned need = colon == std::string_view::npos ? 1 : 2;
      if (slots + need > kMaxPorts)
        a.fail("too many ports specified in --" + std::string(a.name) + " (at most 15)");
      slots += need;
      args::Range r;
      if (colon == std::string_view::npos) {
        r.lo = r.hi = args::portOrFail(a, part, proto);
      } else {
        r.lo = args::portOrFail(a, part.substr(0, colon), proto);
        r.hi = args::portOrFail(a, part.substr(colon + 1), proto);
        if (r.lo >= r.hi)
          a.fail("invalid portrange `" + std::string(part) + "' in --" + std::string(a.name) +
                 " (start must be below end)");
      }
      ports_.push_back(r);
    }
  }

  bool have_ = false, invert_ = false;
  Dir dir_ = Dir::Either;
  OptionArg arg_;
  std::vector<args::Range> ports_;
};

}  // namespace

NFJIT_REGISTER_MATCH("multiport", kFamBoth, MultiportMatch);

}  // namespace nfjit
