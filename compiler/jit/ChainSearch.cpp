#include "compiler/jit/ChainSearch.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <span>
#include <stdexcept>
#include <unordered_map>

#include <sys/resource.h>
#include <unistd.h>

#include "compiler/jit/SearchSimd.h"
#include "compiler/jit/TupleIndex.h"

namespace nfjit::jit {
namespace {

// Row indexes are u16: a group holds at most 2 * 4096 rules (it splits beyond),
// each adds at most 4 bounds (an inverted range is two intervals), so at most
// 4 * 8192 + 1 rows.
constexpr uint32_t kMaxGroupRules = 4096;

void setBit(std::vector<uint64_t>& row, uint32_t r) { row[r / 64] |= uint64_t(1) << (r % 64); }
void clearBit(std::vector<uint64_t>& row, uint32_t r) { row[r / 64] &= ~(uint64_t(1) << (r % 64)); }

// Aggregated bit vector: bit w = word w of the row is non-zero, so that the
// search skips runs of empty words without loading them.
std::vector<uint64_t> summaries(const std::vector<uint64_t>& rows, uint32_t words, uint32_t sumWords) {
  size_t n = words ? rows.size() / words : 0;
  std::vector<uint64_t> out(n * sumWords, 0);
  for (size_t r = 0; r < n; ++r)
    for (uint32_t w = 0; w < words; ++w)
      if (rows[r * words + w]) out[r * sumWords + w / 64] |= uint64_t(1) << (w % 64);
  return out;
}

// Zobrist hashing of rows: the XOR of a random word per set bit, updated
// in O(1) as the sweep sets and clears bits.
uint64_t bitKey(uint32_t r) {
  uint64_t z = (uint64_t(r) + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// One field of one group: a sweep over the group's interval boundaries,
// each distinct row stored once.
void buildGroupDim(Group& g, unsigned d, Field field, bool pack) {
  const uint64_t max = kFieldInfo[field].max;
  std::vector<uint64_t> bnds;
  for (const auto& r : g.lowered)
    if (const auto& s = r->fields[field])
      for (const Iv& iv : *s) {
        if (iv.lo > 0) bnds.push_back(iv.lo);
        if (iv.hi < max) bnds.push_back(iv.hi + 1);
      }
  std::sort(bnds.begin(), bnds.end());
  bnds.erase(std::unique(bnds.begin(), bnds.end()), bnds.end());
  const size_t n = bnds.size() + 1;
  auto intervalOf = [&](uint64_t v) { return uint32_t(std::upper_bound(bnds.begin(), bnds.end(), v) - bnds.begin()); };
  // Events (interval, rule << 1 | set): a rule enters its interval's row at lo and leaves after hi.
  std::vector<std::pair<uint32_t, uint32_t>> events;
  std::vector<uint64_t> cur(g.words, 0);
  uint64_t h = 0;
  for (uint32_t i = 0; i < g.size; ++i) {
    const auto& s = g.lowered[i]->fields[field];
    if (!s) {
      setBit(cur, i);
      h ^= bitKey(i);
      continue;
    }
    for (const Iv& iv : *s) {
      events.push_back({intervalOf(iv.lo), i << 1 | 1});
      events.push_back({intervalOf(iv.hi) + 1, i << 1});
    }
  }
  std::sort(events.begin(), events.end());  // clears before sets within an interval
  std::unordered_map<uint64_t, uint32_t> seen;
  seen.reserve(n);
  std::vector<uint32_t>& rowOf = g.rowOf[d];
  rowOf.resize(n);
  uint32_t rowCount = 0;
  size_t e = 0;
  for (size_t k = 0; k < n; ++k) {
    for (; e < events.size() && events[e].first == k; ++e) {
      uint32_t r = events[e].second >> 1;
      (events[e].second & 1) ? setBit(cur, r) : clearBit(cur, r);
      h ^= bitKey(r);
    }
    auto it = seen.find(h);
    if (it != seen.end() && std::equal(cur.begin(), cur.end(), g.rows[d].begin() + size_t(it->second) * g.words)) {
      rowOf[k] = it->second;
      continue;
    }
    // New (or a hash collision: stored again, which only costs memory).
    if (it == seen.end()) seen.emplace(h, rowCount);
    g.rows[d].insert(g.rows[d].end(), cur.begin(), cur.end());
    bool any = false;
    for (uint64_t w : cur) any = any || w;
    g.nonEmpty[d].push_back(any);
    rowOf[k] = rowCount++;
  }
  // Only rules with many disjoint intervals in one field can get here.
  if (rowCount > 65535) throw std::runtime_error("JIT: a rule group has more than 65,535 distinct rows");
  g.bounds[d] = std::move(bnds);
  g.sums[d] = summaries(g.rows[d], g.words, g.sumWords);
  if (!pack) return;
  // Most words of most rows are zero (a row lists the group's rules that
  // allow one interval): keep only the non-zero ones. The search reads a
  // word only where every dimension's summary bit is set, so it never
  // needs a word that is not stored.
  g.packed = true;
  std::vector<uint64_t> packed;
  std::vector<uint32_t>& start = g.rowStart[d];
  start.clear();
  for (uint32_t r = 0; r < rowCount; ++r) {
    start.push_back(uint32_t(packed.size()));
    for (uint32_t w = 0; w < g.words; ++w)
      if (uint64_t v = g.rows[d][size_t(r) * g.words + w]) packed.push_back(v);
  }
  packed.shrink_to_fit();
  g.rows[d] = std::move(packed);
}

void buildCross(Group& g, size_t budget) {
  RowSet rows[kMaxDims];
  for (unsigned d = 0; d < g.dims; ++d) rows[d] = {g.rows[d].data(), g.sums[d].data(), uint32_t(g.nonEmpty[d].size())};
  g.cross.build({rows, g.dims}, g.size, g.words, g.sumWords, budget);
}

// Whether a group of this layout should carry a cross product.
bool wantsCross(const Group& g, size_t budget) { return !g.packed && budget && g.dims >= 2; }

std::shared_ptr<Group> buildGroup(bool pack, size_t crossBudget, const std::vector<Field>& fields,
                                  std::vector<std::shared_ptr<const LoweredRule>> lowered,
                                  std::vector<const Rule*> rules, std::vector<std::shared_ptr<const Rule>> owned) {
  auto g = std::make_shared<Group>();
  g->size = uint32_t(lowered.size());
  g->words = std::max<uint32_t>(1, (g->size + 63) / 64);
  g->sumWords = (g->words + 63) / 64;
  g->lowered = std::move(lowered);
  g->rules = std::move(rules);
  g->owned = std::move(owned);
  g->owned.resize(g->size);
  g->clean.assign(g->words, 0);
  g->all.assign(g->words, 0);
  for (uint32_t r = 0; r < g->size; ++r) {
    setBit(g->all, r);
    if (g->lowered[r]->plan.clean()) setBit(g->clean, r);
  }
  g->allSum = summaries(g->all, g->words, g->sumWords);
  g->dims = unsigned(fields.size());
  g->packed = pack;
  for (unsigned d = 0; d < fields.size(); ++d) buildGroupDim(*g, d, fields[d], pack);
  if (wantsCross(*g, crossBudget)) buildCross(*g, crossBudget);
  return g;
}

const FieldSet& field(const LoweredRule& r, Field f) { return r.fields[f]; }
const FieldSet& field(const std::shared_ptr<const LoweredRule>& r, Field f) { return r->fields[f]; }

template <class Rules>
std::vector<Field> usedFields(Family f, const Rules& lowered) {
  std::vector<Field> out;
  const std::vector<Field> all = f == Family::IPv4 ? std::vector<Field>{kSrc, kDst, kProto, kSport, kDport}
                                                   : std::vector<Field>{kProto, kSport, kDport};
  for (Field fl : all)
    for (const auto& r : lowered)
      if (field(r, fl)) {
        out.push_back(fl);
        break;
      }
  return out;
}

// Generated code carries no UBSan type signature before its entry point, and
// clang's -fsanitize=function check reads the bytes in front of the callee
// (the page before the JIT's code): calls into generated code opt out.
#if defined(__clang__)
#define NFJIT_CALLS_GENERATED_CODE __attribute__((no_sanitize("function")))
#else
#define NFJIT_CALLS_GENERATED_CODE
#endif

NFJIT_CALLS_GENERATED_CODE
int32_t residual(const Snapshot& s, const Group& g, uint32_t local, const JitKey& k, void* rt) {
  if (g.native) return g.native(&k, local, rt);
  const RulePlan& p = g.lowered[local]->plan;
  if (!keyTestsHold(p.tests, k)) return 0;
  if (p.callbackFrom == kNoCallback) return 1;
  return s.callback(rt, g.rules[local], p.callbackFrom);
}

// Where word w of a packed row (its non-zero words only) whose summary is
// `sum` is stored; bit w of the summary must be set.
inline const uint64_t* rowWordPtr(const uint64_t* packed, const uint64_t* sum, uint32_t w) {
  uint32_t si = w / 64, idx = uint32_t(std::popcount(sum[si] & ((uint64_t(1) << (w % 64)) - 1)));
  for (uint32_t k = 0; k < si; ++k) idx += uint32_t(std::popcount(sum[k]));
  return packed + idx;
}
inline uint64_t rowWord(const uint64_t* packed, const uint64_t* sum, uint32_t w) {
  return *rowWordPtr(packed, sum, w);
}

// The search specialised on the number of dimensions (ND == 0: a chain
// whose rules constrain no field, every group is searched with its `all` row).
template <size_t ND>
struct Search {
  static constexpr size_t kRows = ND ? ND : 1;

  static uint32_t interval(const ChainDim& cd, const JitKey& k) {
    uint32_t v;
    std::memcpy(&v, reinterpret_cast<const uint8_t*>(&k) + cd.keyOffset, 4);
    if (cd.direct) return v;
    if (!cd.trie.empty()) return cd.trie.find(v);
    const uint32_t* b = cd.bounds.data();
    uint32_t pos = cd.searchStart(v);
    for (uint32_t step = (uint32_t(1) << cd.steps) >> 1; step; step >>= 1)
      pos = b[pos + step - 1] <= v ? pos + step : pos;
    return std::min(pos, cd.last);
  }

  static void rowsOf(const Snapshot& s, size_t gi, const uint32_t* iv, const uint64_t** row, const uint64_t** sum) {
    const Group& g = *s.groups[gi];
    const size_t ng = s.groups.size();
    if constexpr (ND == 0) {
      row[0] = g.all.data(), sum[0] = g.allSum.data();
    } else {
      for (size_t d = 0; d < ND; ++d) {
        uint32_t r = s.dims[d].local[size_t(iv[d]) * ng + gi];
        row[d] = g.rows[d].data() + (g.packed ? g.rowStart[d][r] : size_t(r) * g.words);
        sum[d] = g.sums[d].data() + size_t(r) * g.sumWords;
      }
    }
  }

  // The first candidate of group gi at or after local rule `from`.
  static int32_t group(const Snapshot& s, size_t gi, const uint32_t* iv, uint32_t from, const JitKey& k, void* rt) {
    const Group& g = *s.groups[gi];
    const uint64_t* row[kRows];
    const uint64_t* sum[kRows];
    rowsOf(s, gi, iv, row, sum);
    const uint32_t w0 = from / 64, s0 = w0 / 64;
    for (uint32_t si = s0; si < g.sumWords; ++si) {
      uint64_t sb = si == s0 ? ~uint64_t(0) << (w0 % 64) : ~uint64_t(0);
      for (size_t d = 0; d < kRows; ++d) sb &= sum[d][si];
      while (sb) {
        uint32_t w = si * 64 + uint32_t(std::countr_zero(sb));
        sb &= sb - 1;
        uint64_t bits = w == w0 ? ~uint64_t(0) << (from % 64) : ~uint64_t(0);
        for (size_t d = 0; d < kRows; ++d) bits &= g.packed ? rowWord(row[d], sum[d], w) : row[d][w];
        while (bits) {
          uint32_t local = w * 64 + uint32_t(std::countr_zero(bits));
          if ((g.clean[w] >> (local % 64)) & 1) return int32_t(local);
          int32_t v = residual(s, g, local, k, rt);
          if (v == 1) return int32_t(local);
          if (v == 2) return -2;
          bits &= bits - 1;
        }
      }
    }
    return -1;
  }

  // Groups from g0 on, in order; the first with a match wins.
  static int32_t groups(const Snapshot& s, const uint32_t* iv, size_t g0, uint32_t from, const JitKey& k, void* rt) {
    const size_t ng = s.groups.size();
    for (size_t w = g0 / 64; w < s.maskWords; ++w) {
      uint64_t m = w == g0 / 64 ? ~uint64_t(0) << (g0 % 64) : ~uint64_t(0);
      if constexpr (ND == 0) {
        if ((w + 1) * 64 > ng) m &= ~uint64_t(0) >> ((w + 1) * 64 - ng);
      }
      for (size_t d = 0; d < ND; ++d) m &= s.dims[d].gmask[size_t(iv[d]) * s.maskWords + w];
      while (m) {
        size_t g = w * 64 + size_t(std::countr_zero(m));
        m &= m - 1;
        uint32_t lfrom = from > s.start[g] ? from - s.start[g] : 0;
        const Group& grp = *s.groups[g];
        if (ND >= 2 && !grp.cross.empty()) {
          // The first rule whose fields allow the packet: done if it needs no
          // residual check, else the rows are searched from it on.
          uint32_t rowOf[kRows] = {};
          for (size_t d = 0; d < ND; ++d) rowOf[d] = s.dims[d].local[size_t(iv[d]) * ng + g];
          uint32_t first = grp.cross.lookup(rowOf);
          if (first == CrossProduct::kNoRule) continue;
          if (first >= lfrom && ((grp.clean[first / 64] >> (first % 64)) & 1)) return int32_t(s.start[g] + first);
          lfrom = std::max(lfrom, first);
        }
        int32_t r = group(s, g, iv, lfrom, k, rt);
        if (r >= 0) return int32_t(s.start[g]) + r;
        if (r == -2) return -2;
      }
    }
    return -1;
  }

  static int32_t find(const Snapshot& s, const JitKey& k, uint32_t from, void* rt) {
    if (from >= s.rules) return -1;
    uint32_t iv[kRows];
    for (size_t d = 0; d < ND; ++d) iv[d] = interval(s.dims[d], k);
    const size_t g0 = s.groupOf(from);
    return groups(s, iv, g0, from, k, rt);
  }

  static constexpr size_t kBatch = 16;

  // The intervals of m <= kBatch packets, step-major over the batch: the
  // probes of different packets are independent chains of loads.
  static void intervals(const Snapshot& s, const JitKey* keys, size_t m, uint32_t (*iv)[kRows]) {
    constexpr size_t B = kBatch;
    for (size_t d = 0; d < ND; ++d) {
      const ChainDim& cd = s.dims[d];
      uint32_t v[B], pos[B];
      for (size_t p = 0; p < m; ++p) {
        std::memcpy(&v[p], reinterpret_cast<const uint8_t*>(&keys[p]) + cd.keyOffset, 4);
        pos[p] = cd.direct ? v[p] : 0;
      }
      if (!cd.trie.empty()) {
        // Level-major as well: one dependent load per level and packet.
        const IntervalTrie& t = cd.trie;
        uint32_t node[B] = {}, found[B] = {};
        for (unsigned l = 0; l < t.levels(); ++l)
          for (size_t p = 0; p < m; ++p) t.step(l, v[p], node[p], found[p]);
        for (size_t p = 0; p < m; ++p) pos[p] = t.last(v[p], node[p], found[p]);
      } else if (!cd.direct) {
        const uint32_t* b = cd.bounds.data();
        for (size_t p = 0; p < m; ++p) pos[p] = cd.searchStart(v[p]);
        for (uint32_t step = (uint32_t(1) << cd.steps) >> 1; step; step >>= 1)
          for (size_t p = 0; p < m; ++p) pos[p] = b[pos[p] + step - 1] <= v[p] ? pos[p] + step : pos[p];
        for (size_t p = 0; p < m; ++p) pos[p] = std::min(pos[p], cd.last);
      }
      for (size_t p = 0; p < m; ++p) iv[p][d] = pos[p];
    }
  }

  static void prefetchKeys(const JitKey* keys, size_t from, size_t to) {
    for (size_t p = from; p < to; ++p) {
      __builtin_prefetch(&keys[p]);
      __builtin_prefetch(reinterpret_cast<const uint8_t*>(&keys[p]) + kOffDport);
    }
  }

  // The batch search of a snapshot with cross products: rounds over each
  // packet's candidate groups in rule order, each round one table load per
  // step for all packets (step-major, so that the misses of different
  // packets overlap). A group's answer is exact: no rule (the next group),
  // a rule without residual checks (done), or one with them (left to
  // groups(), as are packets still open after kRounds groups and packets
  // that reach a group without a cross product).
  static void crossBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) {
    constexpr size_t B = kBatch;
    constexpr unsigned kRounds = 4;
    const size_t ng = s.groups.size();
    const uint64_t valid = ng >= 64 ? ~uint64_t(0) : (uint64_t(1) << ng) - 1;
    uint32_t iv[B][kRows], rowOf[B][kRows], cls[B];
    uint64_t mask[B];
    uint8_t open[B], fallback[B];
    const Group* grp[B];
    for (size_t base = 0; base < n; base += B) {
      const size_t m = std::min(B, n - base);
      prefetchKeys(keys, base + B, std::min(n, base + 2 * B));
      intervals(s, keys + base, m, iv);
      size_t nOpen = 0;
      for (size_t p = 0; p < m; ++p) {
        // With one group its cross product answers alone: the masks would
        // only cost loads.
        mask[p] = valid;
        if (ng > 1)
          for (size_t d = 0; d < ND; ++d) mask[p] &= s.dims[d].gmask[size_t(iv[p][d]) * s.maskWords];
        fallback[p] = 0;
        out[base + p] = -1;
        if (mask[p]) open[nOpen++] = uint8_t(p);
        else if (s.maskWords > 1) fallback[p] = 1;  // groups past the first 64
      }
      for (unsigned round = 0; round < kRounds && nOpen; ++round) {
        size_t crossing = 0;
        for (size_t i = 0; i < nOpen; ++i) {
          const size_t p = open[i], g = size_t(std::countr_zero(mask[p]));
          grp[p] = s.groups[g].get();
          if (grp[p]->cross.empty()) {
            fallback[p] = 1;
            continue;
          }
          open[crossing++] = uint8_t(p);
          for (size_t d = 0; d < ND; ++d) rowOf[p][d] = s.dims[d].local[size_t(iv[p][d]) * ng + g];
          cls[p] = rowOf[p][grp[p]->cross.order[0]];
        }
        nOpen = crossing;
        for (unsigned k = 0; k + 1 < ND; ++k)
          for (size_t i = 0; i < nOpen; ++i) {
            const size_t p = open[i];
            const CrossProduct& c = grp[p]->cross;
            cls[p] = c.table[k][size_t(cls[p]) * c.width[k] + rowOf[p][c.order[k + 1]]];
          }
        size_t still = 0;
        for (size_t i = 0; i < nOpen; ++i) {
          const size_t p = open[i];
          const uint32_t first = cls[p];
          const size_t g = size_t(std::countr_zero(mask[p]));
          if (first == CrossProduct::kNoRule) {
            mask[p] &= mask[p] - 1;
            if (mask[p]) open[still++] = uint8_t(p);
            else if (s.maskWords > 1) fallback[p] = 1;
          } else if ((grp[p]->clean[first / 64] >> (first % 64)) & 1) {
            out[base + p] = int32_t(s.start[g] + first);
          } else {
            fallback[p] = 1;
          }
        }
        nOpen = still;
      }
      for (size_t i = 0; i < nOpen; ++i) fallback[open[i]] = 1;
      for (size_t p = 0; p < m; ++p)
        if (fallback[p]) {
          // From the group this packet stopped at (past the first 64 when its mask ran out).
          const size_t g0 = mask[p] ? size_t(std::countr_zero(mask[p])) : 64;
          out[base + p] = groups(s, iv[p], g0, 0, keys[base + p], rt);
        }
    }
  }

  // crossBatch in AVX-512 (SearchSimd.h), kBlockPackets packets per block;
  // the lanes a block leaves open go on in groups().
  static void vectorCrossBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) {
    constexpr size_t B = simd::kBlockPackets;
    constexpr unsigned kRounds = 4;
    uint32_t iv[B][kRows], resume[B];
    for (size_t base = 0; base < n; base += B) {
      const size_t m = std::min(B, n - base);
      prefetchKeys(keys, base + B, std::min(n, base + 2 * B));
      for (uint64_t open = simd::crossBlock(s, keys + base, m, kRounds, out + base, &iv[0][0], kRows, resume); open;
           open &= open - 1) {
        const size_t p = size_t(std::countr_zero(open));
        out[base + p] = groups(s, iv[p], resume[p], 0, keys[base + p], rt);
      }
    }
  }

  // packedBlock (SearchSimd.h) over blocks; the lanes it leaves open go on in groups().
  static void vectorPackedBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) {
    constexpr size_t B = simd::kBlockPackets;
    uint32_t iv[B][kRows], resume[B];
    for (size_t base = 0; base < n; base += B) {
      const size_t m = std::min(B, n - base);
      prefetchKeys(keys, base + B, std::min(n, base + 2 * B));
      for (uint64_t open = simd::packedBlock(s, keys + base, m, out + base, &iv[0][0], kRows, resume); open;
           open &= open - 1) {
        const size_t p = size_t(std::countr_zero(open));
        out[base + p] = groups(s, iv[p], resume[p], 0, keys[base + p], rt);
      }
    }
  }

