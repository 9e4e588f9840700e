// -m cpu: the CPU processing the packet (kernel: xt_cpu.c).
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class CpuMatch final : public MatchExt {
 public:
  explicit CpuMatch(Family) {}
  std::string_view name() const override { return "cpu"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"cpu", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    cpu_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("cpu match: --cpu is required");
  }
  void save(SaveWriter& w) const override { w.opt("cpu", inv_).num(cpu_); }
  bool match(EvalContext&) const override {
    // The model processes every packet on CPU 0 (PacketView has no CPU).
    constexpr uint32_t kCurrentCpu = 0;
    return (kCurrentCpu == cpu_) != inv_;
  }
  // Which CPU handles a packet depends on RSS/RPS, not on the packet alone.
  bool isStateful() const override { return true; }

  uint32_t cpu_ = 0;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("cpu", kFamBoth, CpuMatch);

}  // namespace nfjit
