// The search of one chain: "first rule at or after `from` whose matches
// hold". Rules are partitioned, in order, into groups of at most
// `groupRules` (G); each group is a bit-vector search over its own rules:
// rows of G bits, so for N rules the rows take about N * G / 4 bytes per
// field instead of N^2 / 4, plus 2 bytes per interval and group for the
// per-interval tables. Per field, a multibit trie (IntervalTrie) over the
// boundaries of the whole chain gives the packet's global interval (a
// branchless binary search where the trie would be too large); per interval a
// bitmask says which groups can hold a candidate and, per group, which of
// its rows applies. Groups are visited in rule order: the first with a
// match wins.
//
// The structure is an immutable Snapshot; insert() and erase() rebuild the
// one group that changes and the per-interval tables, and publish a new
// Snapshot atomically while readers keep searching the old one (freed
// through an EpochDomain once they have left it).
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "compiler/jit/CrossProduct.h"
#include "compiler/jit/Epoch.h"
#include "compiler/jit/IntervalTrie.h"
#include "compiler/jit/Lower.h"

namespace nfjit::jit {

// Generated (or data-driven) residual check of one group's rule `local`:
// 1 matched, 0 not, 2 hotdrop.
using ResidualFn = int32_t (*)(const JitKey*, uint32_t local, void* rt);
// The callback for rules of groups without native residual code:
// evaluates `rule` from match `from` (kWholeRule: the IP header first).
using RuleCallback = int32_t (*)(void* rt, const Rule* rule, int32_t from);

constexpr unsigned kMaxDims = kFields;

// Group sizes the search supports: 64..4096 (row indexes are u16).
uint32_t clampGroupRules(uint32_t groupRules);

// How one chain's search is laid out.
struct ChainLayout {
  uint32_t groupRules = 2048;  // rules per group (clamped to 64..4096)
  bool packRows = false;       // keep only the rows' non-zero words (see Group)
  // Entries (u16) a group's cross-product tables may take; 0: none. Dense
  // rows only (packed groups are the large chains, whose products outgrow
  // any budget).
  size_t crossEntries = 0;
  // An update rebuilds a group's cross product itself when the old one had
  // at most this many entries, else leaves it to a background thread.
  size_t updateCrossEntries = 0;
  bool simd = true;  // the AVX-512 batch search where the CPU has it (SearchSimd.h)
  // Chains with packed rows are searched through a TupleIndex where it applies.
  bool tupleIndex = true;
  // Non-zero: the cross products of all groups together may take at most
  // this many entries; past it the chain is built again with packed rows in
  // groups of packedGroupRules, without cross products.
  size_t chainCrossEntries = 0;
  uint32_t packedGroupRules = 4096;
};

struct Group {
  uint32_t size = 0, words = 0, sumWords = 0;
  unsigned dims = 0;  // the chain's dimensions when the group was built
  // Per dimension of the chain: the group's own interval starts and the row
  // of each of its intervals (used to build the chain's per-interval table),
  // its distinct rows (words each) with their summaries, and whether a row
  // has any bit set.
  std::vector<uint64_t> bounds[kMaxDims];
  std::vector<uint32_t> rowOf[kMaxDims];
  // Packed groups keep only the rows' non-zero words (row r from
  // rowStart[d][r]; the summary says which words those are), others every
  // word (row r at r * words).
  std::vector<uint64_t> rows[kMaxDims], sums[kMaxDims];
  std::vector<uint32_t> rowStart[kMaxDims];
  bool packed = false;
  std::vector<uint8_t> nonEmpty[kMaxDims];
  std::vector<uint64_t> all, allSum;  // every rule (chains without dimensions)
  std::vector<uint64_t> clean;        // bit: the rule needs no residual check
  std::vector<std::shared_ptr<const LoweredRule>> lowered;  // shared between versions, for rebuilds
  std::vector<const Rule*> rules;     // for callbacks
  std::vector<std::shared_ptr<const Rule>> owned;  // rules inserted by updates
  ResidualFn native = nullptr;        // generated residual code, or null: data-driven
  CrossProduct cross;                 // the exact first rule from the rows, where built
  size_t bytes() const;
};

struct ChainDim {
  Field field;
  unsigned keyOffset;
  bool direct;                    // the value is the interval index (proto)
  IntervalTrie trie;              // the value's interval, unless empty (too large): then bounds
  std::vector<uint32_t> bounds;   // interval starts, padded with 0xffffffff for the search's last probe
  unsigned steps = 0;             // the search's probes
  // Where a trie would be too large: per block of values (the top bits,
  // value >> radixShift), the number of bounds before the block, where the
  // search starts (`steps` then covers the fullest block, not all bounds).
  std::vector<uint32_t> radix;
  unsigned radixShift = 0;
  uint32_t searchStart(uint32_t v) const { return radix.empty() ? 0 : radix[v >> radixShift]; }
  uint32_t intervals = 0;         // rows of the tables below
  uint32_t last = 0;              // the last interval (searches clamp to it)
  std::vector<uint16_t> local;    // [interval * groups + g]: the group's row
  std::vector<uint64_t> gmask;    // [interval * maskWords + w]: groups with a non-empty row
};

class TupleIndex;

struct Snapshot {
  uint32_t rules = 0, maskWords = 0;
  uint32_t crossGroups = 0;  // groups with a cross product (the batch search then uses them)
  Family family = Family::IPv4;
  RuleCallback callback = nullptr;
  std::vector<ChainDim> dims;
  std::vector<std::shared_ptr<const Group>> groups;
  std::vector<uint32_t> start;  // first rule of each group, plus the total at the end
  // For the vector batch search (SearchSimd.h): whether the CPU and the
  // layout allow it, and whether it applies (cross products, every one over
  // all dimensions, one mask word); per group the cross products' steps as
  // flat arrays, and per rule of the chain its clean bit.
  bool simd = false, simdCross = false;
  std::vector<IntervalTrie::View> tries;    // per dimension
  uint64_t crossMask = 0;                   // groups with a cross product
  std::vector<const uint16_t*> crossTable;  // [g * 4 + k]: step k's table
  std::vector<uint32_t> crossWidth;         // [g * 4 + k]
  std::vector<uint32_t> crossOrder;         // [g * 8 + k]
  std::vector<uint32_t> cleanBits;          // bit start[g] + local: no residual check
  // Packed chains (every group packed, one summary word per row): per group
  // and dimension ([g * kMaxDims + d]) the summaries, row starts and words.
  bool simdPacked = false;
  std::vector<const uint64_t*> packedSums, packedRows;
  std::vector<const uint32_t*> packedStart;
  // Packed chains that suit it (TupleIndex.h) are searched through this instead.
  std::shared_ptr<const TupleIndex> tuples;
  // The group holding rule position `pos` (the last group for pos == rules).
  size_t groupOf(uint32_t pos) const {
    return size_t(std::upper_bound(start.begin(), start.end(), pos) - start.begin()) - 1;
  }
  size_t bytes() const;
};

struct ChainSearchStats {
  size_t groups = 0, dims = 0, intervals = 0, rows = 0, bytes = 0;
  size_t crossGroups = 0, crossEntries = 0;
  bool vector = false;  // the batch search runs in AVX-512 (cross products or packed rows)
  bool packed = false;  // packed rows (a large chain)
  size_t tupleTables = 0;  // tables of its TupleIndex (0: none)
};

// The residual check of rule `local` of group g: 1 matched, 0 not, 2 hotdrop.
int32_t groupResidual(const Snapshot& s, const Group& g, uint32_t local, const JitKey& k, void* rt);

class ChainSearch {
 public:
  // `rules[i]` is rule i of the chain, `lowered[i]` its lowering.
  ChainSearch(Family f, std::vector<LoweredRule> lowered, const std::vector<const Rule*>& rules, ChainLayout layout,
              RuleCallback callback, EpochDomain& epochs);
  ~ChainSearch();