  // A batch in stages, so that the cache misses of different packets
  // overlap: all interval searches (independent chains of loads), then
  // rounds over the candidate groups of the first mask word — prefetch the
  // group's summaries, then its first candidate word, then take its lowest
  // bit when that rule needs no residual check. What a round cannot settle
  // (residual checks, false-positive summary words, groups past the first
  // 64, more than kRounds groups) is left to groups().
  static void batch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) {
    constexpr size_t B = kBatch;
    constexpr unsigned kRounds = 4;
    enum State : uint8_t { kOpen, kDone, kFallback };
    uint32_t iv[B][kRows];
    const uint64_t* row[B][kRows];
    const uint64_t* sum[B][kRows];
    uint64_t mask[B];
    size_t group[B];
    uint32_t word[B];
    State state[B];
    if (s.rules == 0) return std::fill(out, out + n, -1);
    if constexpr (ND >= 2) {
      if (s.simdCross) return vectorCrossBatch(s, keys, n, out, rt);
      if (s.simdPacked) return vectorPackedBatch(s, keys, n, out, rt);
      if (s.crossGroups) return crossBatch(s, keys, n, out, rt);
    }
    const size_t ng = s.groups.size();
    const uint64_t valid = ng >= 64 ? ~uint64_t(0) : (uint64_t(1) << ng) - 1;
    for (size_t base = 0; base < n; base += B) {
      const size_t m = std::min(B, n - base);
      // The next batch's keys, so that their misses overlap this batch's work.
      prefetchKeys(keys, base + B, std::min(n, base + 2 * B));
      intervals(s, keys + base, m, iv);
      // Every packet's per-interval tables before any is read: at 100k rules
      // they miss the caches (the group rows of 25 groups share a line).
      for (size_t p = 0; p < m; ++p)
        for (size_t d = 0; d < ND; ++d) {
          __builtin_prefetch(&s.dims[d].gmask[size_t(iv[p][d]) * s.maskWords]);
          __builtin_prefetch(&s.dims[d].local[size_t(iv[p][d]) * ng]);
        }
      for (size_t p = 0; p < m; ++p) {
        mask[p] = valid;
        for (size_t d = 0; d < ND; ++d) mask[p] &= s.dims[d].gmask[size_t(iv[p][d]) * s.maskWords];
        if (mask[p]) {
          group[p] = size_t(std::countr_zero(mask[p]));
          state[p] = kOpen;
        } else {
          group[p] = 64;  // none in the first 64 groups
          state[p] = s.maskWords == 1 ? kDone : kFallback;
          out[base + p] = -1;
        }
      }
      for (unsigned round = 0; round < kRounds; ++round) {
        bool open = false;
        for (size_t p = 0; p < m; ++p) {
          if (state[p] != kOpen) continue;
          open = true;
          rowsOf(s, group[p], iv[p], row[p], sum[p]);
          for (size_t d = 0; d < kRows; ++d) __builtin_prefetch(sum[p][d]);
        }
        if (!open) break;
        for (size_t p = 0; p < m; ++p) {
          if (state[p] != kOpen) continue;
          uint64_t sb = ~uint64_t(0);
          for (size_t d = 0; d < kRows; ++d) sb &= sum[p][d][0];
          word[p] = sb ? uint32_t(std::countr_zero(sb)) : UINT32_MAX;
          if (!sb) continue;
          const bool packed = s.groups[group[p]]->packed;
          for (size_t d = 0; d < kRows; ++d)
            __builtin_prefetch(packed ? rowWordPtr(row[p][d], sum[p][d], word[p]) : row[p][d] + word[p]);
          __builtin_prefetch(&s.groups[group[p]]->clean[word[p]]);
        }
        for (size_t p = 0; p < m; ++p) {
          if (state[p] != kOpen) continue;
          const Group& g = *s.groups[group[p]];
          if (word[p] == UINT32_MAX) {
            if (g.sumWords > 1) {
              state[p] = kFallback;  // candidates may be in later summary words
              continue;
            }
            mask[p] &= mask[p] - 1;  // the group has no candidate: the next one
            if (mask[p]) {
              group[p] = size_t(std::countr_zero(mask[p]));
            } else {
              group[p] = 64;
              state[p] = s.maskWords == 1 ? kDone : kFallback;
              out[base + p] = -1;
            }
            continue;
          }
          const uint32_t w = word[p];
          uint64_t bits = ~uint64_t(0);
          for (size_t d = 0; d < kRows; ++d) bits &= g.packed ? rowWord(row[p][d], sum[p][d], w) : row[p][d][w];
          uint32_t local = w * 64 + uint32_t(std::countr_zero(bits | (uint64_t(1) << 63)));
          if (bits && ((g.clean[w] >> (local % 64)) & 1)) {
            out[base + p] = int32_t(s.start[group[p]] + local);
            state[p] = kDone;
          } else {
            state[p] = kFallback;
          }
        }
      }
      for (size_t p = 0; p < m; ++p)
        if (state[p] != kDone) out[base + p] = groups(s, iv[p], group[p], 0, keys[base + p], rt);
    }
  }
};

