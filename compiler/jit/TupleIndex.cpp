#include "compiler/jit/TupleIndex.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "compiler/jit/ChainSearch.h"

namespace nfjit::jit {
namespace {

// Candidate cut sets (prefix lengths a rule's own length is cut down to).
// Coarse cuts make fewer tables and longer buckets; the cost model picks.
constexpr unsigned kCutSets[][8] = {
    {0, 11, 22}, {0, 12, 24}, {0, 8, 16, 24, 32}, {0, 16, 32}, {0, 6, 12, 18, 24, 30},
};
constexpr unsigned kCutSetLen[] = {3, 3, 5, 3, 6};

uint32_t prefixMask(unsigned len) { return len ? ~uint32_t(0) << (32 - len) : 0; }

unsigned cutIndex(const unsigned* cuts, unsigned n, unsigned len) {
  unsigned i = 0;
  while (i + 1 < n && cuts[i + 1] <= len) ++i;
  return i;
}

// The packet's value of each field, in Field order.
inline void fieldValues(const JitKey& k, uint32_t* v) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&k);
  for (unsigned d = 0; d < kFields; ++d) std::memcpy(&v[d], bytes + kFieldInfo[d].offset, 4);
}

inline bool inHulls(const TupleIndex::Entry& e, const uint32_t* v) {
  bool ok = true;
  for (unsigned d = 0; d < kFields; ++d) ok &= v[d] - e.lo[d] <= e.hi[d] - e.lo[d];
  return ok;
}

bool inSets(const LoweredRule& r, const uint32_t* v) {
  for (unsigned d = 0; d < kFields; ++d) {
    if (!r.fields[d]) continue;
    bool any = false;
    for (const Iv& iv : *r.fields[d]) any = any || (v[d] >= iv.lo && v[d] <= iv.hi);
    if (!any) return false;
  }
  return true;
}

// A rule's place: which table (cut indexes) and key.
struct Placed {
  uint32_t table;  // srcCut * 8 + dstCut
  uint64_t key;
  uint32_t entry;  // index into the entries, which are in rule order
};

}  // namespace

