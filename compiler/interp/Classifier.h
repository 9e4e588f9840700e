// What the packet path needs from a classifier engine: the traversal of one
// table's chains at one hook, and the per-rule counters. The reference
// interpreter and the JIT both implement it, with identical results.
#pragma once
#include <string_view>

#include "compiler/ir/Extension.h"

namespace nfjit {

class CounterSet;
struct TraversalResult;

class Classifier {
 public:
  virtual ~Classifier() = default;
  virtual TraversalResult run(std::string_view table, Hook hook, EvalContext& ctx) = 0;
  virtual CounterSet& counters() = 0;
};

}  // namespace nfjit
