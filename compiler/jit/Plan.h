// The classifier plan: what the code generator emits, computed without
// LLVM. Per chain, the lowered dimensions with their interval tables and
// bitset rows, and per rule the residual tests and the callback point.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir/Ruleset.h"
#include "compiler/jit/Key.h"

namespace nfjit::jit {

// One field looked up per packet: value -> interval -> bitset row.
struct Dimension {
  std::string name;
  unsigned keyOffset = 0;        // byte offset of the u32 field in JitKey
  bool direct = false;           // rowOf is indexed by the value itself (small fields)
  std::vector<uint64_t> bounds;  // sorted interval starts, padded to 2^k-1 with 2^32 (binary search)
  std::vector<uint32_t> rowOf;   // per interval (or per value when direct): row index
  std::vector<uint64_t> rows;    // rowCount * words, bit r = rule r admits the interval
  size_t rowCount = 0;
  std::vector<uint64_t> sums;    // rowCount * summaryWords: bit w = word w of the row is non-zero
  unsigned searchSteps = 0;      // log2(bounds.size() + 1)
};

// A pure test on the key: (all words (k[w] & mask) == value) != invert,
// or for Bit64: ((k64 & mask64) != 0) != invert.
struct KeyTest {
  enum class Kind : uint8_t { WordsEq, Bit64 } kind = Kind::WordsEq;
  unsigned offset = 0;
  std::vector<std::pair<uint32_t, uint32_t>> maskValue;  // WordsEq, consecutive u32 words
  uint64_t mask64 = 0;                                   // Bit64
  bool invert = false;
};

constexpr int32_t kNoCallback = -2;  // every match lowered
constexpr int32_t kWholeRule = -1;   // nothing lowered: the callback checks the IP header too

struct RulePlan {
  std::vector<KeyTest> tests;         // checked on each candidate
  int32_t callbackFrom = kNoCallback; // first match evaluated by match(), in order
  bool clean() const { return tests.empty() && callbackFrom == kNoCallback; }
};

struct ChainPlan {
  size_t table = 0, chain = 0;
  uint32_t id = 0;      // global chain id (callback argument)
  uint32_t rules = 0;
  uint32_t words = 0;   // 64-bit words per bitset row
  uint32_t summaryWords = 0;  // words of the per-row summaries (aggregated bit vectors)
  std::vector<Dimension> dims;
  std::vector<uint64_t> cleanRow;  // bit r: candidate r matches without further tests
  std::vector<uint64_t> allRow;    // bit r set for every rule (chains without dimensions)
  std::vector<uint64_t> allSum;    // its summary
  std::vector<RulePlan> rulePlans;
};

class Plan {
 public:
  Plan(const Ruleset& rs);
  Family family;
  IfacePatterns ifaces;
  std::vector<ChainPlan> chains;  // every chain of every table, in order
  size_t loweredRules = 0, callbackMatches = 0;
  size_t tableBytes() const;
  size_t intervals() const;
  size_t rowCount() const;
  size_t dimensionCount() const;
};

}  // namespace nfjit::jit
