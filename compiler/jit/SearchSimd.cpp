#include "compiler/jit/SearchSimd.h"

#if defined(__x86_64__)

// GCC 12's AVX-512 headers fill the unused source of their intrinsics with
// _mm512_undefined_*(), which -W(maybe-)uninitialized reports at every use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
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

// The intervals of V vectors of packets in one dimension: the same walk as
// IntervalTrie::find and the scalar branchless search, each level's
// gathers for the V vectors issued together so that their misses overlap.
template <size_t V>
NFJIT_AVX512 __attribute__((always_inline)) inline void intervals(const ChainDim& cd, const IntervalTrie::View& t,
                                                                  const JitKey* keys, const __mmask16* live,
                                                                  __m512i* out) {
  __m512i v[V];
  for (size_t i = 0; i < V; ++i) v[i] = keyWords(keys + i * kLanes, cd.keyOffset, live[i]);
  if (cd.direct) {
    for (size_t i = 0; i < V; ++i) out[i] = v[i];
    return;
  }
  if (t.levels) {
    __m512i node[V], found[V];
    for (size_t i = 0; i < V; ++i) node[i] = found[i] = _mm512_setzero_si512();
    for (unsigned l = 0; l < t.levels; ++l) {
      const __m128i shift = _mm_cvtsi32_si128(int(t.shift[l])), stride = _mm_cvtsi32_si128(int(t.stride[l]));
      for (size_t i = 0; i < V; ++i) {
        const __m512i digit = _mm512_and_si512(_mm512_srl_epi32(v[i], shift), splat(t.mask[l]));
        const __m512i e = gather32(t.inner[l], _mm512_or_si512(_mm512_sll_epi32(node[i], stride), digit), live[i]);
        const __m512i leaf = _mm512_srai_epi32(e, 31);
        found[i] = _mm512_or_si512(found[i], _mm512_and_si512(_mm512_and_si512(e, leaf), splat(~IntervalTrie::kLeaf)));
        node[i] = _mm512_andnot_si512(leaf, e);
      }
    }
    const __m128i lastStride = _mm_cvtsi32_si128(int(t.lastStride));
    for (size_t i = 0; i < V; ++i) {
      const __m512i slot = _mm512_or_si512(_mm512_sll_epi32(node[i], lastStride), _mm512_and_si512(v[i], splat(t.lastMask)));
      out[i] = _mm512_add_epi32(_mm512_add_epi32(found[i], gather32(t.base, node[i], live[i])),
                                gather8(t.off, slot, live[i]));
    }
    return;
  }
  const uint32_t* b = cd.bounds.data();
  __m512i pos[V];
  if (cd.radix.empty())
    for (size_t i = 0; i < V; ++i) pos[i] = _mm512_setzero_si512();
  else
    for (size_t i = 0; i < V; ++i)
      pos[i] = gather32(cd.radix.data(), _mm512_srli_epi32(v[i], cd.radixShift), live[i]);
  for (uint32_t step = (uint32_t(1) << cd.steps) >> 1; step; step >>= 1)
    for (size_t i = 0; i < V; ++i) {
      const __m512i probe = gather32(b, _mm512_add_epi32(pos[i], splat(step - 1)), live[i]);
      pos[i] = _mm512_mask_add_epi32(pos[i], _mm512_cmple_epu32_mask(probe, v[i]), pos[i], splat(step));
    }
  for (size_t i = 0; i < V; ++i) out[i] = _mm512_min_epu32(pos[i], splat(cd.last));
}

NFJIT_AVX512 inline void scatterIntervals(const __m512i* ivd, size_t nd, __mmask16 lanes, uint32_t* iv, size_t stride) {
  const __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                        splat(uint32_t(stride)));
  for (size_t d = 0; d < nd; ++d) _mm512_mask_i32scatter_epi32(iv + d, lanes, at, ivd[d], 4);
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

// Per u64 lane, its lowest set bit alone (0 for zero).
NFJIT_AVX512 inline __m512i lowest(__m512i mask) {
  return _mm512_and_si512(mask, _mm512_sub_epi64(_mm512_setzero_si512(), mask));
}

// Per u64 lane holding one bit (or none), that bit's index (64 for none), as u32.
NFJIT_AVX512 inline __m256i bitIndex(__m512i bit) {
  const __m512i index = _mm512_sub_epi64(_mm512_set1_epi64(63), _mm512_lzcnt_epi64(bit));  // -1 for none
  return _mm512_cvtepi64_epi32(_mm512_min_epu64(index, _mm512_set1_epi64(64)));
}