// Strides per level: 16-8-8 for addresses (three dependent loads), 8-8 for
// ports (a few KiB). Below 1,024 bounds a 16-bit root (256 KiB) would be
// most of the tables: 8-8-8-8 there, measured no slower.
std::vector<unsigned> trieStrides(bool wide, size_t bounds) {
  if (!wide) return {8, 8};
  return bounds >= 1024 ? std::vector<unsigned>{16, 8, 8} : std::vector<unsigned>{8, 8, 8, 8};
}

// Tries larger than 1 MiB (the L2 of a core) measured slower than the
// binary search (fw1_10k: 5 and 9 MB for 7.6k and 13.8k bounds), and with
// few bounds the search is short while the trie's 256 KiB root would crowd
// the cache: at most 4 KiB per bound and 1 MiB. Below 1,024 bounds (10
// probes) at most 256 bytes per bound: acl1_1k's 628 destination bounds
// took a 240 KB trie, half its tables, for 5 % of its throughput.
size_t trieBudget(size_t bounds) {
  return std::min<size_t>(size_t(1) << 20, bounds * (bounds < 1024 ? 256 : 4096));
}

// A radix table for a dimension searched without a trie, where it shortens
// the search within the trie's budget: the top r bits (r <= 16: 256 KiB)
// whose fullest block needs the fewest probes, the smallest such r.
// fw1_10k's addresses: 2 probes after a 16 or 32 KiB table instead of 13
// and 14.
void addRadix(ChainDim& cd, unsigned bits, size_t maxBytes) {
  constexpr unsigned kMinBits = 6, kMaxBits = 16;
  const size_t real = cd.bounds.size();
  unsigned top = std::min(kMaxBits, bits);
  while (top >= kMinBits && (sizeof(uint32_t) << top) > maxBytes) --top;
  if (top < kMinBits) return;
  // Bounds per block at `top` bits, then at one bit fewer by adding pairs
  // (linear: an update assembles the tables again).
  std::vector<uint32_t> count(size_t(1) << top, 0);
  for (uint32_t b : cd.bounds) ++count[b >> (bits - top)];
  // Fewer bits make fuller blocks: the last r (going down) with the fewest probes.
  unsigned bestR = 0, bestSteps = 0;
  for (unsigned r = top; r >= kMinBits; --r) {
    const uint32_t fullest = *std::max_element(count.begin(), count.begin() + (ptrdiff_t(1) << r));
    const unsigned steps = unsigned(std::bit_width(fullest));  // 2^steps - 1 >= fullest
    // The table's load is one more probe: worth it only if it saves two.
    if (steps + 1 < cd.steps && (!bestR || steps <= bestSteps)) bestR = r, bestSteps = steps;
    for (size_t i = 0; i < (size_t(1) << (r - 1)); ++i) count[i] = count[2 * i] + count[2 * i + 1];
  }
  if (!bestR) return;
  cd.radixShift = bits - bestR;
  cd.radix.resize(size_t(1) << bestR);
  size_t before = 0;  // bounds below the block's first value
  for (size_t blk = 0; blk < cd.radix.size(); ++blk) {
    while (before < real && cd.bounds[before] < (uint64_t(blk) << cd.radixShift)) ++before;
    cd.radix[blk] = uint32_t(before);
  }
  cd.steps = bestSteps;
}