std::shared_ptr<const TupleIndex> TupleIndex::build(const Snapshot& s) {
  if (s.family != Family::IPv4 || s.rules == 0) return nullptr;
  std::vector<Entry> entries;
  std::vector<uint8_t> srcLen, dstLen;
  entries.reserve(s.rules);
  for (size_t gi = 0; gi < s.groups.size(); ++gi) {
    const Group& g = *s.groups[gi];
    for (uint32_t local = 0; local < g.size; ++local) {
      const LoweredRule& r = *g.lowered[local];
      if (r.plan.callbackFrom != kNoCallback) return nullptr;
      Entry e{};
      e.rule = s.start[gi] + local;
      e.group = uint16_t(gi);
      e.local = uint16_t(local);
      e.flags = ((g.clean[local / 64] >> (local % 64)) & 1) ? kClean : 0;
      bool never = false;
      for (unsigned d = 0; d < kFields; ++d) {
        const FieldSet& f = r.fields[d];
        e.lo[d] = 0;
        e.hi[d] = uint32_t(kFieldInfo[d].max);
        if (!f) continue;
        if (f->empty()) {
          never = true;
          break;
        }
        uint64_t lo = UINT64_MAX, hi = 0;
        for (const Iv& iv : *f) lo = std::min(lo, iv.lo), hi = std::max(hi, iv.hi);
        e.lo[d] = uint32_t(lo), e.hi[d] = uint32_t(hi);
        if (f->size() > 1) e.flags |= kHoles;
      }
      if (never) continue;  // admits no packet
      entries.push_back(e);
      // The longest prefix every admitted address shares.
      srcLen.push_back(uint8_t(std::countl_zero(e.lo[kSrc] ^ e.hi[kSrc])));
      dstLen.push_back(uint8_t(std::countl_zero(e.lo[kDst] ^ e.hi[kDst])));
    }
  }
  if (entries.empty()) return nullptr;

  // Each candidate cut set: place the rules, and cost = tables + the mean
  // length of the bucket a rule is in (what a probe that finds a bucket scans).
  const size_t n = entries.size();
  std::vector<Placed> placed(n), best;
  double bestCost = 0;
  size_t bestSet = SIZE_MAX;
  for (size_t c = 0; c < std::size(kCutSets); ++c) {
    const unsigned* cuts = kCutSets[c];
    const unsigned nc = kCutSetLen[c];
    for (size_t i = 0; i < n; ++i) {
      const unsigned sc = cutIndex(cuts, nc, srcLen[i]), dc = cutIndex(cuts, nc, dstLen[i]);
      const uint32_t sm = prefixMask(cuts[sc]), dm = prefixMask(cuts[dc]);
      placed[i] = {sc * 8 + dc, uint64_t(entries[i].lo[kSrc] & sm) << 32 | (entries[i].lo[kDst] & dm), uint32_t(i)};
    }
    // Stable on the entry index: a bucket's rules stay in rule order.
    std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
      return a.table != b.table ? a.table < b.table : a.key != b.key ? a.key < b.key : a.entry < b.entry;
    });
    size_t tables = 0, maxBucket = 0;
    double squares = 0;
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && placed[j].table == placed[i].table && placed[j].key == placed[i].key) ++j;
      if (i == 0 || placed[i].table != placed[i - 1].table) ++tables;
      maxBucket = std::max(maxBucket, j - i);
      squares += double(j - i) * double(j - i);
      i = j;
    }
    if (maxBucket > kMaxBucket) continue;
    const double cost = double(tables) + squares / double(n);
    if (bestSet == SIZE_MAX || cost < bestCost) bestCost = cost, bestSet = c, best = placed;
  }
  if (bestSet == SIZE_MAX) return nullptr;

  auto ix = std::make_shared<TupleIndex>();
  ix->nCuts_ = kCutSetLen[bestSet];
  for (unsigned i = 0; i < ix->nCuts_; ++i) ix->cuts_[i] = kCutSets[bestSet][i];
  ix->entries_.reserve(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && best[j].table == best[i].table) ++j;
    size_t keys = 0;
    for (size_t k = i; k < j; ++k) keys += k == i || best[k].key != best[k - 1].key;
    Table t;
    t.srcMask = prefixMask(ix->cuts_[best[i].table / 8]);
    t.dstMask = prefixMask(ix->cuts_[best[i].table % 8]);
    t.minRule = UINT32_MAX, t.maxRule = 0;
    size_t slots = 2;
    while (slots < 2 * keys) slots *= 2;  // load factor at most 1/2
    t.slots.assign(slots, Slot{0, 0, 0});
    t.slotMask = uint32_t(slots - 1);
    t.shift = 64 - unsigned(std::countr_zero(slots));
    for (size_t k = i; k < j;) {
      size_t e = k;
      const uint32_t first = uint32_t(ix->entries_.size());
      while (e < j && best[e].key == best[k].key) {
        const Entry& en = entries[best[e].entry];
        t.minRule = std::min(t.minRule, en.rule), t.maxRule = std::max(t.maxRule, en.rule);
        ix->entries_.push_back(en);
        ++e;
      }
      uint64_t at = hash(best[k].key, t.shift);
      while (t.slots[at].count) at = (at + 1) & t.slotMask;
      t.slots[at] = Slot{best[k].key, first, uint32_t(e - k)};
      k = e;
    }
    ix->tables_.push_back(std::move(t));
    i = j;
  }
  std::sort(ix->tables_.begin(), ix->tables_.end(),
            [](const Table& a, const Table& b) { return a.minRule < b.minRule; });
  return ix;
}

