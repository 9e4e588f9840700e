// -m time: date range, time of day, weekdays and days of the month, in
// UTC or the kernel's timezone (kernel: xt_time.c).
#include <cstdio>
#include <cstdlib>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

constexpr uint32_t kMaxDaytime = 24 * 60 * 60 - 1;
constexpr uint32_t kAllMonthdays = 0xfffffffe;  // bits 1..31
constexpr uint32_t kAllWeekdays = 0xfe;         // bits 1..7, Monday = 1
constexpr uint32_t kDefaultDateStop = 0x7fffffff;  // INT_MAX: no end
constexpr const char* kWeekDays[] = {nullptr, "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
void civilFromDays(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

// strtoul(s, &end, 10) on a view; returns the value and the rest.
unsigned long numPrefix(std::string_view s, std::string_view& rest) {
  size_t i = 0;
  unsigned long v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + unsigned(s[i++] - '0');
  rest = s.substr(i);
  return v;
}

class TimeMatch final : public MatchExt {
 public:
  explicit TimeMatch(Family) {}
  std::string_view name() const override { return "time"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"datestart", ArgKind::Required}, {"datestop", ArgKind::Required},
        {"timestart", ArgKind::Required}, {"timestop", ArgKind::Required},
        {"contiguous", ArgKind::None},    {"weekdays", ArgKind::Required, true},
        {"monthdays", ArgKind::Required, true}, {"localtz", ArgKind::None},
        {"utc", ArgKind::None},           {"kerneltz", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: dateStart_ = parseDate(a); break;
      case 1: dateStop_ = parseDate(a); break;
      case 2: dayStart_ = parseDaytime(a); break;
      case 3: dayStop_ = parseDaytime(a); break;
      case 4: contiguous_ = true; break;
      case 5:
        weekdays_ = parseWeekdays(a) & 0xff;  // an 8-bit field in the kernel
        if (a.inverted) weekdays_ ^= kAllWeekdays;
        break;
      case 6:
        monthdays_ = parseMonthdays(a);
        if (a.inverted) monthdays_ ^= kAllMonthdays;
        break;
      case 7: case 9:
        if (utc_) a.fail("--" + std::string(a.name) + " cannot be combined with --utc");
        kernelTz_ = true;
        break;
      case 8:
        if (kernelTz_) a.fail("--utc cannot be combined with --kerneltz/--localtz");
        utc_ = true;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (contiguous_ && dayStart_ < dayStop_)
      ctx.fail("time match: --contiguous only makes sense when --timestop is before --timestart");
  }
  void save(SaveWriter& w) const override {
    char buf[64];
    if (dayStart_ != 0 || dayStop_ != kMaxDaytime) {
      std::snprintf(buf, sizeof buf, " %02u:%02u:%02u", dayStart_ / 3600, dayStart_ / 60 % 60, dayStart_ % 60);
      w.opt("timestart").raw(buf);
      std::snprintf(buf, sizeof buf, " %02u:%02u:%02u", dayStop_ / 3600, dayStop_ / 60 % 60, dayStop_ % 60);
      w.opt("timestop").raw(buf);
    }
    if (monthdays_ != kAllMonthdays) {
      std::string s;
      for (unsigned i = 1; i <= 31; ++i)
        if (monthdays_ & (1u << i)) s += (s.empty() ? "" : ",") + std::to_string(i);
      w.opt("monthdays").word(s);
    }
    if (weekdays_ != kAllWeekdays) {
      std::string s;
      for (unsigned i = 1; i <= 7; ++i)
        if (weekdays_ & (1u << i)) s += (s.empty() ? "" : ",") + std::string(kWeekDays[i]);
      w.opt("weekdays").word(s);
    }
    // A zero start is the default and left out; the default stop is not
    // (iptables prints it).
    for (auto [date, opt] : {std::pair{dateStart_, "datestart"}, std::pair{dateStop_, "datestop"}}) {
      if (date == 0) continue;
      int y;
      unsigned m, d;
      civilFromDays(date / 86400, y, m, d);
      uint32_t sod = date % 86400;
      std::snprintf(buf, sizeof buf, " %04d-%02u-%02uT%02u:%02u:%02u", y, m, d, sod / 3600, sod / 60 % 60,
                    sod % 60);
      w.opt(opt).raw(buf);
    }
    if (kernelTz_) w.opt("kerneltz");
    if (contiguous_) w.opt("contiguous");
  }
  bool match(EvalContext& ctx) const override {
    // The model kernel's timezone (sys_tz) is UTC, so --kerneltz changes nothing.
    constexpr int64_t kTzMinutesWest = 0;
    int64_t stamp = static_cast<int64_t>(ctx.wallSec);
    if (kernelTz_) stamp -= 60 * kTzMinutesWest;
    if (stamp < int64_t(dateStart_) || stamp > int64_t(dateStop_)) return false;
    uint32_t packetTime = static_cast<uint32_t>(stamp % 86400);
    if (dayStart_ < dayStop_) {
      if (packetTime < dayStart_ || packetTime > dayStop_) return false;
    } else {
      if (packetTime < dayStart_ && packetTime > dayStop_) return false;
      // With --contiguous the early-morning part belongs to the day before.
      if (contiguous_ && packetTime <= dayStop_) stamp -= 86400;
    }
    int64_t days = stamp / 86400;
    unsigned weekday = static_cast<unsigned>((4 + days - 1) % 7 + 1);  // 1970-01-01 was a Thursday
    if (!(weekdays_ & (1u << weekday))) return false;
    if (monthdays_ != kAllMonthdays) {
      int y;
      unsigned m, d;
      civilFromDays(days, y, m, d);
      if (!(monthdays_ & (1u << d))) return false;
    }
    return true;
  }
  bool isStateful() const override { return true; }  // depends on the clock

 private:
  // YYYY[-MM[-DD[Thh[:mm[:ss]]]]] in UTC, normalised like mktime().
  static uint32_t parseDate(const OptionArg& a) {
    auto bad = [&]() {
      a.fail("invalid date `" + a.value + "' for --" + std::string(a.name) +
             " (expected YYYY[-MM[-DD[Thh[:mm[:ss]]]]])");
    };
    std::string_view s = a.value, rest;
    unsigned long f[6] = {0, 1, 1, 0, 0, 0};
    static constexpr char kSep[] = {'-', '-', 'T', ':', ':', '\0'};
    static constexpr unsigned long kMax[] = {2038, 12, 31, 23, 59, 59};
    for (int i = 0; i < 6; ++i) {
      f[i] = numPrefix(s, rest);
      bool end = rest.empty();
      if ((!end && rest[0] != kSep[i]) || (i == 5 && !end) || f[i] > kMax[i] || (i == 0 && f[0] < 1970)) bad();
      if (end) break;
      s = rest.substr(1);
    }
    int64_t year = static_cast<int64_t>(f[0]), month = static_cast<int64_t>(f[1]);
    if (month == 0) {  // tm_mon -1: December of the year before
      month = 12;
      --year;
    }
    int64_t t = (daysFromCivil(year, static_cast<unsigned>(month), 1) + int64_t(f[2]) - 1) * 86400 +
                int64_t(f[3]) * 3600 + int64_t(f[4]) * 60 + int64_t(f[5]);
    if (t < 0) bad();
    return static_cast<uint32_t>(t);  // the kernel field is 32 bits
  }
  static uint32_t parseDaytime(const OptionArg& a) {
    std::string_view s = a.value, rest;
    auto bad = [&]() {
      a.fail("invalid time `" + a.value + "' for --" + std::string(a.name) + " (expected hh:mm[:ss])");
    };
    unsigned long h = numPrefix(s, rest);
    if (rest.empty() || rest[0] != ':' || h > 23) bad();
    unsigned long m = numPrefix(rest.substr(1), rest), sec = 0;
    if ((!rest.empty() && rest[0] != ':') || m > 59) bad();
    if (!rest.empty()) {
      sec = numPrefix(rest.substr(1), rest);
      if (!rest.empty() || sec > 59) bad();
    }
    return static_cast<uint32_t>(h * 3600 + m * 60 + sec);
  }
  // Comma-separated fields; iptables reads at most 2 characters of each.
  static uint32_t parseMonthdays(const OptionArg& a) {
    uint32_t r = 0;
    for (auto field : args::split(a.value, ',')) {
      if (field.empty()) break;
      std::string day(field.substr(0, 2));
      char* end = nullptr;
      unsigned long v = std::strtoul(day.c_str(), &end, 0);
      if (*end != '\0' || v > 31) a.fail("`" + day + "' is not a valid day for --monthdays");
      r |= 1u << v;
    }
    return r;
  }
  // Numbers 1-7 or names matched on their first two letters; at most 3
  // characters of each field are read.
  static uint32_t parseWeekdays(const OptionArg& a) {
    uint32_t r = 0;
    for (auto field : args::split(a.value, ',')) {
      if (field.empty()) break;
      std::string day(field.substr(0, 3));
      char* end = nullptr;
      unsigned long v = std::strtoul(day.c_str(), &end, 0);
      if (*end == '\0') {
        if (v == 0) a.fail("--weekdays: the week begins with Monday (1), not 0");
        if (v > 31) a.fail("`" + day + "' is not a valid day for --weekdays");
        r |= 1u << v;
        continue;
      }
      bool valid = false;
      for (unsigned i = 1; i <= 7; ++i)
        if (day.compare(0, 2, kWeekDays[i], 2) == 0) {
          r |= 1u << i;
          valid = true;
        }
      if (!valid) a.fail("`" + day + "' is not a valid day for --weekdays");
    }
    return r;
  }

  uint32_t dateStart_ = 0, dateStop_ = kDefaultDateStop;
  uint32_t dayStart_ = 0, dayStop_ = kMaxDaytime;
  uint32_t weekdays_ = kAllWeekdays, monthdays_ = kAllMonthdays;
  bool contiguous_ = false, kernelTz_ = false, utc_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("time", kFamBoth, TimeMatch);

}  // namespace nfjit
