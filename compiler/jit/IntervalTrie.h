// A multibit trie from a field value to its interval index (the number of
// interval boundaries <= the value), with one dependent load per level
// instead of a binary search's log2(bounds) probes.
//
// Inner levels hold u32 entries: kLeaf | interval, or the index of a child
// node in the next level. Nodes exist only where a boundary falls strictly
// inside the entry's block. Index 0 of every level below the root is a
// dummy node of zeros (child 0, never a leaf), so a lookup that met its
// leaf keeps walking through dummies without branches. The last level
// stores u8 offsets from a per-node base interval: a node spans at most 256
// values, so its intervals differ from the first by at most 255.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nfjit::jit {

class IntervalTrie {
 public:
  static constexpr unsigned kMaxLevels = 4;  // inner levels; the byte level comes after
  static constexpr uint32_t kLeaf = 0x80000000u;

  // `bounds`: sorted, unique, each in (0, 2^bits). `strides`: the bits per
  // level, summing to `bits`, the last one 8 at most. Returns false, leaving
  // the trie empty, when it would take more than maxBytes (or an interval
  // index does not fit in 31 bits).
  bool build(std::span<const uint64_t> bounds, unsigned bits, const std::vector<unsigned>& strides,
             size_t maxBytes);

  bool empty() const { return levels_ == 0; }
  size_t bytes() const;
  unsigned levels() const { return levels_; }  // inner levels

  // The interval of v, v < 2^bits.
  uint32_t find(uint32_t v) const {
    uint32_t node = 0, found = 0;
    for (unsigned l = 0; l < levels_; ++l) step(l, v, node, found);
    return last(v, node, found);
  }

  // The walk in steps, so that a batch can interleave them across packets:
  // node = 0 and found = 0, step(l) for each inner level, then last().
  void step(unsigned l, uint32_t v, uint32_t& node, uint32_t& found) const {
    uint32_t e = inner_[l][(node << stride_[l]) | ((v >> shift_[l]) & mask_[l])];
    uint32_t leaf = uint32_t(int32_t(e) >> 31);  // all ones for a leaf
    found |= e & leaf & ~kLeaf;
    node = e & ~leaf;
  }
  uint32_t last(uint32_t v, uint32_t node, uint32_t found) const {
    return found + base_[node] + off_[(node << lastStride_) | (v & lastMask_)];
  }
  // The arrays, for the vector search: off is followed by 3 bytes of
  // padding, so that a 32-bit gather may read any offset.
  struct View {
    unsigned levels, stride[kMaxLevels], shift[kMaxLevels];
    uint32_t mask[kMaxLevels];
    unsigned lastStride;
    uint32_t lastMask;
    const uint32_t* inner[kMaxLevels];
    const uint32_t* base;
    const uint8_t* off;
  };
  View view() const;
  // For prefetching the next level of a batch.
  const uint32_t* entry(unsigned l, uint32_t v, uint32_t node) const {
    return &inner_[l][(node << stride_[l]) | ((v >> shift_[l]) & mask_[l])];
  }

 private:
  void fill(unsigned l, uint64_t blockStart, uint32_t node, std::span<const uint64_t> bounds, size_t& i);

  unsigned levels_ = 0;
  unsigned stride_[kMaxLevels] = {}, shift_[kMaxLevels] = {};
  uint32_t mask_[kMaxLevels] = {};
  unsigned lastStride_ = 0;
  uint32_t lastMask_ = 0;
  std::vector<uint32_t> inner_[kMaxLevels];
  std::vector<uint32_t> base_;
  std::vector<uint8_t> off_;
};

}  // namespace nfjit::jit