// Lanes whose u64 mask (two halves) is not zero.
NFJIT_AVX512 inline __mmask16 nonZero(__m512i lo, __m512i hi) {
  return __mmask16(_mm512_test_epi64_mask(lo, lo) | (_mm512_test_epi64_mask(hi, hi) << 8));
}

// One vector of packets in the rounds below.
template <size_t ND>
struct Block {
  __mmask16 live, open, fallback;
  __m512i iv[ND];
  __m512i maskLo, maskHi;  // candidate groups, lanes 0-7 and 8-15
  __m512i lowLo, lowHi;    // the lowest of them
  __m512i g;               // its index
  __m512i row[ND], cls;
  __m512i result;
};

// V vectors of packets (m <= V * kLanes) through their cross products, each
// step's gathers for the V vectors issued together.
template <size_t ND, size_t V>
NFJIT_AVX512 uint64_t crossBlockAvx512(const Snapshot& s, const JitKey* keys, size_t m, unsigned rounds, int32_t* out,
                                       uint32_t* iv, size_t stride, uint32_t* resume) {
  const size_t ng = s.groups.size();
  const __m512i zero = _mm512_setzero_si512();
  Block<ND> b[V];
  __mmask16 live[V];
  for (size_t i = 0; i < V; ++i) live[i] = b[i].live = liveLanes(m > i * kLanes ? m - i * kLanes : 0);
  for (size_t d = 0; d < ND; ++d) {
    __m512i ivd[V];
    intervals<V>(s.dims[d], s.tries[d], keys, live, ivd);
    for (size_t i = 0; i < V; ++i) b[i].iv[d] = ivd[i];
  }

  const uint64_t valid = ng >= 64 ? ~uint64_t(0) : (uint64_t(1) << ng) - 1;
  for (Block<ND>& k : b) {
    k.maskLo = _mm512_maskz_set1_epi64(__mmask8(k.live), int64_t(valid));
    k.maskHi = _mm512_maskz_set1_epi64(__mmask8(k.live >> 8), int64_t(valid));
  }
  if (ng > 1)
    for (size_t d = 0; d < ND; ++d) {
      const uint64_t* gm = s.dims[d].gmask.data();
      for (Block<ND>& k : b) {
        k.maskLo = _mm512_and_si512(k.maskLo, _mm512_mask_i32gather_epi64(zero, __mmask8(k.live), lower(k.iv[d]), gm, 8));
        k.maskHi =
            _mm512_and_si512(k.maskHi, _mm512_mask_i32gather_epi64(zero, __mmask8(k.live >> 8), upper(k.iv[d]), gm, 8));
      }
    }
  for (Block<ND>& k : b) {
    k.result = splat(~uint32_t(0));  // -1: no rule
    k.open = nonZero(k.maskLo, k.maskHi);
    k.fallback = 0;
  }
  const __m512i crossMask = _mm512_set1_epi64(int64_t(s.crossMask));
  for (unsigned round = 0; round < rounds; ++round) {
    bool any = false;
    for (Block<ND>& k : b) {
      k.lowLo = lowest(k.maskLo);
      k.lowHi = lowest(k.maskHi);
      k.g = join(bitIndex(k.lowLo), bitIndex(k.lowHi));
      const __mmask16 withCross =
          __mmask16(_mm512_test_epi64_mask(k.lowLo, crossMask) | (_mm512_test_epi64_mask(k.lowHi, crossMask) << 8));
      k.fallback |= k.open & ~withCross;
      k.open &= withCross;
      any = any || k.open;
    }
    if (!any) break;
    if (ng == 1) {
      // One group: its steps' tables and widths are scalars, not per-lane
      // gathers as below (ipc1_1k 90 vs 75 Mpps through the general path).
      const CrossProduct& c = s.groups[0]->cross;
      for (size_t d = 0; d < ND; ++d)
        for (Block<ND>& k : b) k.row[d] = gather16(s.dims[d].local.data(), k.iv[d], k.open);
      for (Block<ND>& k : b) k.cls = k.row[c.order[0]];
      for (size_t j = 0; j + 1 < ND; ++j)
        for (Block<ND>& k : b) {
          const __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(k.cls, splat(c.width[j])), k.row[c.order[j + 1]]);
          k.cls = gather16(c.table[j].data(), idx, k.open);
        }
    } else {
      for (size_t d = 0; d < ND; ++d)
        for (Block<ND>& k : b)
          k.row[d] = gather16(s.dims[d].local.data(),
                              _mm512_add_epi32(_mm512_mullo_epi32(k.iv[d], splat(uint32_t(ng))), k.g), k.open);
      for (Block<ND>& k : b) k.cls = pick<ND>(k.row, gather32(s.crossOrder.data(), _mm512_slli_epi32(k.g, 3), k.open));
      for (size_t j = 0; j + 1 < ND; ++j)
        for (Block<ND>& k : b) {
          const __m512i slot = _mm512_add_epi32(_mm512_slli_epi32(k.g, 2), splat(uint32_t(j)));
          const __m512i width = gather32(s.crossWidth.data(), slot, k.open);
          const __m512i order = _mm512_add_epi32(_mm512_slli_epi32(k.g, 3), splat(uint32_t(j + 1)));
          const __m512i next = pick<ND>(k.row, gather32(s.crossOrder.data(), order, k.open));
          k.cls = gatherTables(s.crossTable.data(), slot, _mm512_add_epi32(_mm512_mullo_epi32(k.cls, width), next), k.open);
        }
    }
    for (Block<ND>& k : b) {
      const __mmask16 none = _mm512_mask_cmpeq_epi32_mask(k.open, k.cls, splat(CrossProduct::kNoRule));
      const __mmask16 hit = k.open & ~none;
      const __m512i rule = ng == 1 ? k.cls : _mm512_add_epi32(k.cls, gather32(s.start.data(), k.g, hit));
      const __m512i word = gather32(s.cleanBits.data(), _mm512_srli_epi32(rule, 5), hit);
      const __mmask16 clean =
          _mm512_mask_test_epi32_mask(hit, _mm512_srlv_epi32(word, _mm512_and_si512(rule, splat(31))), splat(1));
      k.result = _mm512_mask_mov_epi32(k.result, clean, rule);
      k.fallback |= hit & ~clean;  // the rule needs its residual check
      // No rule in this group: on to the next candidate group.
      k.maskLo = _mm512_mask_xor_epi64(k.maskLo, __mmask8(none), k.maskLo, k.lowLo);
      k.maskHi = _mm512_mask_xor_epi64(k.maskHi, __mmask8(none >> 8), k.maskHi, k.lowHi);
      k.open = none & nonZero(k.maskLo, k.maskHi);
    }
  }
  uint64_t fallback = 0;
  for (size_t i = 0; i < V; ++i) {
    Block<ND>& k = b[i];
    k.fallback |= k.open;
    _mm512_mask_storeu_epi32(out + i * kLanes, k.live, k.result);
    if (k.fallback) {
      scatterIntervals(k.iv, ND, k.fallback, iv + i * kLanes * stride, stride);
      _mm512_mask_storeu_epi32(resume + i * kLanes, k.fallback,
                               join(bitIndex(lowest(k.maskLo)), bitIndex(lowest(k.maskHi))));
    }
    fallback |= uint64_t(k.fallback) << (i * kLanes);
  }
  return fallback;
}

