#include "compiler/jit/TupleIndex.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "compiler/jit/ChainSearch.h"

namespace nfjit::jit {
namespace {

// Candidate cut sets (prefix lengths a rule's own length is cut down to).
// Coarse cuts make fewer tables and longer buckets; the cost model picks.
struct CutSet {
  unsigned n;
  unsigned cuts[8];
};
constexpr CutSet kCutSets[] = {
    {3, {0, 11, 22}}, {3, {0, 12, 24}}, {5, {0, 8, 16, 24, 32}}, {3, {0, 16, 32}}, {6, {0, 6, 12, 18, 24, 30}},
};

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
  return (v[kSrc] - e.srcLo <= e.srcHi - e.srcLo) & (v[kDst] - e.dstLo <= e.dstHi - e.dstLo) &
         (v[kProto] - e.protoLo <= uint32_t(e.protoHi - e.protoLo)) &
         (v[kSport] - e.sportLo <= uint32_t(e.sportHi - e.sportLo)) &
         (v[kDport] - e.dportLo <= uint32_t(e.dportHi - e.dportLo));
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

std::shared_ptr<const TupleIndex> TupleIndex::build(const Snapshot& s, int cutSet) {
  if (s.family != Family::IPv4 || s.rules == 0) return nullptr;
  std::vector<Entry> entries;
  std::vector<uint8_t> srcLen, dstLen;
  entries.reserve(s.rules);
  for (size_t gi = 0; gi < s.groups.size(); ++gi) {
    const Group& g = *s.groups[gi];
    for (uint32_t local = 0; local < g.size; ++local) {
      const LoweredRule& r = *g.lowered[local];
      if (!admits(r)) return nullptr;
      Entry e{};
      e.rule = s.start[gi] + local;
      e.flags = ((g.clean[local / 64] >> (local % 64)) & 1) ? kClean : 0;
      uint32_t lo[kFields], hi[kFields];
      bool never = false;
      for (unsigned d = 0; d < kFields; ++d) {
        const FieldSet& f = r.fields[d];
        lo[d] = 0;
        hi[d] = uint32_t(kFieldInfo[d].max);
        if (!f) continue;
        if (f->empty()) {
          never = true;
          break;
        }
        uint64_t l = UINT64_MAX, h = 0;
        for (const Iv& iv : *f) l = std::min(l, iv.lo), h = std::max(h, iv.hi);
        lo[d] = uint32_t(l), hi[d] = uint32_t(h);
        if (f->size() > 1) e.flags |= kHoles;
      }
      e.srcLo = lo[kSrc], e.srcHi = hi[kSrc], e.dstLo = lo[kDst], e.dstHi = hi[kDst];
      e.protoLo = uint8_t(lo[kProto]), e.protoHi = uint8_t(hi[kProto]);
      e.sportLo = uint16_t(lo[kSport]), e.sportHi = uint16_t(hi[kSport]);
      e.dportLo = uint16_t(lo[kDport]), e.dportHi = uint16_t(hi[kDport]);
      if (never) continue;  // admits no packet
      entries.push_back(e);
      // The longest prefix every admitted address shares.
      srcLen.push_back(uint8_t(std::countl_zero(e.srcLo ^ e.srcHi)));
      dstLen.push_back(uint8_t(std::countl_zero(e.dstLo ^ e.dstHi)));
    }
  }
  if (entries.empty() || entries.size() >= (size_t(1) << kCountShift)) return nullptr;

  // Each candidate cut set: place the rules, and cost = tables + the mean
  // length of the bucket a rule is in (what a probe that finds a bucket
  // scans). The set given, if any, is tried alone first.
  const size_t n = entries.size();
  std::vector<Placed> placed(n), best;
  double bestCost = 0;
  size_t bestSet = SIZE_MAX;
  auto evaluate = [&](size_t c) {
    const unsigned* cuts = kCutSets[c].cuts;
    const unsigned nc = kCutSets[c].n;
    for (size_t i = 0; i < n; ++i) {
      const unsigned sc = cutIndex(cuts, nc, srcLen[i]), dc = cutIndex(cuts, nc, dstLen[i]);
      const uint32_t sm = prefixMask(cuts[sc]), dm = prefixMask(cuts[dc]);
      placed[i] = {sc * 8 + dc, keyOf(entries[i].srcLo & sm, entries[i].dstLo & dm), uint32_t(i)};
    }
    // Ordered on the entry index last: a bucket's rules stay in rule order.
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
    if (maxBucket > kMaxBucket) return;
    const double cost = double(tables) + squares / double(n);
    if (bestSet == SIZE_MAX || cost < bestCost) bestCost = cost, bestSet = c, best.swap(placed), placed.resize(n);
  };
  if (cutSet >= 0 && size_t(cutSet) < std::size(kCutSets)) evaluate(size_t(cutSet));
  if (bestSet == SIZE_MAX)
    for (size_t c = 0; c < std::size(kCutSets); ++c) evaluate(c);
  if (bestSet == SIZE_MAX) return nullptr;

  auto ix = std::make_shared<TupleIndex>();
  ix->cutSet_ = int(bestSet);
  const unsigned* cuts = kCutSets[bestSet].cuts;
  ix->entries_.reserve(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && best[j].table == best[i].table) ++j;
    size_t keys = 0;
    for (size_t k = i; k < j; ++k) keys += k == i || best[k].key != best[k - 1].key;
    Table t;
    t.srcMask = prefixMask(cuts[best[i].table / 8]);
    t.dstMask = prefixMask(cuts[best[i].table % 8]);
    t.minRule = UINT32_MAX, t.maxRule = 0;
    size_t slots = 2;
    while (slots < 2 * keys) slots *= 2;  // load factor at most 1/2
    t.slots.assign(slots, Slot{0, 0});
    // A multiplier under which the table's keys have distinct fingerprints.
    std::vector<uint32_t> fps;
    t.fingerprintMul = 0;
    for (uint64_t mul = 0xc2b2ae3d27d4eb4full, tries = 0; tries < 16 && !t.fingerprintMul;
         ++tries, mul = mul * 0x9e3779b97f4a7c15ull + 2) {
      fps.clear();
      for (size_t k = i; k < j; ++k)
        if (k == i || best[k].key != best[k - 1].key) fps.push_back(fingerprint(best[k].key, mul | 1));
      std::sort(fps.begin(), fps.end());
      if (std::adjacent_find(fps.begin(), fps.end()) == fps.end()) t.fingerprintMul = mul | 1;
    }
    if (!t.fingerprintMul) return nullptr;
    unsigned filterBits = 6;
    while (filterBits < 32 && (size_t(1) << filterBits) < 16 * keys) ++filterBits;
    t.filterShift = 32 - filterBits;
    t.filter.assign((size_t(1) << filterBits) / 64, 0);
    for (uint32_t fp : fps) t.filter[(fp >> t.filterShift) / 64] |= uint64_t(1) << ((fp >> t.filterShift) % 64);
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
      while (t.slots[at].span) at = (at + 1) & t.slotMask;
      t.slots[at] = Slot{fingerprint(best[k].key, t.fingerprintMul), first | uint32_t(e - k) << kCountShift};
      k = e;
    }
    ix->tables_.push_back(std::move(t));
    i = j;
  }
  std::sort(ix->tables_.begin(), ix->tables_.end(),
            [](const Table& a, const Table& b) { return a.minRule < b.minRule; });
  return ix;
}