template <class F>
decltype(auto) dispatch(size_t nd, F&& f) {
  switch (nd) {
    case 0: return f(Search<0>{});
    case 1: return f(Search<1>{});
    case 2: return f(Search<2>{});
    case 3: return f(Search<3>{});
    case 4: return f(Search<4>{});
    default: return f(Search<5>{});
  }
}

}  // namespace

uint32_t clampGroupRules(uint32_t groupRules) { return std::clamp<uint32_t>(groupRules, 64, kMaxGroupRules); }

size_t Group::bytes() const {
  size_t b = (all.size() + allSum.size() + clean.size()) * 8 + cross.bytes();
  for (unsigned d = 0; d < kMaxDims; ++d)
    b += bounds[d].size() * 8 + rowOf[d].size() * 4 + rowStart[d].size() * 4 + (rows[d].size() + sums[d].size()) * 8 +
         nonEmpty[d].size();
  return b;
}

size_t Snapshot::bytes() const {
  size_t b = start.size() * 4 + groups.size() * sizeof(void*) + crossTable.size() * sizeof(void*) +
             (crossWidth.size() + crossOrder.size() + cleanBits.size()) * 4;
  for (const auto& d : dims)
    b += d.trie.bytes() + (d.bounds.size() + d.radix.size()) * 4 + d.local.size() * 2 + d.gmask.size() * 8;
  for (const auto& g : groups) b += g->bytes();
  if (tuples) b += tuples->bytes();
  return b;
}

