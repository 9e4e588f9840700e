// -j LOG: kernel log line for the packet (kernel: xt_LOG.c / nf_log_syslog).
#include <cstring>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr uint8_t kDefaultLevel = 4;  // LOG_WARNING
constexpr size_t kPrefixField = 30;   // struct xt_log_info.prefix

struct LevelName {
  const char* name;
  uint8_t level;
};
constexpr LevelName kLevels[] = {
    {"alert", 1}, {"crit", 2},   {"debug", 7}, {"emerg", 0},   {"error", 3},
    {"info", 6},  {"notice", 5}, {"panic", 0}, {"warning", 4},
};

class LogTarget final : public TargetExt {
 public:
  explicit LogTarget(Family) {}
  std::string_view name() const override { return "LOG"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"log-level", ArgKind::Required},     {"log-prefix", ArgKind::Required},
        {"log-tcp-sequence", ArgKind::None},  {"log-tcp-options", ArgKind::None},
        {"log-ip-options", ArgKind::None},    {"log-uid", ArgKind::None},
        {"log-macdecode", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: {
        if (auto n = args::parseUInt(a.value, 0, 7)) {
          level_ = static_cast<uint8_t>(*n);
          break;
        }
        for (const auto& l : kLevels)
          if (a.value == l.name) {
            level_ = l.level;
            return;
          }
        a.fail("log level `" + a.value + "' unknown (0-7 or alert, crit, debug, emerg, info, notice, warning)");
      }
      case 1:
        if (a.value.empty()) a.fail("--log-prefix must not be empty");
        if (a.value.find('\n') != std::string::npos) a.fail("newlines not allowed in --log-prefix");
        prefix_ = tgt::truncated(a.value, kPrefixField);
        break;
      case 2: flags_ |= 0x01; break;  // XT_LOG_TCPSEQ
      case 3: flags_ |= 0x02; break;  // XT_LOG_TCPOPT
      case 4: flags_ |= 0x04; break;  // XT_LOG_IPOPT
      case 5: flags_ |= 0x08; break;  // XT_LOG_UID
      case 6: flags_ |= 0x20; break;  // XT_LOG_MACDECODE
    }
  }
  void save(SaveWriter& w) const override {
    if (!prefix_.empty()) w.opt("log-prefix").str(prefix_);
    if (level_ != kDefaultLevel) w.opt("log-level").num(level_);
    if (flags_ & 0x01) w.opt("log-tcp-sequence");
    if (flags_ & 0x02) w.opt("log-tcp-options");
    if (flags_ & 0x04) w.opt("log-ip-options");
    if (flags_ & 0x08) w.opt("log-uid");
    if (flags_ & 0x20) w.opt("log-macdecode");
  }
  Verdict apply(EvalContext& ctx) const override {
    LogRecord r;
    r.kind = LogRecord::Kind::Log;
    r.prefix = prefix_;
    r.level = level_;
    r.logFlags = flags_;
    ctx.effects.logs.push_back(prefix_);
    ctx.effects.logRecords.push_back(std::move(r));
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  std::string prefix_;
  uint8_t level_ = kDefaultLevel;
  uint8_t flags_ = 0;
};

}  // namespace

NFJIT_REGISTER_TARGET("LOG", kFamBoth, LogTarget);

}  // namespace nfjit
