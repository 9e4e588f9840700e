#include "verifier/BoxIndex.h"

#include <algorithm>
#include <bit>
#include <unordered_map>

namespace nfjit::verifier {

BoxIndex::BoxIndex(const Traversal& tr) {
  const size_t n = tr.occs.size();
  words_ = (n + 63) / 64;
  for (int d = 0; d < kNumDims; ++d) {
    Dim& dim = dims_[static_cast<size_t>(d)];
    dim.starts.push_back(0);
    for (const Occurrence& o : tr.occs) {
      if (o.pathBox.empty) continue;
      const Box::Iv& iv = o.pathBox.d[static_cast<size_t>(d)];
      dim.starts.push_back(iv.lo);
      if (iv.hi != ~u128(0)) dim.starts.push_back(iv.hi + 1);
    }
    std::sort(dim.starts.begin(), dim.starts.end());
    dim.starts.erase(std::unique(dim.starts.begin(), dim.starts.end()), dim.starts.end());
    auto intervalOf = [&](u128 v) {
      return static_cast<size_t>(std::upper_bound(dim.starts.begin(), dim.starts.end(), v) - dim.starts.begin()) - 1;
    };
    // Sweep: occurrence k enters at its lo's interval and leaves after its hi's.
    const size_t intervals = dim.starts.size();
    std::vector<std::vector<uint32_t>> enter(intervals + 1), leave(intervals + 1);
    for (size_t k = 0; k < n; ++k) {
      const Occurrence& o = tr.occs[k];
      if (o.pathBox.empty) continue;
      const Box::Iv& iv = o.pathBox.d[static_cast<size_t>(d)];
      enter[intervalOf(iv.lo)].push_back(static_cast<uint32_t>(k));
      leave[intervalOf(iv.hi) + 1].push_back(static_cast<uint32_t>(k));
    }
    std::vector<uint64_t> cur(words_, 0);
    std::unordered_map<uint64_t, std::vector<uint32_t>> seen;  // content hash -> rows
    dim.rowOf.resize(intervals);
    for (size_t iv = 0; iv < intervals; ++iv) {
      for (uint32_t k : leave[iv]) cur[k / 64] &= ~(uint64_t(1) << (k % 64));
      for (uint32_t k : enter[iv]) cur[k / 64] |= uint64_t(1) << (k % 64);
      uint64_t h = 0x9e3779b97f4a7c15ull;
      for (uint64_t w : cur) h = (h ^ w) * 0xff51afd7ed558ccdull;
      auto& same = seen[h];
      uint32_t row = UINT32_MAX;
      for (uint32_t r : same)
        if (std::equal(cur.begin(), cur.end(), dim.rows.begin() + static_cast<long>(size_t(r) * words_))) row = r;
      if (row == UINT32_MAX) {
        row = static_cast<uint32_t>(dim.rows.size() / std::max<size_t>(words_, 1));
        dim.rows.insert(dim.rows.end(), cur.begin(), cur.end());
        same.push_back(row);
      }
      dim.rowOf[iv] = row;
    }
  }
}

void BoxIndex::candidates(const Point& p, std::vector<uint64_t>& out) const {
  out.assign(words_, ~uint64_t(0));
  for (int d = 0; d < kNumDims; ++d) {
    const Dim& dim = dims_[static_cast<size_t>(d)];
    const size_t iv = static_cast<size_t>(std::upper_bound(dim.starts.begin(), dim.starts.end(), p[static_cast<size_t>(d)]) -
                                          dim.starts.begin()) - 1;
    const uint64_t* row = dim.rows.data() + size_t(dim.rowOf[iv]) * words_;
    for (size_t w = 0; w < words_; ++w) out[w] &= row[w];
  }
}

size_t BoxIndex::nextSet(const std::vector<uint64_t>& bits, size_t from, size_t to) {
  if (from >= to) return to;
  size_t w = from / 64;
  uint64_t cur = bits[w] & (~uint64_t(0) << (from % 64));
  while (true) {
    if (cur) return std::min(to, w * 64 + static_cast<size_t>(std::countr_zero(cur)));
    if (++w * 64 >= to) return to;
    cur = bits[w];
  }
}

}  // namespace nfjit::verifier