// Per u64 lane, its number of set bits (nibble lookups and byte sums:
// AVX512BW, no VPOPCNTDQ needed).
NFJIT_AVX512 inline __m512i popcount64(__m512i v) {
  const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, nibble));
  const __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi64(v, 4), nibble));
  return _mm512_sad_epu8(_mm512_add_epi8(lo, hi), _mm512_setzero_si512());
}

// 8 lanes: pointer table[slot] plus index * scale, as u64 addresses.
template <class T>
NFJIT_AVX512 inline __m512i addresses(const T* const* table, __m256i slot, __m256i index, __mmask8 live) {
  const __m512i ptr = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), live, slot, table, 8);
  return _mm512_add_epi64(ptr, _mm512_mullo_epi64(_mm512_cvtepu32_epi64(index), _mm512_set1_epi64(sizeof(T))));
}
NFJIT_AVX512 inline __m512i load64(__m512i at, __mmask8 live) {
  return _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), live, at, nullptr, 1);
}

// One half (8 lanes) of a vector in packedBlockAvx512's rounds: the group's
// rows (per dimension, `row`), the AND of their summaries, and where there
// is a candidate word, the AND of that word's rows. Returns the lanes with
// a candidate word, `bits` the AND and `word` its index (u32).
template <size_t ND>
NFJIT_AVX512 inline __mmask8 firstWord(const Snapshot& s, __m256i g, const __m256i* row, __mmask8 live, __m512i& bits,
                                       __m256i& word) {
  __m256i slot[ND];
  __m512i sum[ND], sb = _mm512_set1_epi64(-1);
  for (size_t d = 0; d < ND; ++d) {
    slot[d] = _mm256_add_epi32(_mm256_mullo_epi32(g, _mm256_set1_epi32(int(kMaxDims))), _mm256_set1_epi32(int(d)));
    sum[d] = load64(addresses(s.packedSums.data(), slot[d], row[d], live), live);
    sb = _mm512_and_si512(sb, sum[d]);
  }
  const __mmask8 any = _mm512_mask_test_epi64_mask(live, sb, sb);
  const __m512i below = _mm512_sub_epi64(lowest(sb), _mm512_set1_epi64(1));
  word = bitIndex(lowest(sb));
  bits = _mm512_set1_epi64(-1);
  for (size_t d = 0; d < ND; ++d) {
    const __m256i start = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), any,
                                                      addresses(s.packedStart.data(), slot[d], row[d], any), nullptr, 1);
    const __m512i at = _mm512_add_epi64(_mm512_cvtepu32_epi64(start), popcount64(_mm512_and_si512(sum[d], below)));
    const __m512i ptr = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), any, slot[d], s.packedRows.data(), 8);
    bits = _mm512_and_si512(bits, load64(_mm512_add_epi64(ptr, _mm512_slli_epi64(at, 3)), any));
  }
  return any;
}