// The flat per-group arrays of the vector search.
void ChainSearch::vectorTables(Snapshot& s) const {
  s.simd = simd_ && simd::available();
  if (!s.simd || s.maskWords != 1 || fields_.size() < 2) return;
  const size_t ng = s.groups.size();
  bool packed = !s.crossGroups;
  for (const auto& g : s.groups) packed = packed && g->packed && g->sumWords == 1;
  if (!s.crossGroups && !packed) return;
  for (const ChainDim& d : s.dims) s.tries.push_back(d.trie.view());
  s.cleanBits.assign(s.rules / 32 + 1, 0);
  for (size_t gi = 0; gi < ng; ++gi) {
    const Group& g = *s.groups[gi];
    for (uint32_t r = 0; r < g.size; ++r)
      if ((g.clean[r / 64] >> (r % 64)) & 1)
        s.cleanBits[(s.start[gi] + r) / 32] |= uint32_t(1) << ((s.start[gi] + r) % 32);
  }
  if (packed) {
    s.simdPacked = true;
    s.packedSums.assign(ng * kMaxDims, nullptr);
    s.packedRows.assign(ng * kMaxDims, nullptr);
    s.packedStart.assign(ng * kMaxDims, nullptr);
    for (size_t gi = 0; gi < ng; ++gi) {
      const Group& g = *s.groups[gi];
      for (unsigned d = 0; d < g.dims; ++d) {
        s.packedSums[gi * kMaxDims + d] = g.sums[d].data();
        s.packedRows[gi * kMaxDims + d] = g.rows[d].data();
        s.packedStart[gi * kMaxDims + d] = g.rowStart[d].data();
      }
    }
    return;
  }
  s.crossTable.assign(ng * 4, nullptr);
  s.crossWidth.assign(ng * 4, 0);
  s.crossOrder.assign(ng * 8, 0);
  bool everyDim = true;
  for (size_t gi = 0; gi < ng; ++gi) {
    const CrossProduct& c = s.groups[gi]->cross;
    if (c.empty()) continue;
    everyDim = everyDim && c.dims == fields_.size();
    if (gi < 64) s.crossMask |= uint64_t(1) << gi;
    for (unsigned k = 0; k < c.dims; ++k) s.crossOrder[gi * 8 + k] = c.order[k];
    for (unsigned k = 0; k + 1 < c.dims; ++k) {
      s.crossTable[gi * 4 + k] = c.table[k].data();
      s.crossWidth[gi * 4 + k] = c.width[k];
    }
  }
  s.simdCross = everyDim;
}

