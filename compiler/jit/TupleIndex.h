// A tuple-space index of a large IPv4 chain, searched instead of its packed
// rows. Each rule goes into one hash table keyed by its source and
// destination prefixes, cut to one of a few lengths (a /31 keyed as a /22
// when the cuts are 0, 11 and 22), so that a handful of tables hold every
// rule; a bucket lists its rules in order with their field ranges. A lookup
// probes the tables in the order of their first rule and stops at the first
// table whose first rule comes after the best match found so far.
//
// The cuts are chosen per chain among a few candidate sets by a cost model
// (tables probed plus the rule-weighted mean bucket length). On ClassBench's
// 100k sets this probes 1 to 4 tables per packet and checks 1 to 2 rules,
// where the packed rows visit 1 to 3 groups of five row lookups each.
//
// Candidates are found out of rule order, so only rules whose residual is
// pure (key tests, no match() callback) may be indexed: a callback's side
// effects must happen in rule order and only for rules the packet reaches.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "compiler/jit/Key.h"
#include "compiler/jit/Lower.h"

namespace nfjit::jit {

struct Group;
struct Snapshot;

class TupleIndex {
 public:
  // Past this many rules in one bucket a cut set is not used (a chain of
  // rules differing only in ports would scan them all).
  static constexpr uint32_t kMaxBucket = 4095;

  // Null when the chain does not suit the index: not IPv4, a rule with a
  // match() callback, or no cut set within kMaxBucket.
  // `cutSet`: the candidate cut set to try alone first (an update keeps the
  // one its chain's index had, instead of placing every rule under each).
  static std::shared_ptr<const TupleIndex> build(const Snapshot& s, int cutSet = -1);
  int cutSet() const { return cutSet_; }
  // Whether the index may hold the rule: its residual is pure (key tests only).
  static bool admits(const LoweredRule& r) { return r.plan.callbackFrom == kNoCallback; }

  // The first rule at or after `from` that matches, or -1.
  int32_t find(const Snapshot& s, const JitKey& k, uint32_t from, void* rt) const;
  // find(keys[i], 0) for i < n, table-major over the batch so that the
  // probes of different packets overlap.
  void findBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt) const;

  size_t bytes() const;
  size_t tables() const { return tables_.size(); }

  // A rule in its bucket: global index, the hull of each field's values,
  // and flags; 32 bytes, two to a cache line. Aligned so that none straddles
  // two lines: malloc's 16-byte alignment put every other entry across two
  // (acl1_100k: 38-41 against 48-50 Mpps, depending on where the heap put them).
  struct alignas(32) Entry {
    uint32_t rule;
    uint32_t srcLo, srcHi, dstLo, dstHi;
    uint16_t sportLo, sportHi, dportLo, dportHi;
    uint8_t protoLo, protoHi;
    uint8_t flags;  // kClean: no residual; kHoles: a field admits less than its hull
    uint8_t pad;
  };
  static constexpr uint32_t kClean = 1, kHoles = 2;

 private:
  // A bucket: a fingerprint of its key (a false positive only scans rules
  // whose hulls then fail) and its entries, entries_[first, first + count)
  // packed as first | count << kCountShift; 0: an empty slot. 8 bytes, so
  // that the slots of the 100k sets stay within a few MB.
  struct Slot {
    uint32_t fingerprint;
    uint32_t span;
  };
  static constexpr unsigned kCountShift = 20;  // entries below 2^20, buckets below 2^12
  struct Table {
    uint32_t srcMask, dstMask, minRule, maxRule;
    uint64_t fingerprintMul;
    // Bit (fingerprint >> filterShift): some key of the table has it. About
    // 16 bits per key, so that most probes of absent keys (most probes)
    // end in a few cached KB instead of a slot's cache miss.
    unsigned filterShift;
    std::vector<uint64_t> filter;
    unsigned shift;       // 64 - log2(slots)
    uint32_t slotMask;
    std::vector<Slot> slots;
  };

  // A table's key: the source and destination cut to its prefix lengths (the
  // build and the lookups form it alike).
  static uint64_t keyOf(uint32_t src, uint32_t dst) { return uint64_t(src) << 32 | dst; }
  // Where a slot's bucket starts in entries_.
  static uint32_t firstEntry(uint32_t span) { return span & ((uint32_t(1) << kCountShift) - 1); }
  static uint64_t hash(uint64_t key, unsigned shift) { return (key * 0x9e3779b97f4a7c15ull) >> shift; }
  // Distinct for the keys of one table (build() picks the multiplier), so
  // that the first slot with the packet's fingerprint is its key's, if any.
  static uint32_t fingerprint(uint64_t key, uint64_t mul) { return uint32_t((key * mul) >> 32); }
  // The span of the bucket whose fingerprint is `fp`, probing from slot `at`; 0: none.
  static uint32_t probe(const Table& t, uint64_t at, uint32_t fp);
  int32_t scan(const Snapshot& s, uint32_t span, const JitKey& k, const uint32_t* v, uint32_t from,
               uint32_t below, void* rt) const;

  std::vector<Table> tables_;  // by first rule
  std::vector<Entry> entries_;
  int cutSet_ = -1;  // into the candidate cut sets (TupleIndex.cpp)
};

}  // namespace nfjit::jit
