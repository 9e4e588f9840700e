// LLVM IR for a Plan: one function per chain,
//   i32 nfjit_chain_<id>(ptr key, i32 from, ptr rt)
// returning the first matching rule >= from, -1 for none, -2 for hotdrop,
// and residual-test functions split in parts of kRulesPerPart rules.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/jit/Plan.h"

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
}  // namespace llvm

namespace nfjit::jit {

constexpr unsigned kRulesPerPart = 1024;
constexpr const char* kCallbackName = "nfjit_rt_match";

// The callback generated code makes for matches left to their match():
// evaluates rule `rule` of chain `chain` from match `from` (-1: the IP
// header first) and returns 1 matched, 0 not, 2 hotdrop.
extern "C" int32_t nfjit_rt_match(void* rt, uint32_t chain, uint32_t rule, int32_t from);

std::string chainFunctionName(uint32_t id);

struct ExternalTable {
  std::string name;
  const void* address;
};

// With embedTables the lookup tables are constants in the module (for
// --emit); otherwise they are external globals resolved to the Plan's own
// memory (`externs` lists them), which keeps JIT compile time independent of
// table size.
std::unique_ptr<llvm::Module> buildModule(llvm::LLVMContext& ctx, const Plan& plan, bool embedTables,
                                          std::vector<ExternalTable>* externs);

// Runs the -O<level> IR pipeline for tm's target.
void optimizeModule(llvm::Module& m, llvm::TargetMachine* tm, unsigned level);

size_t instructionCount(const llvm::Module& m);

}  // namespace nfjit::jit