uint32_t TupleIndex::probe(const Table& t, uint64_t at, uint32_t fp) {
  for (;; at = (at + 1) & t.slotMask) {
    const Slot& sl = t.slots[at];
    if (!sl.span || sl.fingerprint == fp) return sl.span;
  }
}

// The first rule of the bucket in [from, below) that matches, or -1.
int32_t TupleIndex::scan(const Snapshot& s, uint32_t span, const JitKey& k, const uint32_t* v, uint32_t from,
                         uint32_t below, void* rt) const {
  const uint32_t first = firstEntry(span);
  for (const Entry *e = &entries_[first], *end = e + (span >> kCountShift); e < end; ++e) {
    if (e->rule >= below) break;
    if (e->rule < from || !inHulls(*e, v)) continue;
    if (e->flags != kClean) {
      const size_t gi = s.groupOf(e->rule);
      const Group& g = *s.groups[gi];
      const uint32_t local = e->rule - s.start[gi];
      if ((e->flags & kHoles) && !inSets(*g.lowered[local], v)) continue;
      if (!(e->flags & kClean) && groupResidual(s, g, local, k, rt) != 1) continue;
    }
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
    const uint64_t key = keyOf(v[kSrc] & t.srcMask, v[kDst] & t.dstMask);
    const uint32_t span = probe(t, hash(key, t.shift), fingerprint(key, t.fingerprintMul));
    if (!span) continue;
    int32_t r = scan(s, span, k, v, from, best, rt);
    if (r >= 0) best = uint32_t(r);
  }
  return best == UINT32_MAX ? -1 : int32_t(best);
}