const TupleIndex::Slot* TupleIndex::probe(const Table& t, uint64_t key) const {
  for (uint64_t at = hash(key, t.shift);; at = (at + 1) & t.slotMask) {
    const Slot& sl = t.slots[at];
    if (!sl.count) return nullptr;
    if (sl.key == key) return &sl;
  }
}

// The first rule of the bucket in [from, below) that matches, or -1.
int32_t TupleIndex::scan(const Snapshot& s, const Slot& slot, const JitKey& k, const uint32_t* v, uint32_t from,
                         uint32_t below, void* rt) const {
  for (const Entry *e = &entries_[slot.first], *end = e + slot.count; e < end; ++e) {
    if (e->rule >= below) break;
    if (e->rule < from || !inHulls(*e, v)) continue;
    const Group& g = *s.groups[e->group];
    if ((e->flags & kHoles) && !inSets(*g.lowered[e->local], v)) continue;
    if (!(e->flags & kClean) && groupResidual(s, g, e->local, k, rt) != 1) continue;
    return int32_t(e->rule);
  }
  return -1;
}

int32_t TupleIndex::find(const Snapshot& s, const JitKey& k, uint32_t from, void* rt) const {
  uint32_t v[kFields];
  fieldValues(k, v);
  uint32_t best = UINT32_MAX;
  for (const Table& t : tables_) {
    if (t.minRule >= best) break;  // tables are in the order of their first rule
    if (t.maxRule < from) continue;
    const Slot* sl = probe(t, uint64_t(v[kSrc] & t.srcMask) << 32 | (v[kDst] & t.dstMask));
    if (!sl) continue;
    int32_t r = scan(s, *sl, k, v, from, best, rt);
    if (r >= 0) best = uint32_t(r);
  }
  return best == UINT32_MAX ? -1 : int32_t(best);
}

void TupleIndex::findBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) const {
  constexpr size_t B = 64;
  uint32_t v[B][kFields], best[B];
  uint64_t key[B], at[B];
  const Slot* hit[B];
  uint8_t act[B];
  for (size_t base = 0; base < n; base += B) {
    const size_t m = std::min(B, n - base);
    for (size_t p = 0; p < m; ++p) fieldValues(keys[base + p], v[p]), best[p] = UINT32_MAX;
    for (const Table& t : tables_) {
      // Three passes over the packets still open, so that the slot and
      // bucket misses of different packets overlap.
      size_t na = 0;
      for (size_t p = 0; p < m; ++p)
        if (best[p] > t.minRule) act[na++] = uint8_t(p);
      if (!na) break;
      for (size_t i = 0; i < na; ++i) {
        const size_t p = act[i];
        key[p] = uint64_t(v[p][kSrc] & t.srcMask) << 32 | (v[p][kDst] & t.dstMask);
        at[p] = hash(key[p], t.shift);
        __builtin_prefetch(&t.slots[at[p]]);
      }
      for (size_t i = 0; i < na; ++i) {
        const size_t p = act[i];
        hit[p] = nullptr;
        for (uint64_t a = at[p];; a = (a + 1) & t.slotMask) {
          const Slot& sl = t.slots[a];
          if (!sl.count) break;
          if (sl.key == key[p]) {
            hit[p] = &sl;
            __builtin_prefetch(&entries_[sl.first]);
            break;
          }
        }
      }
      for (size_t i = 0; i < na; ++i) {
        const size_t p = act[i];
        if (!hit[p]) continue;
        int32_t r = scan(s, *hit[p], keys[base + p], v[p], 0, best[p], rt);
        if (r >= 0) best[p] = uint32_t(r);
      }
    }
    for (size_t p = 0; p < m; ++p) out[base + p] = best[p] == UINT32_MAX ? -1 : int32_t(best[p]);
  }
}

size_t TupleIndex::bytes() const {
  size_t b = entries_.size() * sizeof(Entry);
  for (const Table& t : tables_) b += t.slots.size() * sizeof(Slot) + sizeof(Table);
  return b;
}

}  // namespace nfjit::jit
