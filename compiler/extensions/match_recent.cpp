// -m recent (revision 1): lists of recently seen addresses shared by name
// across rules (kernel: xt_recent.c).
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>

#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

constexpr unsigned kListTot = 100;       // ip_list_tot module parameter: entries per table
constexpr unsigned kMaxNstamps = 65536;  // XT_RECENT_MAX_NSTAMPS
constexpr size_t kNameLen = 200;       // XT_RECENT_NAME_LEN including the NUL

enum Ops : uint8_t { kCheck = 1, kSet = 2, kUpdate = 4, kRemove = 8, kTtl = 16, kReap = 32 };

uint32_t roundupPow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

struct Entry {
  IpAddr addr;
  uint8_t ttl = 0;
  std::vector<uint64_t> stamps;  // ring of jiffies, `index` is the next slot
  unsigned index = 0, nstamps = 0;
};

struct RecentTable {
  uint32_t nstampsMask = 0;
  IpAddr mask;  // the creating rule's --mask applies to every rule using the table
  std::list<Entry> lru;  // least recently used first
  std::mutex mu;
};

// Tables are shared by name; a rule needing more timestamps per entry than
// the table keeps flushes it and enlarges it, as the kernel does.
std::shared_ptr<RecentTable> findOrCreate(Family f, const std::string& name, uint32_t nstampsMask,
                                          const IpAddr& mask) {
  static std::mutex mu;
  static std::map<std::pair<Family, std::string>, std::weak_ptr<RecentTable>> tables;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = tables[{f, name}];
  if (auto t = slot.lock()) {
    std::lock_guard<std::mutex> tl(t->mu);
    if (nstampsMask > t->nstampsMask) {
      t->lru.clear();
      t->nstampsMask = nstampsMask;
    }
    return t;
  }
  // Forget tables whose rules are all gone.
  for (auto it = tables.begin(); it != tables.end();)
    it = it->second.expired() && &it->second != &slot ? tables.erase(it) : std::next(it);
  auto t = std::make_shared<RecentTable>();
  t->nstampsMask = nstampsMask;
  t->mask = mask;
  slot = t;
  return t;
}

