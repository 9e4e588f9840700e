// -m hashlimit (revision 3): token buckets per address/port bucket, kept
// in a table shared by all rules naming it (kernel: xt_hashlimit.c).
#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

constexpr uint64_t kScale = 1000000;  // XT_HASHLIMIT_SCALE_v2: avg in µs per packet
constexpr uint64_t kDefaultBurst = 5;
constexpr uint64_t kBurstMax = 1000000;
constexpr uint32_t kGcInterval = 1000;  // ms
constexpr unsigned kByteShift = 4;      // byte rates are counted in 16-byte chunks
constexpr uint32_t kByteExpire = 15, kByteExpireBurst = 60;  // s

enum ModeBits : uint32_t {
  kHashDip = 1 << 0, kHashDpt = 1 << 1, kHashSip = 1 << 2, kHashSpt = 1 << 3,
  kInvert = 1 << 4, kBytes = 1 << 5, kRateMatch = 1 << 6,
};

constexpr uint64_t pow2Below(uint64_t x) {
  uint64_t p = 1;
  while (p <= x / 2) p *= 2;
  return p;
}
// Credits per jiffy for packet rates (64-bit) and byte rates (32-bit).
constexpr uint64_t kCpj = pow2Below(UINT64_MAX / (meta::kHz * 86400));
constexpr uint64_t kCpjBytes = pow2Below(0xffffffffu / meta::kHz);

uint64_t user2credits(uint64_t user) {
  // Constant operands are divided first to avoid overflow, as the kernel.
  if constexpr (kScale >= meta::kHz * kCpj)
    return user / (kScale / (meta::kHz * kCpj));
  else
    return user * ((meta::kHz * kCpj) / kScale);
}
uint32_t user2creditsByte(uint32_t user) {
  return static_cast<uint32_t>((uint64_t(user) * meta::kHz * kCpjBytes) >> 32);
}
uint64_t costToBytes(uint64_t cost) {
  uint64_t r = cost ? 0xffffffffu / cost : 0xffffffffu;
  return (r - 1) << kByteShift;
}
uint64_t bytesToCost(uint64_t bytes) {
  uint32_t r = static_cast<uint32_t>(bytes >> kByteShift);
  return 0xffffffffu / (uint64_t(r) + 1);
}
uint64_t unitFactor(char c) { return c == 'm' ? 1024 * 1024 : c == 'k' ? 1024 : 1; }

struct Config {
  uint32_t mode = 0;
  uint64_t avg = 0, burst = kDefaultBurst;
  uint32_t size = 0, max = 0, gcInterval = kGcInterval, expire = 0;
  unsigned srcMask = 0, dstMask = 0;
  uint32_t interval = 0;
};

struct Bucket {
  uint64_t prev = 0, expires = 0;
  uint64_t credit = 0, creditCap = 0, cost = 0;
  // Rate-match mode: packets/bytes seen in the current window.
  uint64_t rate = 0, burst = 0, currentRate = 0;
  uint32_t interval = 0;
  bool prevWindow = false;
};

using Key = std::tuple<std::array<uint8_t, 16>, std::array<uint8_t, 16>, uint16_t, uint16_t>;

// One named table; the rule that creates it fixes its configuration.
struct HTable {
  Config cfg;
  std::map<Key, Bucket> entries;
  std::mutex mu;
};

std::shared_ptr<HTable> findOrCreate(Family f, const std::string& name, const Config& cfg) {
  static std::mutex mu;
  static std::map<std::pair<Family, std::string>, std::weak_ptr<HTable>> tables;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = tables[{f, name}];
  if (auto t = slot.lock()) return t;
  // Forget tables whose rules are all gone.
  for (auto it = tables.begin(); it != tables.end();)
    it = it->second.expired() && &it->second != &slot ? tables.erase(it) : std::next(it);
  auto t = std::make_shared<HTable>();
  t->cfg = cfg;
  slot = t;
  return t;
}