ChainSearch::ChainSearch(Family f, std::vector<LoweredRule> lowered, const std::vector<const Rule*>& rules,
                         ChainLayout layout, RuleCallback callback, EpochDomain& epochs)
    : family_(f), packRows_(layout.packRows), simd_(layout.simd), tupleIndex_(layout.tupleIndex), groupRules_(clampGroupRules(layout.groupRules)),
      callback_(callback), crossEntries_(layout.crossEntries), updateCrossEntries_(layout.updateCrossEntries),
      epochs_(epochs) {
  fields_ = usedFields(f, lowered);
  std::vector<std::shared_ptr<const LoweredRule>> shared;
  shared.reserve(lowered.size());
  for (LoweredRule& r : lowered) shared.push_back(std::make_shared<const LoweredRule>(std::move(r)));
  auto build = [&] {
    std::vector<std::shared_ptr<const Group>> groups;
    size_t crossLeft = layout.chainCrossEntries ? layout.chainCrossEntries : SIZE_MAX;
    for (size_t lo = 0; lo < shared.size(); lo += groupRules_) {
      size_t hi = std::min(shared.size(), lo + groupRules_);
      auto g = buildGroup(packRows_, std::min(crossEntries_, crossLeft), fields_,
                          {shared.begin() + lo, shared.begin() + hi}, {rules.begin() + lo, rules.begin() + hi}, {});
      if (layout.chainCrossEntries && wantsCross(*g, crossEntries_)) {
        // Out of budget (a group with no cross product within what is left): the chain is too large for them.
        if (g->cross.empty()) return std::vector<std::shared_ptr<const Group>>{};
        crossLeft -= g->cross.entries();
      }
      groups.push_back(std::move(g));
    }
    return groups;
  };
  // A large IPv4 chain whose rules suit a TupleIndex gets it, over packed
  // rows (kept for the residual checks and updates), without the attempt
  // at dense rows: it searches faster than either (bench/RESULTS.md).
  if (layout.chainCrossEntries && tupleIndex_ && f == Family::IPv4 &&
      std::all_of(shared.begin(), shared.end(), [](const auto& r) { return TupleIndex::admits(*r); })) {
    const bool pack = packRows_;
    const uint32_t groupRules = groupRules_;
    packRows_ = true;
    groupRules_ = clampGroupRules(layout.packedGroupRules);
    auto s = assemble(build());
    if (s->tuples) {
      crossEntries_ = updateCrossEntries_ = 0;
      owner_ = std::move(s);
      cur_.store(owner_.get(), std::memory_order_seq_cst);
      return;
    }
    packRows_ = pack, groupRules_ = groupRules;
  }
  auto groups = build();
  if (groups.empty() && !shared.empty()) {
    packRows_ = true;
    groupRules_ = clampGroupRules(layout.packedGroupRules);
    crossEntries_ = updateCrossEntries_ = 0;
    groups = build();
  }
  owner_ = assemble(std::move(groups));
  cur_.store(owner_.get(), std::memory_order_seq_cst);
}

