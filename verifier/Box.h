// A cheap over-approximation of the packets a rule can match: one interval
// per header dimension. Two rules whose boxes do not meet cannot both match
// a packet, so the solver never needs to see them together.
#pragma once
#include <array>
#include <cstdint>

namespace nfjit::verifier {

using u128 = unsigned __int128;

enum BoxDim : uint8_t { kDimSrc, kDimDst, kDimProto, kDimSport, kDimDport, kDimIn, kDimOut, kDimFrag, kNumDims };

struct Box {
  struct Iv {
    u128 lo = 0, hi = ~u128(0);
  };
  std::array<Iv, kNumDims> d{};
  bool empty = false;

  static Box none() {
    Box b;
    b.empty = true;
    return b;
  }
  void restrict(BoxDim dim, u128 lo, u128 hi) {
    if (lo > d[dim].lo) d[dim].lo = lo;
    if (hi < d[dim].hi) d[dim].hi = hi;
    if (d[dim].lo > d[dim].hi) empty = true;
  }
  Box meet(const Box& o) const {
    if (empty || o.empty) return none();
    Box r = *this;
    for (int i = 0; i < kNumDims; ++i) r.restrict(BoxDim(i), o.d[i].lo, o.d[i].hi);
    return r;
  }
  // The smallest box holding both.
  Box hull(const Box& o) const {
    if (empty) return o;
    if (o.empty) return *this;
    Box r;
    for (int i = 0; i < kNumDims; ++i) {
      r.d[i].lo = d[i].lo < o.d[i].lo ? d[i].lo : o.d[i].lo;
      r.d[i].hi = d[i].hi > o.d[i].hi ? d[i].hi : o.d[i].hi;
    }
    return r;
  }
  bool contains(const std::array<u128, kNumDims>& p) const {
    if (empty) return false;
    for (int i = 0; i < kNumDims; ++i)
      if (p[i] < d[i].lo || p[i] > d[i].hi) return false;
    return true;
  }
  // Every point of `inner` is in this box.
  bool contains(const Box& inner) const {
    if (inner.empty) return true;
    if (empty) return false;
    for (int i = 0; i < kNumDims; ++i)
      if (d[i].lo > inner.d[i].lo || d[i].hi < inner.d[i].hi) return false;
    return true;
  }
  bool meets(const Box& o) const {
    if (empty || o.empty) return false;
    for (int i = 0; i < kNumDims; ++i)
      if (d[i].hi < o.d[i].lo || o.d[i].hi < d[i].lo) return false;
    return true;
  }
};

}  // namespace nfjit::verifier