class RecentMatch final : public MatchExt {
 public:
  explicit RecentMatch(Family f) : family_(f), mask_(prefixMask(f, addrBits(f))) {}
  std::string_view name() const override { return "recent"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"set", ArgKind::None, true},     {"rcheck", ArgKind::None, true},
        {"update", ArgKind::None, true},  {"remove", ArgKind::None, true},
        {"seconds", ArgKind::Required},   {"reap", ArgKind::None},
        {"hitcount", ArgKind::Required},  {"rttl", ArgKind::None},
        {"name", ArgKind::Required},      {"rsource", ArgKind::None},
        {"rdest", ArgKind::None},         {"mask", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    static constexpr uint8_t kOpBits[] = {kSet, kCheck, kUpdate, kRemove};
    switch (a.index) {
      case 0: case 1: case 2: case 3:
        if (ops_ & (kSet | kCheck | kUpdate | kRemove))
          a.fail("only one of --set, --rcheck, --update and --remove is allowed");
        if ((ops_ & kTtl) && (a.index == 0 || a.index == 3))
          a.fail("--rttl cannot be combined with --set or --remove");
        ops_ |= kOpBits[a.index];
        if (a.inverted) inv_ = true;
        break;
      case 4: seconds_ = static_cast<uint32_t>(args::uintOrFail(a, 1, UINT32_MAX)); break;
      case 5: ops_ |= kReap; break;
      case 6: hitCount_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); break;
      case 7:
        if (ops_ & (kSet | kRemove)) a.fail("--rttl cannot be combined with --set or --remove");
        ops_ |= kTtl;
        break;
      case 8:
        // iptables keeps the first XT_RECENT_NAME_LEN - 1 characters.
        name_ = a.value.substr(0, kNameLen - 1);
        break;
      case 9: dest_ = false; break;
      case 10: dest_ = true; break;
      case 11: mask_ = meta::hostOrFail(a, family_, a.value); break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!(ops_ & (kSet | kCheck | kUpdate | kRemove)))
      ctx.fail("recent match: one of --set, --rcheck, --update or --remove is required");
    if ((ops_ & kReap) && !seconds_) ctx.fail("recent match: --reap requires --seconds");
    // Kernel checkentry.
    if ((ops_ & (kSet | kRemove)) && (seconds_ || hitCount_ || (ops_ & (kTtl | kReap))))
      ctx.fail("recent match: --seconds, --hitcount, --rttl and --reap only go with --rcheck or --update");
    if (hitCount_ >= kMaxNstamps)
      ctx.fail("recent match: --hitcount " + std::to_string(hitCount_) + " is larger than the maximum " +
               std::to_string(kMaxNstamps - 1));
    if (name_.empty() || name_ == "." || name_ == ".." || name_.find('/') != std::string::npos)
      ctx.fail("recent match: invalid --name `" + name_ + "'");
    uint32_t nmask = hitCount_ ? roundupPow2(hitCount_) - 1 : 32 - 1;
    table_ = findOrCreate(family_, name_, nmask, mask_);
  }
  void save(SaveWriter& w) const override {
    if (inv_) w.raw(" !");
    if (ops_ & kSet) w.opt("set");
    if (ops_ & kCheck) w.opt("rcheck");
    if (ops_ & kUpdate) w.opt("update");
    if (ops_ & kRemove) w.opt("remove");
    if (seconds_) w.opt("seconds").num(seconds_);
    if (ops_ & kReap) w.opt("reap");
    if (hitCount_) w.opt("hitcount").num(hitCount_);
    if (ops_ & kTtl) w.opt("rttl");
    w.opt("name").word(name_);
    w.opt("mask").word(formatIpAddr(family_, mask_));
    w.opt(dest_ ? "rdest" : "rsource");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    bool ret = inv_;
    uint8_t ttl = p.ttl;
    // Forwarded packets are compared with the TTL they arrived with.
    bool hasOut = ctx.hook == Hook::Forward || ctx.hook == Hook::LocalOut || ctx.hook == Hook::PostRouting;
    if (hasOut && !p.hasSocket) ++ttl;
    uint64_t now = meta::jiffiesAt(ctx.nowNs);
    RecentTable& t = *table_;
    std::lock_guard<std::mutex> lock(t.mu);
    IpAddr addr = applyMask(dest_ ? p.dst : p.src, t.mask);
    uint8_t wantTtl = (ops_ & kTtl) ? ttl : 0;
    auto e = t.lru.begin();
    for (; e != t.lru.end(); ++e)
      if (e->addr == addr && (wantTtl == 0 || e->ttl == 0 || e->ttl == wantTtl)) break;
    if (e == t.lru.end()) {
      if (!(ops_ & kSet)) return ret;
      if (t.lru.size() >= kListTot) t.lru.pop_front();  // evict the oldest
      Entry n;
      n.addr = addr;
      n.ttl = ttl;
      n.stamps.assign(t.nstampsMask + 1, 0);
      n.stamps[0] = now;
      n.index = n.nstamps = 1;
      t.lru.push_back(std::move(n));
      return !ret;
    }
    if (ops_ & kSet) {
      ret = !ret;
    } else if (ops_ & kRemove) {
      t.lru.erase(e);
      return !ret;
    } else {
      uint64_t since = now - uint64_t(seconds_) * meta::kHz;
      unsigned hits = 0;
      for (unsigned i = 0; i < e->nstamps; ++i) {
        if (seconds_ && static_cast<int64_t>(since - e->stamps[i]) > 0) continue;
        if (!hitCount_ || ++hits >= hitCount_) {
          ret = !ret;
          break;
        }
      }
      if (ops_ & kReap) {
        // The least recently used entry goes when its last stamp is stale.
        auto& oldest = t.lru.front();
        bool working = &oldest == &*e;
        if (!(working && (ops_ & kUpdate) && ret) &&
            static_cast<int64_t>(since - oldest.stamps[(oldest.index + t.nstampsMask) & t.nstampsMask]) > 0) {
          if (working) {
            t.lru.pop_front();
            return ret;
          }
          t.lru.pop_front();
        }
      }
    }
    if ((ops_ & kSet) || ((ops_ & kUpdate) && ret)) {
      e->index &= t.nstampsMask;
      e->stamps[e->index++] = now;
      if (e->index > e->nstamps) e->nstamps = e->index;
      e->ttl = ttl;
      t.lru.splice(t.lru.end(), t.lru, e);
    }
    return ret;
  }
  bool isStateful() const override { return true; }
  void resetState() const override {
    if (!table_) return;
    std::lock_guard<std::mutex> lock(table_->mu);
    table_->lru.clear();
  }

  Family family_;
  uint8_t ops_ = 0;
  bool inv_ = false, dest_ = false;
  uint32_t seconds_ = 0, hitCount_ = 0;
  std::string name_ = "DEFAULT";
  IpAddr mask_;
  std::shared_ptr<RecentTable> table_;
};

}  // namespace

NFJIT_REGISTER_MATCH("recent", kFamBoth, RecentMatch);

}  // namespace nfjit
