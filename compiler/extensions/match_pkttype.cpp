// -m pkttype: link-layer packet class (kernel: xt_pkttype.c).
#include <strings.h>

#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

struct PktTypeName {
  const char* name;
  uint8_t type;  // PACKET_* of linux/if_packet.h
};
// The first name of each type is the one printed.
constexpr PktTypeName kNames[] = {
    {"unicast", 0}, {"broadcast", 1}, {"multicast", 2}, {"otherhost", 3},
    {"bcast", 1},   {"mcast", 2},     {"host", 0},
};

class PkttypeMatch final : public MatchExt {
 public:
  explicit PkttypeMatch(Family) {}
  std::string_view name() const override { return "pkttype"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"pkt-type", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    for (const auto& n : kNames)
      if (strcasecmp(n.name, a.value.c_str()) == 0) {
        type_ = n.type;
        inv_ = a.inverted;
        set_ = true;
        return;
      }
    a.fail("Bad packet type `" + a.value + "' for --pkt-type (unicast, broadcast, multicast, otherhost)");
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("pkttype match requires --pkt-type");
  }
  void save(SaveWriter& w) const override {
    w.opt("pkt-type", inv_);
    for (const auto& n : kNames)
      if (n.type == type_) {
        w.word(n.name);
        return;
      }
    w.num(type_);
  }
  bool lower(LoweringContext& c) const override {
    auto t = c.range(Field::PktType, type_, type_);
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    return (static_cast<uint8_t>(ctx.pkt.pktType) == type_) != inv_;
  }

  uint8_t type_ = 0;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("pkttype", kFamBoth, PkttypeMatch);

}  // namespace nfjit