// V vectors of a packed chain's packets: rounds over each packet's candidate
// groups in rule order. A group whose rows' summaries do not intersect is
// skipped; otherwise its first candidate word decides: its lowest rule
// settles the packet when it needs no residual check, anything else (a
// residual check, an empty word) is left to the scalar search from that group.
template <size_t ND, size_t V>
NFJIT_AVX512 uint64_t packedBlockAvx512(const Snapshot& s, const JitKey* keys, size_t m, int32_t* out, uint32_t* iv,
                                        size_t stride, uint32_t* resume) {
  constexpr unsigned kRounds = 4;
  const size_t ng = s.groups.size();
  const __m512i zero = _mm512_setzero_si512();
  __mmask16 live[V], open[V], fallback[V];
  __m512i ivs[V][ND], maskLo[V], maskHi[V], result[V];
  for (size_t i = 0; i < V; ++i) live[i] = liveLanes(m > i * kLanes ? m - i * kLanes : 0);
  for (size_t d = 0; d < ND; ++d) {
    __m512i ivd[V];
    intervals<V>(s.dims[d], s.tries[d], keys, live, ivd);
    for (size_t i = 0; i < V; ++i) ivs[i][d] = ivd[i];
  }
  const uint64_t valid = ng >= 64 ? ~uint64_t(0) : (uint64_t(1) << ng) - 1;
  for (size_t i = 0; i < V; ++i) {
    maskLo[i] = _mm512_maskz_set1_epi64(__mmask8(live[i]), int64_t(valid));
    maskHi[i] = _mm512_maskz_set1_epi64(__mmask8(live[i] >> 8), int64_t(valid));
  }
  for (size_t d = 0; d < ND; ++d) {
    const uint64_t* gm = s.dims[d].gmask.data();
    for (size_t i = 0; i < V; ++i) {
      const __m512i lo = _mm512_mask_i32gather_epi64(zero, __mmask8(live[i]), lower(ivs[i][d]), gm, 8);
      const __m512i hi = _mm512_mask_i32gather_epi64(zero, __mmask8(live[i] >> 8), upper(ivs[i][d]), gm, 8);
      maskLo[i] = _mm512_and_si512(maskLo[i], lo);
      maskHi[i] = _mm512_and_si512(maskHi[i], hi);
    }
  }
  for (size_t i = 0; i < V; ++i) {
    result[i] = splat(~uint32_t(0));
    open[i] = nonZero(maskLo[i], maskHi[i]);
    fallback[i] = 0;
  }
  for (unsigned round = 0; round < kRounds; ++round) {
    bool any = false;
    for (size_t i = 0; i < V; ++i) any = any || open[i];
    if (!any) break;
    __m512i g[V], row[V][ND];
    for (size_t i = 0; i < V; ++i) g[i] = join(bitIndex(lowest(maskLo[i])), bitIndex(lowest(maskHi[i])));
    for (size_t d = 0; d < ND; ++d)
      for (size_t i = 0; i < V; ++i)
        row[i][d] = gather16(s.dims[d].local.data(),
                             _mm512_add_epi32(_mm512_mullo_epi32(ivs[i][d], splat(uint32_t(ng))), g[i]), open[i]);
    for (size_t i = 0; i < V; ++i) {
      __m256i rowLo[ND], rowHi[ND];
      for (size_t d = 0; d < ND; ++d) rowLo[d] = lower(row[i][d]), rowHi[d] = upper(row[i][d]);
      __m512i bitsLo, bitsHi;
      __m256i wordLo, wordHi;
      const __mmask8 candLo = firstWord<ND>(s, lower(g[i]), rowLo, __mmask8(open[i]), bitsLo, wordLo);
      const __mmask8 candHi = firstWord<ND>(s, upper(g[i]), rowHi, __mmask8(open[i] >> 8), bitsHi, wordHi);
      const __mmask16 cand = __mmask16(candLo | (candHi << 8));
      const __mmask16 hit = cand & nonZero(bitsLo, bitsHi);
      const __m512i local = _mm512_add_epi32(_mm512_slli_epi32(join(wordLo, wordHi), 6),
                                             join(bitIndex(lowest(bitsLo)), bitIndex(lowest(bitsHi))));
      const __m512i rule = _mm512_add_epi32(local, gather32(s.start.data(), g[i], hit));
      const __m512i clean = gather32(s.cleanBits.data(), _mm512_srli_epi32(rule, 5), hit);
      const __mmask16 settled =
          _mm512_mask_test_epi32_mask(hit, _mm512_srlv_epi32(clean, _mm512_and_si512(rule, splat(31))), splat(1));
      result[i] = _mm512_mask_mov_epi32(result[i], settled, rule);
      fallback[i] |= cand & ~settled;  // a residual check, or an empty first word
      // No candidate word in this group: on to the next candidate group.
      const __mmask16 none = open[i] & ~cand;
      maskLo[i] = _mm512_mask_xor_epi64(maskLo[i], __mmask8(none), maskLo[i], lowest(maskLo[i]));
      maskHi[i] = _mm512_mask_xor_epi64(maskHi[i], __mmask8(none >> 8), maskHi[i], lowest(maskHi[i]));
      open[i] = none & nonZero(maskLo[i], maskHi[i]);
    }
  }
  uint64_t left = 0;
  for (size_t i = 0; i < V; ++i) {
    fallback[i] |= open[i];
    _mm512_mask_storeu_epi32(out + i * kLanes, live[i], result[i]);
    if (fallback[i]) {
      scatterIntervals(ivs[i], ND, fallback[i], iv + i * kLanes * stride, stride);
      _mm512_mask_storeu_epi32(resume + i * kLanes, fallback[i],
                               join(bitIndex(lowest(maskLo[i])), bitIndex(lowest(maskHi[i]))));
    }
    left |= uint64_t(fallback[i]) << (i * kLanes);
  }
  return left;
}

}  // namespace

