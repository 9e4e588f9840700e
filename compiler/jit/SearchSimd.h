// The batch search in AVX-512, 16 packets per vector: each trie level,
// binary-search probe, row and cross-product step is one gather for the 16
// packets instead of 16 scalar chains of loads and shifts.
// ChainSearch::findBatch uses crossBlock when Snapshot::simdCross is set
// (the CPU has AVX-512 F/BW/VL/DQ/CD, the layout did not turn it off, and
// the groups have cross products), packedBlock when Snapshot::simdPacked is
// (every group has packed rows); the scalar search remains the reference
// and handles whatever a block leaves open. Vector intervals alone, before
// the scalar rounds, had measured 10-15% slower on packed chains: their
// gain is in the rounds (acl1_100k 6.9-7.6 vs 5.3-5.8 Mpps).
#pragma once
#include <cstddef>
#include <cstdint>

#include "compiler/jit/Key.h"

namespace nfjit::jit {

struct Snapshot;

namespace simd {

constexpr size_t kLanes = 16;
// Vectors crossBlock handles at once: their gathers overlap each other's misses.
constexpr size_t kBlockVectors = 4;
constexpr size_t kBlockPackets = kLanes * kBlockVectors;
static_assert(kBlockPackets <= 64);  // crossBlock returns a u64 lane mask

// Whether this CPU runs the kernels below.
bool available();

// One block of m <= kBlockPackets packets of a snapshot with simdCross set, through
// its groups' cross products for up to `rounds` groups per packet. Sets
// out[p] for the packets it settles and returns the mask of the others,
// with their intervals in iv[p * stride + d] and in resume[p] the group to
// go on from (64: past the first mask word).
uint64_t crossBlock(const Snapshot& s, const JitKey* keys, size_t m, unsigned rounds, int32_t* out, uint32_t* iv,
                    size_t stride, uint32_t* resume);

// One block of a snapshot with simdPacked set: each packet's first candidate
// group, its first candidate word, and the lowest rule in it when that rule
// needs no residual check. Same contract as crossBlock.
uint64_t packedBlock(const Snapshot& s, const JitKey* keys, size_t m, int32_t* out, uint32_t* iv, size_t stride,
                     uint32_t* resume);

}  // namespace simd
}  // namespace nfjit::jit
