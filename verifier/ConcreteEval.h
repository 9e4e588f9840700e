// Evaluating the lowered conditions on one concrete packet without Z3's
// model evaluation: each condition is compiled once into a flat program of
// bit-vector operations (values up to 128 bits) and run over the packet's
// fields. The concrete search asks this tens of thousands of times per
// -Wconflict run on large rulesets, where z3::model::eval dominated.
#pragma once
#include <z3++.h>

#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "verifier/Box.h"

namespace nfjit::verifier {

class ConcreteEval {
 public:
  // `fields`: the constants whose values eval() receives, in this order.
  explicit ConcreteEval(std::vector<z3::expr> fields);
  // The condition's value with the fields set to `values` (same order), each
  // Boolean constant to `boolVar(its id)` and any other constant to 0 (what
  // a completed model gives them). None when the condition uses an
  // operation this evaluator does not know: ask Z3 then.
  std::optional<bool> eval(const z3::expr& cond, const std::vector<u128>& values,
                           const std::function<bool(unsigned)>& boolVar);

 private:
  enum class Op : uint8_t {
    Num, Field, BoolVar, Zero, Not, And, Or, Xor, Iff, Implies, Ite, Eq, Distinct, Ule, Ult, Uge, Ugt,
    Sle, Slt, Sge, Sgt, BAnd, BOr, BXor, BNot, BNeg, Add, Sub, Mul, Shl, Lshr, Concat, Extract, ZeroExt, SignExt
  };
  struct Node {
    Op op;
    unsigned width = 0;    // bits; 1 for Booleans
    unsigned argBegin = 0, argCount = 0;
    u128 imm = 0;          // Num: value; Field: index; BoolVar: id; Extract: lo
  };
  struct Program {
    bool ok = true;
    std::vector<Node> nodes;  // operands before their users; the last is the root
    std::vector<unsigned> args;
  };
  Program compile(const z3::expr& cond) const;
  std::unordered_map<unsigned, unsigned> fieldIndex_;  // ast id -> field
  std::unordered_map<unsigned, Program> programs_;     // by the condition's ast id
  std::vector<z3::expr> keep_;                         // the compiled conditions stay alive (ids stay theirs)
  std::vector<u128> scratch_;
};

}  // namespace nfjit::verifier
