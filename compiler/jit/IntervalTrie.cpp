#include "compiler/jit/IntervalTrie.h"

#include <algorithm>
#include <stdexcept>

namespace nfjit::jit {

namespace {
constexpr size_t kGatherPad = 3;  // bytes after the offsets (see View)
}

bool IntervalTrie::build(std::span<const uint64_t> bounds, unsigned bits, const std::vector<unsigned>& strides,
                         size_t maxBytes) {
  *this = IntervalTrie();
  unsigned sum = 0;
  for (unsigned s : strides) sum += s;
  if (strides.size() < 2 || strides.size() > kMaxLevels + 1 || sum != bits || bits > 32 || strides.back() > 8)
    throw std::invalid_argument("IntervalTrie: bad strides");
  if (bounds.size() >= kLeaf) return false;
  levels_ = unsigned(strides.size() - 1);
  unsigned shift = bits;
  for (unsigned l = 0; l < levels_; ++l) {
    if (strides[l] == 0 || strides[l] > 24) throw std::invalid_argument("IntervalTrie: bad strides");
    stride_[l] = strides[l];
    shift -= strides[l];
    shift_[l] = shift;
    mask_[l] = (uint32_t(1) << strides[l]) - 1;
  }
  lastStride_ = strides.back();
  lastMask_ = (uint32_t(1) << lastStride_) - 1;
  // The size is known before building: a node below the root exists for
  // each block that holds a bound not aligned to the block's start. Counting
  // them first keeps an update from filling a trie it would then discard.
  const size_t lastNode = (size_t(1) << lastStride_) + 4;  // offsets and base
  size_t bytes = kGatherPad, nodesAt[kMaxLevels + 1];
  for (unsigned l = 0; l <= levels_; ++l) {
    const size_t node = l < levels_ ? (size_t(4) << stride_[l]) : lastNode;
    size_t& nodes = nodesAt[l];
    nodes = 1;  // the root, or the dummy
    if (l > 0) {
      const unsigned blockShift = shift_[l - 1];
      uint64_t prev = UINT64_MAX;
      for (uint64_t b : bounds)
        if ((b & ((uint64_t(1) << blockShift) - 1)) && b >> blockShift != prev) prev = b >> blockShift, ++nodes;
    }
    bytes += nodes * node;
    if (bytes > maxBytes) {
      *this = IntervalTrie();
      return false;
    }
  }
  for (unsigned l = 0; l < levels_; ++l) {
    inner_[l].reserve(nodesAt[l] << stride_[l]);
    inner_[l].assign(size_t(1) << stride_[l], 0);
  }
  base_.reserve(nodesAt[levels_]);
  off_.reserve((nodesAt[levels_] << lastStride_) + kGatherPad);
  base_.assign(1, 0);
  off_.assign(size_t(1) << lastStride_, 0);
  size_t i = 0;
  fill(0, 0, 0, bounds, i);
  off_.resize(off_.size() + kGatherPad, 0);
  return true;
}

IntervalTrie::View IntervalTrie::view() const {
  View v{};
  v.levels = levels_;
  for (unsigned l = 0; l < levels_; ++l)
    v.stride[l] = stride_[l], v.shift[l] = shift_[l], v.mask[l] = mask_[l], v.inner[l] = inner_[l].data();
  v.lastStride = lastStride_;
  v.lastMask = lastMask_;
  v.base = base_.data();
  v.off = off_.data();
  return v;
}

// Fills node `node` of level l, which covers the values from blockStart on;
// i is the number of bounds below the value being filled (advanced as the
// walk goes up in value order). Runs of slots without a bound are filled
// at once: an update rebuilds the tries, and most slots are such runs.
void IntervalTrie::fill(unsigned l, uint64_t blockStart, uint32_t node, std::span<const uint64_t> bounds, size_t& i) {
  const size_t n = bounds.size();
  const bool byteLevel = l == levels_;
  const unsigned shift = byteLevel ? 0 : shift_[l];
  const uint32_t slots = (byteLevel ? lastMask_ : mask_[l]) + 1;
  const uint64_t blockEnd = blockStart + (uint64_t(slots) << shift);
  while (i < n && bounds[i] <= blockStart) ++i;
  const size_t first = i;
  if (byteLevel) {  // offsets from the node's first interval
    base_[node] = uint32_t(first);
    uint8_t* off = &off_[size_t(node) << lastStride_];
    for (uint32_t k = 0; k < slots;) {
      // Slots k up to the next bound have the current interval.
      uint32_t next = i < n && bounds[i] < blockEnd ? uint32_t(bounds[i] - blockStart) : slots;
      std::fill(off + k, off + next, uint8_t(i - first));
      k = next;
      if (k < slots && i < n && bounds[i] == blockStart + k) ++i;
    }
    return;
  }
  uint32_t* entries = &inner_[l][size_t(node) << stride_[l]];
  for (uint32_t k = 0; k < slots;) {
    const uint64_t a = blockStart + (uint64_t(k) << shift);
    while (i < n && bounds[i] <= a) ++i;
    const uint32_t next = i < n && bounds[i] < blockEnd ? uint32_t((bounds[i] - blockStart) >> shift) : slots;
    if (next > k) {  // no bound strictly inside slots k..next-1: one interval each
      std::fill(entries + k, entries + next, kLeaf | uint32_t(i));
      k = next;
      continue;
    }
    // A bound strictly inside slot k: a child on level l + 1 (the byte level when l + 1 == levels_).
    uint32_t child;
    if (l + 1 < levels_) {
      child = uint32_t(inner_[l + 1].size() >> stride_[l + 1]);
      inner_[l + 1].resize(inner_[l + 1].size() + (size_t(1) << stride_[l + 1]), 0);
    } else {
      child = uint32_t(base_.size());
      base_.push_back(0);
      off_.resize(off_.size() + (size_t(1) << lastStride_), 0);
    }
    entries[k] = child;  // the child's growth moves deeper levels only, not `entries`
    fill(l + 1, a, child, bounds, i);
    ++k;
  }
}

size_t IntervalTrie::bytes() const {
  size_t b = base_.size() * 4 + off_.size();
  for (const auto& v : inner_) b += v.size() * 4;
  return b;
}

}  // namespace nfjit::jit
