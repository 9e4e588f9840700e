// LLVM IR for the residual checks: per group of a chain that has rules the
// search cannot decide alone (key tests, match() callbacks), one function
//   i32 nfjit_chain_<id>_g<k>(ptr key, i32 local, ptr rt)
// returning 1 matched, 0 not, 2 hotdrop for the group's rule `local`.
// Groups are consecutive runs of groupRules rules (as ChainSearch builds them).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "compiler/jit/Plan.h"

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
}  // namespace llvm

namespace nfjit::jit {

constexpr const char* kCallbackName = "nfjit_rt_match";

// The callback generated code makes for matches left to their match():
// evaluates rule `rule` of chain `chain` from match `from` (-1: the IP
// header first) and returns 1 matched, 0 not, 2 hotdrop.
extern "C" int32_t nfjit_rt_match(void* rt, uint32_t chain, uint32_t rule, int32_t from);

std::string residualFunctionName(uint32_t chain, size_t group);

// The groups of a chain of `rules` rules that need a residual function.
std::vector<size_t> residualGroups(const ChainPlan& cp, uint32_t groupRules);

// groupRules[id]: the group size of chain `id` (as its ChainSearch uses).
std::unique_ptr<llvm::Module> buildModule(llvm::LLVMContext& ctx, const Plan& plan,
                                          const std::vector<uint32_t>& groupRules);

// Runs the -O<level> IR pipeline for tm's target.
void optimizeModule(llvm::Module& m, llvm::TargetMachine* tm, unsigned level);

size_t instructionCount(const llvm::Module& m);

}  // namespace nfjit::jit
