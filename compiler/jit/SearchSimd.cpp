#include "compiler/jit/SearchSimd.h"

// GCC 12's AVX-512 headers fill the unused source of their intrinsics with
// _mm512_undefined_*(), which -Wmaybe-uninitialized reports at every use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "compiler/jit/ChainSearch.h"

// Only the functions marked NFJIT_AVX512 are compiled for AVX-512, and they
// run only after available() said yes: the rest of the program (and every
// inline function it shares with this file) stays baseline x86-64.
#define NFJIT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512cd")))

namespace nfjit::jit::simd {

bool available() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd");
  }();
  return ok;
}

namespace {

static_assert(sizeof(JitKey) % 4 == 0 && kLanes == 16);

NFJIT_AVX512 inline __m512i splat(uint32_t v) { return _mm512_set1_epi32(int(v)); }

NFJIT_AVX512 inline __mmask16 liveLanes(size_t m) { return m >= kLanes ? __mmask16(0xffff) : __mmask16((1u << m) - 1); }

// Gathers of u32, u16 and u8 entries at 16 indexes; lanes outside `live`
// read nothing and give 0. The u16 and u8 forms read 32 bits, so their
// arrays carry 1 and 3 entries of padding.
NFJIT_AVX512 inline __m512i gather32(const void* base, __m512i idx, __mmask16 live) {
  return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, base, 4);
}
NFJIT_AVX512 inline __m512i gather16(const uint16_t* base, __m512i idx, __mmask16 live) {
  return _mm512_and_si512(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, base, 2), splat(0xffff));
}
NFJIT_AVX512 inline __m512i gather8(const uint8_t* base, __m512i idx, __mmask16 live) {
  return _mm512_and_si512(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, base, 1), splat(0xff));
}

// 8 x u64 halves of a 16-lane vector, and back.
NFJIT_AVX512 inline __m256i lower(__m512i v) { return _mm512_castsi512_si256(v); }
NFJIT_AVX512 inline __m256i upper(__m512i v) { return _mm512_extracti64x4_epi64(v, 1); }
NFJIT_AVX512 inline __m512i join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Word `offset` of 16 consecutive keys.
NFJIT_AVX512 inline __m512i keyWords(const JitKey* keys, unsigned offset, __mmask16 live) {
  constexpr int w = int(sizeof(JitKey) / 4);
  const __m512i at = _mm512_setr_epi32(0, w, 2 * w, 3 * w, 4 * w, 5 * w, 6 * w, 7 * w, 8 * w, 9 * w, 10 * w, 11 * w,
                                       12 * w, 13 * w, 14 * w, 15 * w);
  return gather32(keys, _mm512_add_epi32(at, splat(offset / 4)), live);
}

// The same walk as IntervalTrie::find and the scalar branchless search.
NFJIT_AVX512 __m512i interval(const ChainDim& cd, const JitKey* keys, __mmask16 live) {
  const __m512i v = keyWords(keys, cd.keyOffset, live);
  if (cd.direct) return v;
  if (!cd.trie.empty()) {
    const IntervalTrie::View t = cd.trie.view();
    __m512i node = _mm512_setzero_si512(), found = _mm512_setzero_si512();
    for (unsigned l = 0; l < t.levels; ++l) {
      const __m512i digit = _mm512_and_si512(_mm512_srl_epi32(v, _mm_cvtsi32_si128(int(t.shift[l]))), splat(t.mask[l]));
      const __m512i e = gather32(t.inner[l], _mm512_or_si512(_mm512_sll_epi32(node, _mm_cvtsi32_si128(int(t.stride[l]))), digit), live);
      const __m512i leaf = _mm512_srai_epi32(e, 31);
      found = _mm512_or_si512(found, _mm512_and_si512(_mm512_and_si512(e, leaf), splat(~IntervalTrie::kLeaf)));
      node = _mm512_andnot_si512(leaf, e);
    }
    const __m512i slot =
        _mm512_or_si512(_mm512_sll_epi32(node, _mm_cvtsi32_si128(int(t.lastStride))), _mm512_and_si512(v, splat(t.lastMask)));
    return _mm512_add_epi32(_mm512_add_epi32(found, gather32(t.base, node, live)), gather8(t.off, slot, live));
  }
  const uint32_t* b = cd.bounds.data();
  __m512i pos = _mm512_setzero_si512();
  for (uint32_t step = (uint32_t(1) << cd.steps) >> 1; step; step >>= 1) {
    const __m512i probe = gather32(b, _mm512_add_epi32(pos, splat(step - 1)), live);
    pos = _mm512_mask_add_epi32(pos, _mm512_cmple_epu32_mask(probe, v), pos, splat(step));
  }
  return _mm512_min_epu32(pos, splat(cd.last));
}

