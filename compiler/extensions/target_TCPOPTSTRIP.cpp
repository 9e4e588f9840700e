// -j TCPOPTSTRIP: overwrite the chosen TCP options with NOPs, fixing the
// checksum (kernel: xt_TCPOPTSTRIP.c). mangle table, -p tcp.
#include <bitset>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

struct OptName {
  const char* name;
  uint8_t kind;
};
constexpr OptName kOptNames[] = {
    {"wscale", 3}, {"mss", 2}, {"sack-permitted", 4}, {"sack", 5}, {"timestamp", 8}, {"md5", 19},
};

class TcpoptstripTarget final : public TargetExt {
 public:
  explicit TcpoptstripTarget(Family) {}
  std::string_view name() const override { return "TCPOPTSTRIP"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"strip-options", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    for (auto part : args::split(a.value, ',')) {
      unsigned kind = 0;
      for (const auto& n : kOptNames)
        if (part == n.name) kind = n.kind;
      if (kind == 0) {
        auto v = args::parseUInt(part, 0, 255);
        if (!v) a.fail("bad TCP option value `" + std::string(part) + "' in --strip-options");
        kind = static_cast<unsigned>(*v);
      }
      // 0 (end of list) and 1 (NOP) are what stripping leaves behind.
      if (kind < 2) a.fail("TCP option value may not be 0 or 1 in --strip-options");
      if (strip_.test(kind)) a.fail("TCP option `" + std::string(part) + "' already specified in --strip-options");
      strip_.set(kind);
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!tgt::protoIs(ctx, 6)) ctx.fail("TCPOPTSTRIP target: only valid for protocol 6 (`-p tcp')");
    tgt::requireTable(ctx, "TCPOPTSTRIP", {"mangle"});
  }
  void save(SaveWriter& w) const override {
    if (strip_.none()) return;
    std::string list;
    for (unsigned i = 0; i < 256; ++i)
      if (strip_.test(i)) list += (list.empty() ? "" : ",") + std::to_string(i);
    w.opt("strip-options").word(list);
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return Verdict::Continue;
    if (p.thoff > p.len) return Verdict::Drop;
    uint32_t len = p.len - p.thoff;
    if (len < 20) return Verdict::Drop;
    uint8_t* th = p.data + p.thoff;
    uint32_t hdrLen = (th[12] >> 4) * 4u;
    if (len < hdrLen) return Verdict::Drop;
    for (uint32_t i = 20; i + 1 < hdrLen;) {
      uint32_t optLen = (th[i] <= 1 || th[i + 1] == 0) ? 1 : th[i + 1];
      if (i + optLen > hdrLen) break;
      if (strip_.test(th[i])) {
        // Each byte changes within its 16-bit checksum word.
        for (uint32_t j = 0; j < optLen; ++j) {
          uint32_t at = i + j;
          uint16_t o = th[at], n = 1;
          if (at % 2 == 0) o = static_cast<uint16_t>(o << 8), n = static_cast<uint16_t>(n << 8);
          tgt::csumReplace16(th + 16, o, n);
          th[at] = 1;
        }
      }
      i += optLen;
    }
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  std::bitset<256> strip_;
};

}  // namespace

NFJIT_REGISTER_TARGET("TCPOPTSTRIP", kFamBoth, TcpoptstripTarget);

}  // namespace nfjit
