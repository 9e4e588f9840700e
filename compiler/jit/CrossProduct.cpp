#include "compiler/jit/CrossProduct.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace nfjit::jit {
namespace {

constexpr uint32_t kMaxClasses = 65535;  // class ids are u16

// The distinct ANDs a step produced, in the same layout as a RowSet; class 0
// is the empty set (the ANDs that meet nowhere, most of them, never reach
// the dedup table).
struct Classes {
  uint32_t count = 0;
  std::vector<uint64_t> bits, sums;
  RowSet view() const { return {bits.data(), sums.data(), count}; }
};

uint64_t mix(uint64_t h, uint64_t v, uint32_t w) {
  h ^= v + 0x9e3779b97f4a7c15ull + (uint64_t(w) << 32);
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

// Open addressing from a class's hash to its id.
class Dedup {
 public:
  explicit Dedup(size_t expect) {
    size_t cap = 64;
    while (cap < expect * 2) cap *= 2;
    key_.assign(cap, 0);
    id_.assign(cap, 0);
  }
  // The slot for hash h holding an equal class (`equal(id)`), or the empty slot where it goes.
  template <class Eq>
  size_t find(uint64_t h, Eq equal) const {
    size_t mask = key_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask)
      if (id_[i] == 0 || (key_[i] == h && equal(id_[i]))) return i;
  }
  uint32_t idAt(size_t slot) const { return id_[slot]; }
  void put(size_t slot, uint64_t h, uint32_t id) {
    key_[slot] = h, id_[slot] = id;
    if (++used_ * 2 > key_.size()) grow();
  }

 private:
  void grow() {
    std::vector<uint64_t> k(key_.size() * 2, 0);
    std::vector<uint32_t> v(id_.size() * 2, 0);
    size_t mask = k.size() - 1;
    for (size_t s = 0; s < key_.size(); ++s)
      if (id_[s]) {
        size_t i = key_[s] & mask;
        while (v[i]) i = (i + 1) & mask;
        k[i] = key_[s], v[i] = id_[s];
      }
    key_.swap(k), id_.swap(v);
  }
  std::vector<uint64_t> key_;
  std::vector<uint32_t> id_;  // 0: empty slot (class 0, the empty set, is never stored)
  size_t used_ = 0;
};

// One step: table[i * b.count + j] = the class of a_i AND b_j (into `out`),
// or with out == nullptr the first rule of it (kNoRule when empty); with
// table == nullptr only the classes. Fails once out would pass `limit`
// classes.
bool combine(const RowSet& a, const RowSet& b, uint32_t words, uint32_t sumWords, std::vector<uint16_t>* table,
             Classes* out, uint32_t limit) {
  uint16_t none = 0;
  if (table) {
    table->reserve(size_t(a.count) * b.count + 1);  // and build()'s padding entry, without a reallocation
    table->assign(size_t(a.count) * b.count, 0);
  }
  if (out) {
    // Room for every class the step can make, reserved but not touched:
    // growing by doubling copied the classes and faulted in fresh pages
    // each time (fw1_1k: a fifth of the build was that copying).
    const size_t most = std::min<size_t>(size_t(limit) + 1, size_t(a.count) * b.count + 1);
    out->bits.reserve(most * words);
    out->sums.reserve(most * sumWords);
    out->count = 1;
    out->bits.assign(words, 0);
    out->sums.assign(sumWords, 0);
  }
  Dedup dedup(out ? std::max<size_t>(a.count, b.count) : 1);
  std::vector<uint64_t> tmp(words, 0);
  std::vector<uint32_t> touched;
  touched.reserve(words);
  for (uint32_t i = 0; i < a.count; ++i) {
    const uint64_t* ar = a.rows + size_t(i) * words;
    const uint64_t* as = a.sums + size_t(i) * sumWords;
    for (uint32_t j = 0; j < b.count; ++j) {
      const uint64_t* br = b.rows + size_t(j) * words;
      const uint64_t* bs = b.sums + size_t(j) * sumWords;
      uint16_t& entry = table ? (*table)[size_t(i) * b.count + j] : none;
      if (!out) {  // the first rule: the lowest bit of the first non-zero word
        entry = CrossProduct::kNoRule;
        for (uint32_t s = 0; s < sumWords && entry == CrossProduct::kNoRule; ++s)
          for (uint64_t m = as[s] & bs[s]; m; m &= m - 1) {
            uint32_t w = s * 64 + uint32_t(std::countr_zero(m));
            if (uint64_t v = ar[w] & br[w]) {
              entry = uint16_t(w * 64 + uint32_t(std::countr_zero(v)));
              break;
            }
          }
        continue;
      }
      touched.clear();
      uint64_t h = 0;
      for (uint32_t s = 0; s < sumWords; ++s)
        for (uint64_t m = as[s] & bs[s]; m; m &= m - 1) {
          uint32_t w = s * 64 + uint32_t(std::countr_zero(m));
          if (uint64_t v = ar[w] & br[w]) {
            tmp[w] = v;
            touched.push_back(w);
            h = mix(h, v, w);
          }
        }
      if (touched.empty()) continue;  // class 0
      auto equal = [&](uint32_t id) {
        const uint64_t* c = out->bits.data() + size_t(id) * words;
        for (uint32_t w = 0; w < words; ++w)
          if (c[w] != tmp[w]) return false;
        return true;
      };
      size_t slot = dedup.find(h, equal);
      uint32_t id = dedup.idAt(slot);
      if (!id) {
        if (out->count >= limit) return false;
        id = out->count++;
        out->bits.insert(out->bits.end(), tmp.begin(), tmp.end());
        out->sums.resize(out->sums.size() + sumWords, 0);
        uint64_t* sum = out->sums.data() + size_t(id) * sumWords;
        for (uint32_t w : touched) sum[w / 64] |= uint64_t(1) << (w % 64);
        dedup.put(slot, h, id);
      }
      entry = uint16_t(id);
      for (uint32_t w : touched) tmp[w] = 0;
    }
  }
  return true;
}

}  // namespace