NFJIT_AVX512 inline void scatterIntervals(const __m512i* ivd, size_t nd, __mmask16 lanes, uint32_t* iv, size_t stride) {
  const __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                        splat(uint32_t(stride)));
  for (size_t d = 0; d < nd; ++d) _mm512_mask_i32scatter_epi32(iv + d, lanes, at, ivd[d], 4);
}

NFJIT_AVX512 void intervalsAvx512(const Snapshot& s, const JitKey* keys, size_t m, uint32_t* iv, size_t stride) {
  const __mmask16 live = liveLanes(m);
  __m512i ivd[kMaxDims];
  for (size_t d = 0; d < s.dims.size(); ++d) ivd[d] = interval(s.dims[d], keys, live);
  scatterIntervals(ivd, s.dims.size(), live, iv, stride);
}

// Per lane, row[sel] (sel < ND).
template <size_t ND>
NFJIT_AVX512 inline __m512i pick(const __m512i* row, __m512i sel) {
  __m512i r = row[0];
  for (size_t d = 1; d < ND; ++d) r = _mm512_mask_mov_epi32(r, _mm512_cmpeq_epi32_mask(sel, splat(uint32_t(d))), row[d]);
  return r;
}

// Per lane, the u16 entry idx of table slot[lane] (a table per group and step).
NFJIT_AVX512 inline __m512i gatherTables(const uint16_t* const* tables, __m512i slot, __m512i idx, __mmask16 live) {
  const __mmask8 lo = __mmask8(live), hi = __mmask8(live >> 8);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i ptrLo = _mm512_mask_i32gather_epi64(zero, lo, lower(slot), tables, 8);
  const __m512i ptrHi = _mm512_mask_i32gather_epi64(zero, hi, upper(slot), tables, 8);
  const __m512i atLo = _mm512_add_epi64(ptrLo, _mm512_slli_epi64(_mm512_cvtepu32_epi64(lower(idx)), 1));
  const __m512i atHi = _mm512_add_epi64(ptrHi, _mm512_slli_epi64(_mm512_cvtepu32_epi64(upper(idx)), 1));
  const __m256i vLo = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), lo, atLo, nullptr, 1);
  const __m256i vHi = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), hi, atHi, nullptr, 1);
  return _mm512_and_si512(join(vLo, vHi), splat(0xffff));
}

// Per lane, the index of the lowest set bit of a non-zero u64 (64 for zero).
NFJIT_AVX512 inline __m256i lowestBit(__m512i mask) {
  const __m512i low = _mm512_and_si512(mask, _mm512_sub_epi64(_mm512_setzero_si512(), mask));
  const __m512i index = _mm512_sub_epi64(_mm512_set1_epi64(63), _mm512_lzcnt_epi64(low));  // -1 for zero
  return _mm512_cvtepi64_epi32(_mm512_min_epu64(index, _mm512_set1_epi64(64)));
}

// Lanes whose u64 mask (two halves) is not zero.
NFJIT_AVX512 inline __mmask16 nonZero(__m512i lo, __m512i hi) {
  return __mmask16(_mm512_test_epi64_mask(lo, lo) | (_mm512_test_epi64_mask(hi, hi) << 8));
}