// The chain-level tables: per dimension, the union of the groups'
// boundaries, and per global interval each group's row (found by a merge
// walk over the group's own boundaries) and the mask of non-empty ones.
std::shared_ptr<Snapshot> ChainSearch::assemble(std::vector<std::shared_ptr<const Group>> groups) const {
  auto s = std::make_shared<Snapshot>();
  s->family = family_;
  s->callback = callback_;
  s->groups = std::move(groups);
  const size_t ng = s->groups.size();
  s->maskWords = uint32_t((ng + 63) / 64);
  s->start.push_back(0);
  for (const auto& g : s->groups) s->start.push_back(s->start.back() + g->size);
  s->rules = s->start.back();
  for (const auto& g : s->groups) s->crossGroups += !g->cross.empty();
  // A chain searched through its TupleIndex needs no per-interval tables
  // (most of the memory at 100k rules); an update whose rules no longer suit
  // the index gets them back from the groups' rows.
  if (packRows_ && tupleIndex_ && (s->tuples = TupleIndex::build(*s))) return s;
  for (unsigned d = 0; d < fields_.size(); ++d) {
    ChainDim cd;
    cd.field = fields_[d];
    cd.keyOffset = kFieldInfo[cd.field].offset;
    // Only the protocol is indexed directly: direct port tables (65,536
    // entries per interval table) measured no faster than the search.
    cd.direct = cd.field == kProto;
    // starts[i]: first value of global interval i.
    std::vector<uint64_t> starts{0};
    if (cd.direct) {
      for (uint64_t v = 1; v <= kFieldInfo[cd.field].max; ++v) starts.push_back(v);
      cd.intervals = uint32_t(starts.size());
    } else {
      std::vector<uint64_t> merged;
      for (const auto& g : s->groups) {  // the groups' bounds are sorted: merge, do not sort
        merged.clear();
        std::set_union(starts.begin(), starts.end(), g->bounds[d].begin(), g->bounds[d].end(),
                       std::back_inserter(merged));
        starts.swap(merged);
      }
      // Branchless search: 2^k - 1 bounds, padded with the largest key. Only
      // the key 0xffffffff can land past the last real interval, and the
      // search clamps it there, so the tables need no padding rows.
      size_t real = starts.size() - 1, padded = 0;
      while (padded < real) padded = padded * 2 + 1, ++cd.steps;
      cd.intervals = uint32_t(real + 1);
      cd.last = uint32_t(real);
      const bool wide = kFieldInfo[cd.field].max > 0xffff;
      const std::span<const uint64_t> inner(starts.data() + 1, real);
      if (!cd.trie.build(inner, wide ? 32 : 16, trieStrides(wide, real), trieBudget(real))) {
        cd.bounds.assign(starts.begin() + 1, starts.end());
        addRadix(cd, wide ? 32 : 16, trieBudget(real));
        cd.bounds.resize(std::max<size_t>(padded, real + (size_t(1) << cd.steps) - 1), 0xffffffffu);
      }
    }
    cd.local.assign(size_t(cd.intervals) * ng + 1, 0);  // padding: a 32-bit gather may read the last entry
    cd.gmask.assign(size_t(cd.intervals) * s->maskWords, 0);
    for (size_t gi = 0; gi < ng; ++gi) {
      const Group& g = *s->groups[gi];
      const auto& gb = g.bounds[d];
      size_t j = 0;  // the group's interval holding starts[i]
      for (size_t i = 0; i < cd.intervals; ++i) {
        if (i < starts.size())
          while (j < gb.size() && gb[j] <= starts[i]) ++j;
        uint32_t row = g.rowOf[d][j];
        cd.local[i * ng + gi] = uint16_t(row);
        if (g.nonEmpty[d][row]) cd.gmask[i * s->maskWords + gi / 64] |= uint64_t(1) << (gi % 64);
      }
    }
    s->dims.push_back(std::move(cd));
  }
  vectorTables(*s);
  return s;
}

int32_t groupResidual(const Snapshot& s, const Group& g, uint32_t local, const JitKey& k, void* rt) {
  return residual(s, g, local, k, rt);
}

int32_t ChainSearch::find(const Snapshot& s, const JitKey& k, uint32_t from, void* rt) {
  if (s.tuples) return s.tuples->find(s, k, from, rt);
  return dispatch(s.dims.size(), [&](auto search) { return search.find(s, k, from, rt); });
}

void ChainSearch::findBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) {
  if (s.tuples) return s.tuples->findBatch(s, keys, n, out, rt);
  dispatch(s.dims.size(), [&](auto search) { search.batch(s, keys, n, out, rt); });
}

void ChainSearch::setNative(size_t g, ResidualFn fn) {
  const_cast<Group&>(*owner_->groups[g]).native = fn;
}

void ChainSearch::publish(std::shared_ptr<Snapshot> s) {
  std::shared_ptr<const void> old = std::move(owner_);
  owner_ = std::move(s);
  cur_.store(owner_.get(), std::memory_order_seq_cst);
  epochs_.retire(std::move(old));
}

// An update rebuilds its group's cross product itself only where the old
// one was small (a group that changed by one rule needs about as many
// entries); the rest is left to the background thread.
size_t ChainSearch::updateCrossBudget(const Group* old) const {
  if (!old || old->cross.empty() || old->cross.entries() > updateCrossEntries_) return 0;
  return std::min(crossEntries_, 2 * updateCrossEntries_);
}

ChainSearch::~ChainSearch() {
  {
    std::lock_guard<std::mutex> lock(crossMutex_);
    crossStop_ = true;
  }
  crossCv_.notify_all();
  if (crossThread_.joinable()) crossThread_.join();
}

void ChainSearch::crossLater(const std::vector<std::shared_ptr<const Group>>& groups) {
  std::lock_guard<std::mutex> lock(crossMutex_);
  bool queued = false;
  for (const auto& g : groups)
    if (g->cross.empty() && wantsCross(*g, crossEntries_)) crossQueue_.push_back(g), queued = true;
  if (!queued) return;
  if (!crossThread_.joinable()) crossThread_ = std::thread([this] { crossWorker(); });
  crossCv_.notify_all();
}

