// -j NFLOG: pass the packet to nfnetlink_log group N (kernel: xt_NFLOG.c).
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kPrefixField = 64;  // struct xt_nflog_info.prefix

class NflogTarget final : public TargetExt {
 public:
  explicit NflogTarget(Family) {}
  std::string_view name() const override { return "NFLOG"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"nflog-group", ArgKind::Required}, {"nflog-prefix", ArgKind::Required},
        {"nflog-range", ArgKind::Required}, {"nflog-size", ArgKind::Required},
        {"nflog-threshold", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: group_ = static_cast<uint16_t>(args::uintOrFail(a, 0, 65535)); break;
      case 1:
        if (a.value.empty()) a.fail("--nflog-prefix must not be empty");
        if (a.value.find('\n') != std::string::npos) a.fail("newlines not allowed in --nflog-prefix");
        prefix_ = tgt::truncated(a.value, kPrefixField);
        break;
      case 2: case 3:
        // --nflog-range (legacy, never honoured by the kernel) and
        // --nflog-size share the length field.
        lenOpt_.take(a);
        len_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        copyLen_ = a.index == 3;
        break;
      case 4: threshold_ = static_cast<uint16_t>(args::uintOrFail(a, 0, 65535)); break;
    }
  }
  void save(SaveWriter& w) const override {
    if (!prefix_.empty()) w.opt("nflog-prefix").str(prefix_);
    if (group_) w.opt("nflog-group").num(group_);
    if (copyLen_) w.opt("nflog-size").num(len_);
    else if (len_) w.opt("nflog-range").num(len_);
    if (threshold_) w.opt("nflog-threshold").num(threshold_);
  }
  Verdict apply(EvalContext& ctx) const override {
    LogRecord r;
    r.kind = LogRecord::Kind::Nflog;
    r.prefix = prefix_;
    r.group = group_;
    r.copyLenSet = copyLen_;
    r.copyLen = copyLen_ ? len_ : 0;  // --nflog-range is ignored by the kernel
    r.threshold = threshold_;
    ctx.effects.logs.push_back(prefix_);
    ctx.effects.logRecords.push_back(std::move(r));
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  std::string prefix_;
  uint16_t group_ = 0, threshold_ = 0;
  uint32_t len_ = 0;
  bool copyLen_ = false;
  tgt::Exclusive lenOpt_;
};

}  // namespace

NFJIT_REGISTER_TARGET("NFLOG", kFamBoth, NflogTarget);

}  // namespace nfjit