void TupleIndex::findBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) const {
  constexpr size_t B = 64;
  uint32_t v[B][kFields], best[B];
  uint64_t at[B];
  uint32_t hit[B], fp[B];
  // Lists of packets, each built without branches (whether a packet goes on
  // is close to random, and mispredicting it cost more than the work): open
  // for a table, its key maybe in the table (the bitmap says so), a bucket found.
  uint8_t open[B], maybe[B], found[B];
  size_t nMaybe = 0;
  // A packet's key and slot in table t; the bitmap's answer decides, without
  // a branch, whether the packet goes on to the probe and which slot line is
  // requested (the table's first when none is needed).
  auto aim = [&](const Table& t, size_t p) {
    const uint64_t key = keyOf(v[p][kSrc] & t.srcMask, v[p][kDst] & t.dstMask);
    fp[p] = fingerprint(key, t.fingerprintMul);
    const uint32_t bit = fp[p] >> t.filterShift;
    const uint64_t in = (t.filter[bit / 64] >> (bit % 64)) & 1;
    at[p] = hash(key, t.shift) & (uint64_t(0) - in);
    __builtin_prefetch(&t.slots[at[p]]);
    maybe[nMaybe] = uint8_t(p);
    nMaybe += in;
  };
  if (tables_.empty()) return std::fill(out, out + n, -1);
  for (size_t base = 0; base < n; base += B) {
    const size_t m = std::min(B, n - base);
    // The next batch's keys, whose misses then overlap this batch's work.
    for (size_t p = base + B; p < std::min(n, base + 2 * B); ++p) {
      __builtin_prefetch(&keys[p]);
      __builtin_prefetch(reinterpret_cast<const uint8_t*>(&keys[p]) + kOffDport);
    }
    nMaybe = 0;
    for (size_t p = 0; p < m; ++p) fieldValues(keys[base + p], v[p]), best[p] = UINT32_MAX, aim(tables_[0], p);
    // Per table, passes over lists of packets, so that the misses of
    // different packets overlap: probe the slots (requested before), scan
    // the buckets (requested by the probe), and aim at the next table.
    for (size_t ti = 0; ti < tables_.size(); ++ti) {
      const Table& t = tables_[ti];
      size_t nFound = 0;
      for (size_t i = 0; i < nMaybe; ++i) {
        const size_t p = maybe[i];
        hit[p] = probe(t, at[p], fp[p]);
        __builtin_prefetch(&entries_[firstEntry(hit[p])]);
        found[nFound] = uint8_t(p);
        nFound += hit[p] != 0;
      }
      // A packet whose best rule came before this table's first since it
      // was aimed finds nothing better in the bucket (the scan stops at best).
      for (size_t i = 0; i < nFound; ++i) {
        const size_t p = found[i];
        const int32_t r = scan(s, hit[p], keys[base + p], v[p], 0, best[p], rt);
        if (r >= 0) best[p] = uint32_t(r);
      }
      if (ti + 1 == tables_.size()) break;
      const Table& next = tables_[ti + 1];
      size_t nOpen = 0;
      for (size_t p = 0; p < m; ++p) open[nOpen] = uint8_t(p), nOpen += best[p] > next.minRule;
      if (!nOpen) break;
      nMaybe = 0;
      for (size_t i = 0; i < nOpen; ++i) aim(next, open[i]);
    }
    for (size_t p = 0; p < m; ++p) out[base + p] = best[p] == UINT32_MAX ? -1 : int32_t(best[p]);
  }
}

size_t TupleIndex::bytes() const {
  size_t b = entries_.size() * sizeof(Entry);
  for (const Table& t : tables_) b += t.slots.size() * sizeof(Slot) + t.filter.size() * 8 + sizeof(Table);
  return b;
}

}  // namespace nfjit::jit