void ChainSearch::crossWorker() {
  // The background builds yield to updates and classification. At the
  // default priority the classifier, the updater and this thread shared two
  // cores and an update's time to effect doubled (fw1_10k: p99 6.6-7.1 ms,
  // 2.7-4.1 at nice 19). Nice 19 still gets a share of a busy core (1.5 %
  // against one thread at nice 0), where SCHED_IDLE could starve.
  setpriority(PRIO_PROCESS, id_t(gettid()), 19);
  for (;;) {
    std::shared_ptr<const Group> g;
    {
      std::unique_lock<std::mutex> lock(crossMutex_);
      crossBusy_ = false;
      crossCv_.notify_all();
      crossCv_.wait(lock, [&] { return crossStop_ || !crossQueue_.empty(); });
      if (crossStop_) return;
      g = crossQueue_.front().lock();
      crossQueue_.pop_front();
      crossBusy_ = true;
    }
    if (!g) continue;  // replaced by a later update
    auto withCross = std::make_shared<Group>(*g);
    buildCross(*withCross, crossEntries_);
    if (withCross->cross.empty()) continue;  // over the budget now
    std::lock_guard<std::mutex> lock(update_);
    std::vector<std::shared_ptr<const Group>> groups = owner_->groups;
    auto at = std::find(groups.begin(), groups.end(), g);
    if (at == groups.end() || withCross->dims != fields_.size()) continue;  // replaced meanwhile
    *at = std::move(withCross);
    publish(assemble(std::move(groups)));
  }
}

void ChainSearch::settle() {
  std::unique_lock<std::mutex> lock(crossMutex_);
  crossCv_.wait(lock, [&] { return crossQueue_.empty() && !crossBusy_; });
}

void ChainSearch::insert(uint32_t pos, LoweredRule lowered, std::shared_ptr<const Rule> rule) {
  std::lock_guard<std::mutex> lock(update_);
  const Snapshot& s = *owner_;
  if (pos > s.rules) pos = s.rules;
  bool newField = false;
  for (unsigned f = 0; f < kFields; ++f)
    if (lowered.fields[f] && std::find(fields_.begin(), fields_.end(), Field(f)) == fields_.end()) newField = true;
  std::vector<std::shared_ptr<const Group>> groups = s.groups;
  size_t first = 0, last = groups.size();  // groups [first, last) are rebuilt
  if (!newField && !groups.empty()) {
    first = s.groupOf(pos);
    first = std::min(first, groups.size() - 1);
    last = first + 1;
  }
  // The rules of the rebuilt groups, with the new one in place.
  std::vector<std::shared_ptr<const LoweredRule>> low;
  std::vector<const Rule*> rules;
  std::vector<std::shared_ptr<const Rule>> owned;
  bool placed = false;
  auto place = [&] {
    low.push_back(std::make_shared<const LoweredRule>(std::move(lowered)));
    rules.push_back(rule.get());
    owned.push_back(rule);
    placed = true;
  };
  for (size_t g = first; g < last; ++g)
    for (uint32_t r = 0; r < groups[g]->size; ++r) {
      if (!placed && s.start[g] + r == pos) place();
      low.push_back(groups[g]->lowered[r]);
      rules.push_back(groups[g]->rules[r]);
      owned.push_back(groups[g]->owned[r]);
    }
  if (!placed) place();  // after the last rule of the range
  if (newField) fields_ = usedFields(family_, low);
  // Split what has grown past twice the group size.
  size_t parts = newField ? (low.size() + groupRules_ - 1) / groupRules_ : low.size() > 2 * groupRules_ ? 2 : 1;
  std::vector<std::shared_ptr<const Group>> rebuilt;
  size_t per = (low.size() + parts - 1) / std::max<size_t>(parts, 1);
  for (size_t lo = 0; lo < low.size(); lo += per) {
    size_t hi = std::min(low.size(), lo + per);
    rebuilt.push_back(buildGroup(packRows_, newField ? 0 : updateCrossBudget(groups[first].get()), fields_, {low.begin() + lo, low.begin() + hi},
                                 {rules.begin() + lo, rules.begin() + hi}, {owned.begin() + lo, owned.begin() + hi}));
  }
  groups.erase(groups.begin() + first, groups.begin() + last);
  groups.insert(groups.begin() + first, rebuilt.begin(), rebuilt.end());
  publish(assemble(std::move(groups)));
  crossLater(rebuilt);
}

void ChainSearch::erase(uint32_t pos) {
  std::lock_guard<std::mutex> lock(update_);
  const Snapshot& s = *owner_;
  if (pos >= s.rules) return;
  std::vector<std::shared_ptr<const Group>> groups = s.groups;
  size_t g = s.groupOf(pos);
  const Group& old = *groups[g];
  uint32_t local = pos - s.start[g];
  if (old.size == 1) {
    groups.erase(groups.begin() + g);
  } else {
    std::vector<std::shared_ptr<const LoweredRule>> low;
    std::vector<const Rule*> rules;
    std::vector<std::shared_ptr<const Rule>> owned;
    for (uint32_t r = 0; r < old.size; ++r)
      if (r != local) {
        low.push_back(old.lowered[r]);
        rules.push_back(old.rules[r]);
        owned.push_back(old.owned[r]);
      }
    groups[g] = buildGroup(packRows_, updateCrossBudget(&old), fields_, std::move(low), std::move(rules), std::move(owned));
  }
  std::vector<std::shared_ptr<const Group>> changed;
  if (old.size != 1) changed.push_back(groups[g]);
  publish(assemble(std::move(groups)));
  crossLater(changed);
}

ChainSearchStats ChainSearch::stats() const {
  const Snapshot& s = *owner_;
  ChainSearchStats st;
  st.groups = s.groups.size();
  st.dims = s.dims.size();
  for (const auto& d : s.dims) st.intervals += d.intervals;
  for (const auto& g : s.groups) {
    for (unsigned d = 0; d < s.dims.size(); ++d) st.rows += g->nonEmpty[d].size();
    if (!g->cross.empty()) ++st.crossGroups, st.crossEntries += g->cross.entries();
  }
  st.bytes = s.bytes();
  st.vector = s.simdCross || s.simdPacked;
  st.packed = packRows_;
  st.tupleTables = s.tuples ? s.tuples->tables() : 0;
  return st;
}

}  // namespace nfjit::jit
