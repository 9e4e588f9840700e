#include "compiler/jit/CodeGen.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassManager.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Target/TargetMachine.h>

namespace nfjit::jit {

std::string residualFunctionName(uint32_t chain, size_t group) {
  return "nfjit_chain_" + std::to_string(chain) + "_g" + std::to_string(group);
}

std::vector<size_t> residualGroups(const ChainPlan& cp, uint32_t groupRules) {
  std::vector<size_t> out;
  for (size_t lo = 0, g = 0; lo < cp.lowered.size(); lo += groupRules, ++g)
    for (size_t r = lo; r < std::min(cp.lowered.size(), lo + groupRules); ++r)
      if (!cp.lowered[r].plan.clean()) {
        out.push_back(g);
        break;
      }
  return out;
}

namespace {

using namespace llvm;

class Gen {
 public:
  Gen(LLVMContext& c, Module& m)
      : ctx_(c), m_(m), i32_(Type::getInt32Ty(c)), i64_(Type::getInt64Ty(c)), ptr_(PointerType::getUnqual(c)) {
    callback_ = Function::Create(FunctionType::get(i32_, {ptr_, i32_, i32_, i32_}, false),
                                 Function::ExternalLinkage, kCallbackName, m_);
  }

  // A switch on the local rule: the rule's key tests, then its callback.
  void group(const ChainPlan& cp, size_t g, uint32_t groupRules) {
    uint32_t lo = uint32_t(g * groupRules), hi = uint32_t(std::min<size_t>(cp.lowered.size(), lo + groupRules));
    Function* f = Function::Create(FunctionType::get(i32_, {ptr_, i32_, ptr_}, false), Function::ExternalLinkage,
                                   residualFunctionName(cp.id, g), m_);
    f->addParamAttr(0, Attribute::NoAlias);
    f->addParamAttr(0, Attribute::ReadOnly);
    Value* key = f->getArg(0);
    Value* rt = f->getArg(2);
    key->setName("key");
    f->getArg(1)->setName("local");
    rt->setName("rt");
    IRBuilder<> b(BasicBlock::Create(ctx_, "entry", f));
    BasicBlock* no = BasicBlock::Create(ctx_, "no", f);
    BasicBlock* yes = BasicBlock::Create(ctx_, "yes", f);
    SwitchInst* sw = b.CreateSwitch(f->getArg(1), yes);  // clean rules are not asked; 1 keeps it total
    b.SetInsertPoint(no);
    b.CreateRet(b.getInt32(0));
    b.SetInsertPoint(yes);
    b.CreateRet(b.getInt32(1));
    for (uint32_t r = lo; r < hi; ++r) {
      const RulePlan& rp = cp.lowered[r].plan;
      if (rp.clean()) continue;
      BasicBlock* bb = BasicBlock::Create(ctx_, "r" + std::to_string(r), f);
      sw->addCase(b.getInt32(r - lo), bb);
      b.SetInsertPoint(bb);
      for (const KeyTest& t : rp.tests) {
        BasicBlock* next = BasicBlock::Create(ctx_, "", f);
        b.CreateCondBr(test(b, key, t), next, no);
        b.SetInsertPoint(next);
      }
      if (rp.callbackFrom == kNoCallback)
        b.CreateRet(b.getInt32(1));
      else
        b.CreateRet(b.CreateCall(callback_, {rt, b.getInt32(cp.id), b.getInt32(r), b.getInt32(rp.callbackFrom)}));
    }
  }

 private:
  Value* keyField32(IRBuilder<>& b, Value* key, unsigned offset) {
    return b.CreateAlignedLoad(i32_, b.CreateConstGEP1_32(b.getInt8Ty(), key, offset), Align(4));
  }

  Value* test(IRBuilder<>& b, Value* key, const KeyTest& t) {
    Value* holds = nullptr;
    if (t.kind == KeyTest::Kind::Bit64) {
      Value* v = b.CreateAlignedLoad(i64_, b.CreateConstGEP1_32(b.getInt8Ty(), key, t.offset), Align(8));
      holds = b.CreateICmpNE(b.CreateAnd(v, b.getInt64(t.mask64)), b.getInt64(0));
    } else {
      holds = b.getTrue();
      for (size_t i = 0; i < t.maskValue.size(); ++i) {
        auto [mask, value] = t.maskValue[i];
        Value* v = keyField32(b, key, t.offset + 4 * unsigned(i));
        holds = b.CreateAnd(holds, b.CreateICmpEQ(b.CreateAnd(v, b.getInt32(mask)), b.getInt32(value)));
      }
    }
    return t.invert ? b.CreateNot(holds) : holds;
  }

  LLVMContext& ctx_;
  Module& m_;
  Type* i32_;
  Type* i64_;
  PointerType* ptr_;
  Function* callback_;
};

}  // namespace

std::unique_ptr<llvm::Module> buildModule(llvm::LLVMContext& ctx, const Plan& plan,
                                          const std::vector<uint32_t>& groupRules) {
  auto m = std::make_unique<llvm::Module>("nfjit", ctx);
  Gen g(ctx, *m);
  for (const ChainPlan& cp : plan.chains)
    for (size_t grp : residualGroups(cp, groupRules[cp.id])) g.group(cp, grp, groupRules[cp.id]);
  return m;
}

void optimizeModule(llvm::Module& m, llvm::TargetMachine* tm, unsigned level) {
  if (level == 0) return;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel ol = level >= 3   ? llvm::OptimizationLevel::O3
                               : level == 2 ? llvm::OptimizationLevel::O2
                                            : llvm::OptimizationLevel::O1;
  pb.buildPerModuleDefaultPipeline(ol).run(m, mam);
}

size_t instructionCount(const llvm::Module& m) {
  size_t n = 0;
  for (const auto& f : m)
    for (const auto& bb : f) n += bb.size();
  return n;
}

}  // namespace nfjit::jit