uint64_t packedBlock(const Snapshot& s, const JitKey* keys, size_t m, int32_t* out, uint32_t* iv, size_t stride,
                     uint32_t* resume) {
  switch (s.dims.size()) {
    case 2: return packedBlockAvx512<2, kBlockVectors>(s, keys, m, out, iv, stride, resume);
    case 3: return packedBlockAvx512<3, kBlockVectors>(s, keys, m, out, iv, stride, resume);
    case 4: return packedBlockAvx512<4, kBlockVectors>(s, keys, m, out, iv, stride, resume);
    default: return packedBlockAvx512<5, kBlockVectors>(s, keys, m, out, iv, stride, resume);
  }
}

uint64_t crossBlock(const Snapshot& s, const JitKey* keys, size_t m, unsigned rounds, int32_t* out, uint32_t* iv,
                    size_t stride, uint32_t* resume) {
  switch (s.dims.size()) {
    case 2: return crossBlockAvx512<2, kBlockVectors>(s, keys, m, rounds, out, iv, stride, resume);
    case 3: return crossBlockAvx512<3, kBlockVectors>(s, keys, m, rounds, out, iv, stride, resume);
    case 4: return crossBlockAvx512<4, kBlockVectors>(s, keys, m, rounds, out, iv, stride, resume);
    default: return crossBlockAvx512<5, kBlockVectors>(s, keys, m, rounds, out, iv, stride, resume);
  }
}

}  // namespace nfjit::jit::simd

#else  // not x86-64: the scalar search only

namespace nfjit::jit::simd {
bool available() { return false; }
uint64_t crossBlock(const Snapshot&, const JitKey*, size_t, unsigned, int32_t*, uint32_t*, size_t, uint32_t*) {
  return 0;  // never called: Snapshot::simd stays false
}
uint64_t packedBlock(const Snapshot&, const JitKey*, size_t, int32_t*, uint32_t*, size_t, uint32_t*) { return 0; }
}  // namespace nfjit::jit::simd

#endif