template <size_t ND>
NFJIT_AVX512 uint32_t crossBlockAvx512(const Snapshot& s, const JitKey* keys, size_t m, unsigned rounds, int32_t* out,
                                       uint32_t* iv, size_t stride, uint32_t* resume) {
  const size_t ng = s.groups.size();
  const __mmask16 live = liveLanes(m);
  const __m512i zero = _mm512_setzero_si512();
  __m512i ivd[ND];
  for (size_t d = 0; d < ND; ++d) ivd[d] = interval(s.dims[d], keys, live);

  // Candidate groups per packet, as u64 masks in two halves (lanes 0-7, 8-15).
  const uint64_t valid = ng >= 64 ? ~uint64_t(0) : (uint64_t(1) << ng) - 1;
  __m512i maskLo = _mm512_maskz_set1_epi64(__mmask8(live), int64_t(valid));
  __m512i maskHi = _mm512_maskz_set1_epi64(__mmask8(live >> 8), int64_t(valid));
  if (ng > 1)
    for (size_t d = 0; d < ND; ++d) {
      const uint64_t* gm = s.dims[d].gmask.data();
      maskLo = _mm512_and_si512(maskLo, _mm512_mask_i32gather_epi64(zero, __mmask8(live), lower(ivd[d]), gm, 8));
      maskHi = _mm512_and_si512(maskHi, _mm512_mask_i32gather_epi64(zero, __mmask8(live >> 8), upper(ivd[d]), gm, 8));
    }
  __m512i result = splat(~uint32_t(0));  // -1: no rule
  __mmask16 open = nonZero(maskLo, maskHi), fallback = 0;
  const __m512i crossMask = _mm512_set1_epi64(int64_t(s.crossMask));
  for (unsigned round = 0; round < rounds && open; ++round) {
    const __m512i lowLo = _mm512_and_si512(maskLo, _mm512_sub_epi64(zero, maskLo));
    const __m512i lowHi = _mm512_and_si512(maskHi, _mm512_sub_epi64(zero, maskHi));
    const __m512i g = join(lowestBit(maskLo), lowestBit(maskHi));
    const __mmask16 withCross =
        __mmask16(_mm512_test_epi64_mask(lowLo, crossMask) | (_mm512_test_epi64_mask(lowHi, crossMask) << 8));
    fallback |= open & ~withCross;
    open &= withCross;
    if (!open) break;
    __m512i row[ND], cls;
    if (ng == 1) {
      for (size_t d = 0; d < ND; ++d) row[d] = gather16(s.dims[d].local.data(), ivd[d], open);
      const CrossProduct& c = s.groups[0]->cross;
      cls = row[c.order[0]];
      for (size_t k = 0; k + 1 < ND; ++k) {
        const __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(cls, splat(c.width[k])), row[c.order[k + 1]]);
        cls = gather16(c.table[k].data(), idx, open);
      }
    } else {
      for (size_t d = 0; d < ND; ++d)
        row[d] = gather16(s.dims[d].local.data(), _mm512_add_epi32(_mm512_mullo_epi32(ivd[d], splat(uint32_t(ng))), g), open);
      const __m512i steps = _mm512_slli_epi32(g, 2), orders = _mm512_slli_epi32(g, 3);
      cls = pick<ND>(row, gather32(s.crossOrder.data(), orders, open));
      for (size_t k = 0; k + 1 < ND; ++k) {
        const __m512i slot = _mm512_add_epi32(steps, splat(uint32_t(k)));
        const __m512i width = gather32(s.crossWidth.data(), slot, open);
        const __m512i next = pick<ND>(row, gather32(s.crossOrder.data(), _mm512_add_epi32(orders, splat(uint32_t(k + 1))), open));
        cls = gatherTables(s.crossTable.data(), slot, _mm512_add_epi32(_mm512_mullo_epi32(cls, width), next), open);
      }
    }
    const __mmask16 none = _mm512_mask_cmpeq_epi32_mask(open, cls, splat(CrossProduct::kNoRule));
    const __mmask16 hit = open & ~none;
    const __m512i rule = ng == 1 ? cls : _mm512_add_epi32(cls, gather32(s.start.data(), g, hit));
    const __m512i word = gather32(s.cleanBits.data(), _mm512_srli_epi32(rule, 5), hit);
    const __mmask16 clean =
        _mm512_mask_test_epi32_mask(hit, _mm512_srlv_epi32(word, _mm512_and_si512(rule, splat(31))), splat(1));
    result = _mm512_mask_mov_epi32(result, clean, rule);
    fallback |= hit & ~clean;  // the rule needs its residual check
    // No rule in this group: on to the next candidate group.
    maskLo = _mm512_mask_xor_epi64(maskLo, __mmask8(none), maskLo, lowLo);
    maskHi = _mm512_mask_xor_epi64(maskHi, __mmask8(none >> 8), maskHi, lowHi);
    open = none & nonZero(maskLo, maskHi);
  }
  fallback |= open;
  _mm512_mask_storeu_epi32(out, live, result);
  if (fallback) {
    scatterIntervals(ivd, ND, fallback, iv, stride);
    _mm512_mask_storeu_epi32(resume, fallback, join(lowestBit(maskLo), lowestBit(maskHi)));
  }
  return fallback;
}

}  // namespace

void intervals(const Snapshot& s, const JitKey* keys, size_t m, uint32_t* iv, size_t stride) {
  intervalsAvx512(s, keys, m, iv, stride);
}

uint32_t crossBlock(const Snapshot& s, const JitKey* keys, size_t m, unsigned rounds, int32_t* out, uint32_t* iv,
                    size_t stride, uint32_t* resume) {
  switch (s.dims.size()) {
    case 2: return crossBlockAvx512<2>(s, keys, m, rounds, out, iv, stride, resume);
    case 3: return crossBlockAvx512<3>(s, keys, m, rounds, out, iv, stride, resume);
    case 4: return crossBlockAvx512<4>(s, keys, m, rounds, out, iv, stride, resume);
    default: return crossBlockAvx512<5>(s, keys, m, rounds, out, iv, stride, resume);
  }
}

}  // namespace nfjit::jit::simd