size_t CrossProduct::entries() const {
  size_t n = 0;
  for (unsigned k = 0; k + 1 < dims; ++k) n += table[k].size() - 1;  // less the padding
  return n;
}

bool CrossProduct::build(std::span<const RowSet> rows, uint32_t rules, uint32_t words, uint32_t sumWords,
                         size_t budgetEntries) {
  *this = CrossProduct{};
  const unsigned nd = unsigned(rows.size());
  if (nd < 2 || nd > kMaxDims || rules >= kNoRule) return false;
  // The classes of a set of dimensions (the distinct non-empty ANDs of one
  // row of each) do not depend on the order they are combined in, so the
  // cheapest chain is a dynamic program over subsets: a step's table is
  // (classes of the dimensions before it) x (rows of its dimension).
  // Classes are computed for every subset smaller than the whole whose
  // step fits the budget (at most 25 combines for 5 dimensions).
  const unsigned full = (1u << nd) - 1;
  constexpr size_t kInf = SIZE_MAX;
  std::vector<Classes> classes(size_t(full) + 1);
  std::vector<RowSet> view(size_t(full) + 1);
  // Finite where the classes are known (in view), except for the whole.
  std::vector<size_t> cost(size_t(full) + 1, kInf);
  std::vector<uint8_t> lastDim(size_t(full) + 1, 0);
  for (unsigned d = 0; d < nd; ++d) {
    view[1u << d] = rows[d];
    cost[1u << d] = 0;
  }
  std::vector<unsigned> masks;
  for (unsigned m = 1; m <= full; ++m) masks.push_back(m);
  std::stable_sort(masks.begin(), masks.end(), [](unsigned a, unsigned b) { return std::popcount(a) < std::popcount(b); });
  for (unsigned m : masks) {
    if (std::popcount(m) < 2) continue;
    // Only the previous layer of subsets is still needed: free the one before.
    for (unsigned old = 1; old <= full; ++old)
      if (std::popcount(old) + 2 == std::popcount(m) && !classes[old].bits.empty()) classes[old] = Classes{};
    // The cheapest chain ending in m (its last step adds dimension lastDim[m]),
    // and the cheapest single step to m's classes (from `from` adding `add`).
    unsigned from = 0, add = 0;
    size_t fromStep = kInf;
    for (unsigned d = 0; d < nd; ++d) {
      const unsigned before = m & ~(1u << d);
      if (!(m >> d & 1) || cost[before] == kInf) continue;
      const size_t step = size_t(view[before].count) * rows[d].count;
      if (step > budgetEntries || cost[before] + step > budgetEntries) continue;
      if (cost[before] + step < cost[m]) cost[m] = cost[before] + step, lastDim[m] = uint8_t(d);
      if (step < fromStep) fromStep = step, from = before, add = d;
    }
    // Its classes, unless m is the whole (the last step keeps first rules).
    if (m == full || fromStep == kInf) continue;
    Classes c;
    if (combine(view[from], rows[add], words, sumWords, nullptr, &c, kMaxClasses)) {
      classes[m] = std::move(c);
      view[m] = classes[m].view();
    } else {
      cost[m] = kInf;
    }
  }
  if (cost[full] == kInf) return false;
  // The order, from the end.
  CrossProduct built;
  built.dims = nd;
  for (unsigned m = full, k = nd - 1;; --k) {
    if (std::popcount(m) == 1) {
      built.order[0] = uint8_t(std::countr_zero(m));
      break;
    }
    built.order[k] = lastDim[m];
    m &= ~(1u << lastDim[m]);
  }
  // The tables along that order (class ids of this chain's own steps).
  Classes cur;
  RowSet curView = rows[built.order[0]];
  for (unsigned k = 0; k + 1 < nd; ++k) {
    const RowSet& b = rows[built.order[k + 1]];
    built.width[k] = b.count;
    const bool last = k + 2 == nd;
    Classes next;
    if (!combine(curView, b, words, sumWords, &built.table[k], last ? nullptr : &next, kMaxClasses)) return false;
    built.table[k].push_back(0);  // padding: a 32-bit gather may read the last entry
    if (last) break;
    cur = std::move(next);
    curView = cur.view();
  }
  *this = std::move(built);
  return true;
}

}  // namespace nfjit::jit