class HashlimitMatch final : public MatchExt {
 public:
  explicit HashlimitMatch(Family f) : family_(f) {
    cfg_.srcMask = cfg_.dstMask = addrBits(f);
  }
  std::string_view name() const override { return "hashlimit"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"hashlimit-upto", ArgKind::Required, true},
        {"hashlimit-above", ArgKind::Required, true},
        {"hashlimit", ArgKind::Required, true},  // old name of --hashlimit-upto
        {"hashlimit-srcmask", ArgKind::Required, false},
        {"hashlimit-dstmask", ArgKind::Required, false},
        {"hashlimit-burst", ArgKind::Required, false},
        {"hashlimit-htable-size", ArgKind::Required, false},
        {"hashlimit-htable-max", ArgKind::Required, false},
        {"hashlimit-htable-gcinterval", ArgKind::Required, false},
        {"hashlimit-htable-expire", ArgKind::Required, false},
        {"hashlimit-mode", ArgKind::Required, false},
        {"hashlimit-name", ArgKind::Required, false},
        {"hashlimit-rate-match", ArgKind::None, false},
        {"hashlimit-rate-interval", ArgKind::Required, false},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: case 1: case 2: {
        if (haveRate_) a.fail("only one of --hashlimit-upto and --hashlimit-above is allowed");
        haveRate_ = true;
        // "above" is stored as an inverted "upto".
        if ((a.index == 1) != a.inverted) cfg_.mode |= kInvert;
        if (!parseBytes(a)) parsePackets(a);
        break;
      }
      case 3:
      case 4: {
        // A length, or a contiguous mask in address form.
        int len = maskPrefixLen(family_, meta::plenMaskOrFail(a, family_, a.value));
        if (len < 0) a.fail("--" + std::string(a.name) + " `" + a.value + "' is not a contiguous mask");
        (a.index == 3 ? cfg_.srcMask : cfg_.dstMask) = static_cast<unsigned>(len);
        break;
      }
      case 5: {
        // A count, optionally followed by a k/m byte unit; like iptables
        // only the first character after the number is looked at ("400kb").
        std::string v = a.value;
        char* end = nullptr;
        errno = 0;
        unsigned long long n =
            (!v.empty() && std::isdigit(static_cast<unsigned char>(v[0]))) ? std::strtoull(v.c_str(), &end, 0) : 0;
        if (n == 0 || errno != 0 || (*end == '\0' && n > kBurstMax))
          a.fail("bad value `" + a.value + "' for --hashlimit-burst (1-" + std::to_string(kBurstMax) +
                 ", or an amount of bytes such as 400kb)");
        uint64_t f = unitFactor(*end);
        if (n > UINT64_MAX / f) a.fail("--hashlimit-burst `" + a.value + "' is too large");
        cfg_.burst = n * f;
        haveBurst_ = true;
        break;
      }
      case 6: cfg_.size = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); break;
      case 7: cfg_.max = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); break;
      case 8: cfg_.gcInterval = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); break;
      case 9:
        cfg_.expire = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        haveExpire_ = true;
        break;
      case 10:
        // strtok(",|") semantics: empty fields are skipped.
        {
          std::string s = a.value;
          for (auto& c : s) if (c == '|') c = ',';
          for (auto tok : args::split(s, ',')) {
            if (tok.empty()) continue;
            if (tok == "dstip") cfg_.mode |= kHashDip;
            else if (tok == "srcip") cfg_.mode |= kHashSip;
            else if (tok == "srcport") cfg_.mode |= kHashSpt;
            else if (tok == "dstport") cfg_.mode |= kHashDpt;
            else a.fail("bad value `" + a.value + "' for --hashlimit-mode (srcip, srcport, dstip, dstport)");
          }
        }
        break;
      case 11:
        if (a.value.empty()) a.fail("--hashlimit-name must not be empty");
        // NAME_MAX bytes with the NUL: iptables keeps the first 254 characters.
        name_ = a.value.substr(0, 254);
        break;
      case 12: cfg_.mode |= kRateMatch; break;
      case 13: {
        int64_t v = meta::atoll(a.value);
        if (v <= 0 || v > INT32_MAX) a.fail("bad value `" + a.value + "' for --hashlimit-rate-interval");
        cfg_.interval = static_cast<uint32_t>(v);
        break;
      }
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (table_) return;  // already checked: the conversions below run once
    if (name_.empty()) ctx.fail("hashlimit match: --hashlimit-name is required");
    if (!haveRate_) ctx.fail("hashlimit match: --hashlimit-upto or --hashlimit-above is required");
    if (!haveExpire_) cfg_.expire = unitMult_ * 1000;
    if (cfg_.mode & kBytes) {
      uint64_t chunk = costToBytes(cfg_.avg);
      uint64_t burst = 0;
      if (haveBurst_) {
        if (cfg_.burst < chunk)
          ctx.fail("hashlimit match: burst cannot be smaller than " + std::to_string(chunk) + "b");
        burst = cfg_.burst / chunk + (cfg_.burst % chunk ? 1 : 0);
        if (!haveExpire_) cfg_.expire = kByteExpireBurst * 1000;
      }
      cfg_.burst = burst;
    } else if (cfg_.burst > kBurstMax) {
      ctx.fail("hashlimit match: --hashlimit-burst " + std::to_string(cfg_.burst) + " is out of range (1-" +
               std::to_string(kBurstMax) + ")");
    }
    if (cfg_.mode & kRateMatch) {
      if (!(cfg_.mode & kBytes)) cfg_.avg /= unitMult_;
      if (cfg_.interval == 0) cfg_.interval = (cfg_.mode & kBytes) ? 1 : unitMult_;
    }
    // Kernel checkentry.
    if (cfg_.gcInterval == 0 || cfg_.expire == 0)
      ctx.fail("hashlimit match: --hashlimit-htable-gcinterval and --hashlimit-htable-expire must not be 0");
    if (name_ == "." || name_ == ".." || name_.find('/') != std::string::npos)
      ctx.fail("hashlimit match: invalid --hashlimit-name `" + name_ + "'");
    if (cfg_.mode & kBytes) {
      if (user2creditsByte(static_cast<uint32_t>(cfg_.avg)) == 0)
        ctx.fail("hashlimit match: byte rate too high");
    } else if (cfg_.burst == 0 || user2credits(cfg_.avg * cfg_.burst) < user2credits(cfg_.avg)) {
      ctx.fail("hashlimit match: rate and burst overflow the credit counter, try lower");
    }
    table_ = findOrCreate(family_, name_, cfg_);
  }
  void save(SaveWriter& w) const override {
    w.opt((cfg_.mode & kInvert) ? "hashlimit-above" : "hashlimit-upto");
    uint64_t quantum;
    if (cfg_.mode & kBytes) {
      quantum = saveBytes(w);
    } else {
      quantum = meta::saveRate(w, cfg_.avg, kScale);
      w.opt("hashlimit-burst").num(cfg_.burst);
    }
    if (cfg_.mode & (kHashSip | kHashSpt | kHashDip | kHashDpt)) {
      std::string m;
      for (auto [bit, n] : {std::pair{kHashSip, "srcip"}, std::pair{kHashSpt, "srcport"},
                            std::pair{kHashDip, "dstip"}, std::pair{kHashDpt, "dstport"}})
        if (cfg_.mode & bit) m += (m.empty() ? "" : ",") + std::string(n);
      w.opt("hashlimit-mode").word(m);
    }
    w.opt("hashlimit-name").word(name_);
    if (cfg_.size) w.opt("hashlimit-htable-size").num(cfg_.size);
    if (cfg_.max) w.opt("hashlimit-htable-max").num(cfg_.max);
    if (cfg_.gcInterval != kGcInterval) w.opt("hashlimit-htable-gcinterval").num(cfg_.gcInterval);
    if (cfg_.expire != quantum) w.opt("hashlimit-htable-expire").num(cfg_.expire);
    if (cfg_.srcMask != addrBits(family_)) w.opt("hashlimit-srcmask").num(cfg_.srcMask);
    if (cfg_.dstMask != addrBits(family_)) w.opt("hashlimit-dstmask").num(cfg_.dstMask);
    if (cfg_.mode & kRateMatch) {
      w.opt("hashlimit-rate-match");
      if (cfg_.interval != 1) w.opt("hashlimit-rate-interval").num(cfg_.interval);
    }
  }
  bool match(EvalContext& ctx) const override {
    HTable& t = *table_;
    std::lock_guard<std::mutex> lock(t.mu);
    // Buckets are keyed and refilled by the table creator's settings; the
    // rule's own decide inversion, byte mode and rate-match.
    const Config& tc = t.cfg;
    Key key;
    if (!makeKey(ctx.pkt, tc, key)) {
      ctx.hotdrop = true;
      return false;
    }
    uint64_t now = meta::jiffiesAt(ctx.nowNs);
    auto it = t.entries.find(key);
    if (it != t.entries.end() && it->second.expires < now) {
      t.entries.erase(it);  // garbage collected
      it = t.entries.end();
    }
    if (it == t.entries.end()) {
      uint64_t size = tc.size ? tc.size : 8192;
      uint64_t max = tc.max ? std::max<uint64_t>(tc.max, size) : 8 * size;
      if (t.entries.size() >= max) {
        for (auto e = t.entries.begin(); e != t.entries.end();)
          e = e->second.expires < now ? t.entries.erase(e) : std::next(e);
        if (t.entries.size() >= max) {
          ctx.hotdrop = true;  // table full
          return false;
        }
      }
      it = t.entries.emplace(key, initBucket(tc, now)).first;
    } else {
      recalc(it->second, now, tc.mode);
    }
    Bucket& b = it->second;
    b.expires = now + meta::msecsToJiffies(tc.expire);
    const bool inv = cfg_.mode & kInvert;
    if (cfg_.mode & kRateMatch) {
      b.currentRate += (cfg_.mode & kBytes) ? ctx.pkt.len : 1;
      if (!b.prevWindow && b.currentRate <= b.burst) return !inv;
      return inv;
    }
    uint64_t cost = (cfg_.mode & kBytes) ? byteCost(ctx.pkt.len, b) : b.cost;
    if (b.credit >= cost) {
      b.credit -= cost;
      return !inv;
    }
    return inv;
  }
  bool isStateful() const override { return true; }
  void resetState() const override {
    if (!table_) return;
    std::lock_guard<std::mutex> lock(table_->mu);
    table_->entries.clear();
  }

 private:
  bool parseBytes(const OptionArg& a) {
    auto pos = a.value.find("b/s");
    if (pos == std::string::npos || pos == 0) return false;
    int64_t r = meta::atoll(a.value);
    if (r == 0) return false;
    uint64_t bytes = static_cast<uint64_t>(r) * unitFactor(a.value[pos - 1]);
    uint64_t cost = bytesToCost(bytes);
    if (cost == 0) a.fail("rate `" + a.value + "' is too high for --" + std::string(a.name));
    cfg_.avg = cost;
    cfg_.mode |= kBytes;
    unitMult_ = kByteExpire;
    return true;
  }
  void parsePackets(const OptionArg& a) {
    uint32_t mult = 1;
    auto slash = a.value.find('/');
    bool ok = true;
    if (slash != std::string::npos) {
      mult = meta::rateUnitSeconds(std::string_view(a.value).substr(slash + 1));
      ok = mult != 0;
    }
    uint64_t r = ok ? static_cast<uint64_t>(meta::atoll(a.value)) : 0;
    if (!r)
      a.fail("bad rate `" + a.value + "' for --" + std::string(a.name) +
             " (expected N/sec, N/minute, N/hour, N/day or Nb/s, Nkb/s, Nmb/s)");
    cfg_.avg = kScale * mult / r;
    if (cfg_.avg == 0) a.fail("rate `" + a.value + "' is too fast for --" + std::string(a.name));
    unitMult_ = mult;
  }
  // The byte-rate form of the saved rate and burst; returns the default
  // expiry in ms that goes with it.
  uint64_t saveBytes(SaveWriter& w) const {
    static constexpr std::pair<const char*, uint64_t> kUnits[] = {{"m", 1024 * 1024}, {"k", 1024}, {"", 1}};
    uint64_t r = costToBytes(cfg_.avg);
    size_t i = 0;
    for (; i < 2; ++i)
      if (r >= kUnits[i].second && bytesToCost(r & ~(kUnits[i].second - 1)) == cfg_.avg) break;
    w.word(std::to_string(r / kUnits[i].second) + kUnits[i].first + "b/s");
    if (cfg_.burst == 0) return kByteExpire * 1000;
    r *= cfg_.burst;
    for (i = 0; i < 2; ++i)
      if (r >= kUnits[i].second) break;
    w.opt("hashlimit-burst").word(std::to_string(r / kUnits[i].second) + kUnits[i].first + "b");
    return kByteExpireBurst * 1000;
  }
  bool makeKey(const PacketView& p, const Config& c, Key& key) const {
    std::array<uint8_t, 16> src{}, dst{};
    uint16_t sport = 0, dport = 0;
    if (c.mode & kHashDip) dst = applyMask(p.dst, prefixMask(family_, c.dstMask)).b;
    if (c.mode & kHashSip) src = applyMask(p.src, prefixMask(family_, c.srcMask)).b;
    if (c.mode & (kHashSpt | kHashDpt)) {
      if (family_ == Family::IPv6 && !p.protocolFound) return false;
      int off = -1;
      switch (p.protocol) {
        case 6: case 17: case 136: case 132: case 33: case 50: off = 0; break;  // ports / ESP SPI
        case 51: off = 4; break;  // AH SPI
      }
      if (off >= 0) {
        uint8_t b[4];
        if (!headerAt(p, p.thoff + static_cast<uint32_t>(off), b, 4)) return false;
        if (c.mode & kHashSpt) sport = be16(b);
        if (c.mode & kHashDpt) dport = be16(b + 2);
      }
    }
    key = Key{src, dst, sport, dport};
    return true;
  }
  static Bucket initBucket(const Config& c, uint64_t now) {
    Bucket b;
    b.prev = now;
    if (c.mode & kRateMatch) {
      if (c.mode & kBytes) {
        b.rate = costToBytes(c.avg);
        b.burst = c.burst ? c.burst * b.rate : b.rate;
      } else {
        b.rate = c.avg ? kScale / c.avg : 0;
        b.burst = c.burst + b.rate;
      }
      b.interval = c.interval;
      return b;
    }
    if (c.mode & kBytes) {
      b.credit = kCpjBytes * meta::kHz;
      b.cost = user2creditsByte(static_cast<uint32_t>(c.avg));
      b.creditCap = c.burst;
    } else {
      b.credit = user2credits(c.avg * c.burst);
      b.cost = user2credits(c.avg);
      b.creditCap = b.credit;
    }
    return b;
  }
  static void recalc(Bucket& b, uint64_t now, uint32_t mode) {
    uint64_t delta = now - b.prev;
    if (delta == 0) return;
    if (mode & kRateMatch) {
      // A window closes after `interval` seconds; the next one is blocked
      // when the closed one ran above the rate.
      uint64_t interval = uint64_t(b.interval) * meta::kHz;
      if (delta < interval) return;
      b.prev = now;
      b.prevWindow = b.currentRate * interval > delta * b.rate;
      b.currentRate = 0;
      return;
    }
    b.prev = now;
    uint64_t cap;
    if (mode & kBytes) {
      // Byte buckets refill to one second of credit.
      cap = kCpjBytes * meta::kHz;
      uint64_t next = b.credit + kCpjBytes * delta;
      b.credit = next < b.credit ? cap : next;
    } else {
      b.credit += delta * kCpj;
      cap = b.creditCap;
    }
    if (b.credit > cap) b.credit = cap;
  }
  // A packet costs its 16-byte chunks; a bucket short of credit may dip
  // into its burst allowance once per burst unit.
  static uint64_t byteCost(uint32_t len, Bucket& b) {
    uint64_t cost = ((uint64_t(len) >> kByteShift) + 1) * b.cost;
    cost = std::min<uint64_t>(cost, kCpjBytes * meta::kHz);
    if (b.credit < cost && b.creditCap) {
      --b.creditCap;
      b.credit = kCpjBytes * meta::kHz;
    }
    return cost;
  }

  Family family_;
  Config cfg_;
  std::string name_;
  uint32_t unitMult_ = 1;
  bool haveRate_ = false, haveBurst_ = false, haveExpire_ = false;
  std::shared_ptr<HTable> table_;
};

}  // namespace

NFJIT_REGISTER_MATCH("hashlimit", kFamBoth, HashlimitMatch);

}  // namespace nfjit