  // Lock-free; the caller is inside a ReadSection of `epochs` (or no update runs concurrently).
  const Snapshot* current() const { return cur_.load(std::memory_order_seq_cst); }
  static int32_t find(const Snapshot& s, const JitKey& k, uint32_t from, void* rt);
  // find(keys[i], 0) for i < n, interleaved for memory-level parallelism.
  static void findBatch(const Snapshot& s, const JitKey* keys, size_t n, int32_t* out, void* rt);

  // Attaches generated residual code to group g of the current snapshot (before any reader runs).
  void setNative(size_t g, ResidualFn fn);

  // Updates, serialised by a mutex; readers are not blocked. Rules at and
  // after `pos` move by one. A rebuilt group whose cross product is too
  // large to rebuild within the update gets it from a background thread,
  // which publishes it as one more snapshot.
  void insert(uint32_t pos, LoweredRule lowered, std::shared_ptr<const Rule> rule);
  void erase(uint32_t pos);
  // Waits until the background thread has no cross product left to build.
  void settle();

  ChainSearchStats stats() const;
  // The layout the chain was built with (packed rows when it outgrew chainCrossEntries).
  uint32_t groupRules() const { return groupRules_; }
  bool packedRows() const { return packRows_; }

 private:
  std::shared_ptr<Snapshot> assemble(std::vector<std::shared_ptr<const Group>> groups) const;
  void vectorTables(Snapshot& s) const;
  void publish(std::shared_ptr<Snapshot> s);
  size_t updateCrossBudget(const Group* old) const;
  // Queues the groups (just published) that should have a cross product but lack one.
  void crossLater(const std::vector<std::shared_ptr<const Group>>& groups);
  void crossWorker();

  Family family_;
  bool packRows_ = false;
  bool simd_ = false;
  bool tupleIndex_ = true;
  uint32_t groupRules_;
  RuleCallback callback_;
  std::vector<Field> fields_;  // the dimensions (fields any rule constrains)
  size_t crossEntries_ = 0;  // budget per group at construction
  size_t updateCrossEntries_ = 0;
  EpochDomain& epochs_;
  std::mutex update_;
  std::shared_ptr<Snapshot> owner_;  // keeps the current snapshot alive
  std::atomic<const Snapshot*> cur_{nullptr};

  std::mutex crossMutex_;
  std::condition_variable crossCv_;
  std::deque<std::weak_ptr<const Group>> crossQueue_;  // expired: replaced meanwhile, skipped
  bool crossStop_ = false, crossBusy_ = false;
  std::thread crossThread_;
};

}  // namespace nfjit::jit
