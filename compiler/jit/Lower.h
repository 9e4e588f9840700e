// A rule as the JIT sees it: per packet field the set of values it admits
// (intervals), and what the intervals cannot express (RulePlan: key tests
// on each candidate, then match() callbacks from some match on).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "compiler/ir/Ruleset.h"
#include "compiler/jit/Key.h"

namespace nfjit::jit {

struct Iv {
  uint64_t lo, hi;
};
// nullopt: the rule does not constrain the field.
using FieldSet = std::optional<std::vector<Iv>>;

enum Field { kSrc, kDst, kProto, kSport, kDport, kFields };
struct FieldInfo {
  const char* name;
  unsigned offset;  // of the u32 in JitKey
  uint64_t max;
};
extern const FieldInfo kFieldInfo[kFields];

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
  std::vector<KeyTest> tests;          // checked on each candidate
  int32_t callbackFrom = kNoCallback;  // first match evaluated by match(), in order
  bool clean() const { return tests.empty() && callbackFrom == kNoCallback; }
};

struct LoweredRule {
  FieldSet fields[kFields];
  RulePlan plan;
};

// `ifaces` collects the interface patterns (bits of JitKey::inMask/outMask);
// `callbacks` counts the matches left to match().
LoweredRule lowerRule(Family f, const Rule& r, IfacePatterns& ifaces, size_t& callbacks);

// The KeyTests of a plan on a key (the data-driven form of the generated residual code).
bool keyTestsHold(const std::vector<KeyTest>& tests, const JitKey& k);

}  // namespace nfjit::jit
