// -j NFQUEUE: hand the packet to a userspace queue, optionally balanced
// over a range of queues (kernel: xt_NFQUEUE.c, revision 3).
#include <cstring>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class NfqueueTarget final : public TargetExt {
 public:
  explicit NfqueueTarget(Family) {}
  std::string_view name() const override { return "NFQUEUE"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"queue-num", ArgKind::Required}, {"queue-balance", ArgKind::Required},
        {"queue-bypass", ArgKind::None},  {"queue-cpu-fanout", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: case 1:
        which_.take(a);
        if (a.index == 0) {
          num_ = static_cast<uint16_t>(args::uintOrFail(a, 0, 65535));
          total_ = 1;
        } else {
          parseBalance(a);
        }
        break;
      case 2: bypass_ = true; break;
      case 3: fanout_ = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (fanout_ && total_ <= 1)
      ctx.fail("NFQUEUE target: option `--queue-cpu-fanout' also requires `--queue-balance'");
  }
  void save(SaveWriter& w) const override {
    if (total_ > 1)
      w.opt("queue-balance").word(std::to_string(num_) + ":" + std::to_string(num_ + total_ - 1));
    else
      w.opt("queue-num").num(num_);
    if (bypass_) w.opt("queue-bypass");
    if (fanout_) w.opt("queue-cpu-fanout");
  }
  Verdict apply(EvalContext& ctx) const override {
    uint32_t q = num_;
    if (total_ > 1) {
      if (fanout_)
        q = num_;  // CPU number modulo the range; nfjit evaluates as CPU 0
      else
        q = num_ + tgt::reciprocalScale(flowHash(ctx.pkt), total_);
    }
    ctx.effects.queueNum = q;
    ctx.effects.queueBypass = bypass_;
    return Verdict::Queue;
  }
  bool isTerminating() const override { return true; }

 private:
  // "a:b" with a < b <= 65534; empty ends default to 0 and 65534.
  void parseBalance(const OptionArg& a) {
    auto parts = args::split(a.value, ':');
    if (parts.size() != 2) a.fail("bad range `" + a.value + "' for --queue-balance (FIRST:LAST expected)");
    uint64_t lo = parts[0].empty() ? 0 : args::uintOrFail(a, parts[0], 0, 65534);
    uint64_t hi = parts[1].empty() ? 65534 : args::uintOrFail(a, parts[1], lo, 65534);
    if (lo >= hi)
      a.fail("--queue-balance " + a.value + ": " + std::to_string(lo) + " should be less than " + std::to_string(hi));
    num_ = static_cast<uint16_t>(lo);
    total_ = static_cast<uint32_t>(hi - lo + 1);
  }
  // nfqueue_hash(): both directions of a flow go to the same queue. The
  // kernel seeds it randomly at boot; nfjit uses seed 0. Addresses are
  // taken as the kernel's raw (little-endian host) loads.
  static uint32_t le32(const uint8_t* b) {
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
  static uint32_t flowHash(const PacketView& p) {
    if (p.family == Family::IPv4) {
      uint32_t s = le32(p.src.b.data()), d = le32(p.dst.b.data());
      return s < d ? tgt::jhash3(s, d, p.protocol, 0) : tgt::jhash3(d, s, p.protocol, 0);
    }
    uint32_t s3 = le32(p.src.b.data() + 12), d3 = le32(p.dst.b.data() + 12);
    uint32_t s1 = le32(p.src.b.data() + 4), d1 = le32(p.dst.b.data() + 4);
    uint32_t a = s3 < d3 ? s3 : d3, b = s3 < d3 ? d3 : s3;
    uint32_t c = s1 < d1 ? s1 : d1;
    return tgt::jhash3(a, b, c, 0);
  }

  uint16_t num_ = 0;
  uint32_t total_ = 1;
  bool bypass_ = false, fanout_ = false;
  tgt::Exclusive which_;
};

}  // namespace

NFJIT_REGISTER_TARGET("NFQUEUE", kFamBoth, NfqueueTarget);

}  // namespace nfjit
