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

std::string chainFunctionName(uint32_t id) { return "nfjit_chain_" + std::to_string(id); }

namespace {

using namespace llvm;

class Gen {
 public:
  Gen(LLVMContext& c, Module& m, bool embed, std::vector<ExternalTable>* ext)
      : ctx_(c), m_(m), embed_(embed), ext_(ext), i32_(Type::getInt32Ty(c)), i64_(Type::getInt64Ty(c)),
        ptr_(PointerType::getUnqual(c)) {
    callback_ = Function::Create(FunctionType::get(i32_, {ptr_, i32_, i32_, i32_}, false),
                                 Function::ExternalLinkage, kCallbackName, m_);
  }

  void chain(const ChainPlan& cp) {
    std::vector<Function*> parts = residualParts(cp);
    Function* residual = parts.empty() ? nullptr : dispatcher(cp, parts);

    Function* f = Function::Create(FunctionType::get(i32_, {ptr_, i32_, ptr_}, false), Function::ExternalLinkage,
                                   chainFunctionName(cp.id), m_);
    Argument* key = f->getArg(0);
    Argument* from = f->getArg(1);
    Argument* rt = f->getArg(2);
    key->setName("key");
    from->setName("from");
    rt->setName("rt");
    f->addParamAttr(0, Attribute::NoAlias);
    f->addParamAttr(0, Attribute::ReadOnly);
    f->addFnAttr(Attribute::NoUnwind);
    BasicBlock* entry = BasicBlock::Create(ctx_, "entry", f);
    BasicBlock* none = BasicBlock::Create(ctx_, "none", f);
    IRBuilder<> b(entry);
    b.SetInsertPoint(none);
    b.CreateRet(b.getInt32(-1));
    if (cp.rules == 0) {
      b.SetInsertPoint(entry);
      b.CreateBr(none);
      return;
    }
    BasicBlock* lookup = BasicBlock::Create(ctx_, "lookup", f);
    b.SetInsertPoint(entry);
    b.CreateCondBr(b.CreateICmpULT(from, b.getInt32(cp.rules)), lookup, none);

    // Per dimension: the field value -> interval -> its row and the row's summary.
    b.SetInsertPoint(lookup);
    std::vector<Value*> rowBase, sumBase;
    for (size_t d = 0; d < cp.dims.size(); ++d) {
      auto [row, sum] = dimension(b, cp, d, key);
      rowBase.push_back(row);
      sumBase.push_back(sum);
    }
    if (cp.dims.empty()) {
      rowBase.push_back(table(cp, "all", cp.allRow));
      sumBase.push_back(table(cp, "allsum", cp.allSum));
    }
    Value* cleanRow = residual ? table(cp, "clean", cp.cleanRow) : nullptr;

    Value* from64 = b.CreateZExt(from, i64_);
    Value* w0 = b.CreateLShr(from64, 6);
    Value* m0 = b.CreateShl(b.getInt64(~uint64_t(0)), b.CreateAnd(from64, 63));
    Value* s0 = b.CreateLShr(w0, 6);
    Value* sm0 = b.CreateShl(b.getInt64(~uint64_t(0)), b.CreateAnd(w0, 63));
    BasicBlock* outer = BasicBlock::Create(ctx_, "summary", f);
    BasicBlock* inner = BasicBlock::Create(ctx_, "summary_bits", f);
    BasicBlock* nextSummary = BasicBlock::Create(ctx_, "next_summary", f);
    BasicBlock* wordBlock = BasicBlock::Create(ctx_, "word", f);
    BasicBlock* scan = BasicBlock::Create(ctx_, "scan", f);
    BasicBlock* found = BasicBlock::Create(ctx_, "candidate", f);
    BasicBlock* nextWord = BasicBlock::Create(ctx_, "next_word", f);
    b.CreateBr(outer);

    // summary: which words can hold candidates (AND of the summaries).
    b.SetInsertPoint(outer);
    PHINode* sIdx = b.CreatePHI(i64_, 2, "s");
    PHINode* sMask = b.CreatePHI(i64_, 2, "smask");
    sIdx->addIncoming(s0, lookup);
    sMask->addIncoming(sm0, lookup);
    Value* sword = sMask;
    for (Value* base : sumBase) sword = b.CreateAnd(sword, load64(b, base, sIdx));
    b.CreateBr(inner);

    b.SetInsertPoint(inner);
    PHINode* sbits = b.CreatePHI(i64_, 2, "sbits");
    sbits->addIncoming(sword, outer);
    b.CreateCondBr(b.CreateICmpEQ(sbits, b.getInt64(0)), nextSummary, wordBlock);

    b.SetInsertPoint(nextSummary);
    Value* s1 = b.CreateAdd(sIdx, b.getInt64(1));
    sIdx->addIncoming(s1, nextSummary);
    sMask->addIncoming(b.getInt64(~uint64_t(0)), nextSummary);
    b.CreateCondBr(b.CreateICmpULT(s1, b.getInt64(cp.summaryWords)), outer, none);

    // word: AND of the rows' words, masked below `from` in the first word.
    b.SetInsertPoint(wordBlock);
    Value* w = b.CreateAdd(b.CreateShl(sIdx, 6), b.CreateIntrinsic(Intrinsic::cttz, {i64_}, {sbits, b.getTrue()}), "w");
    Value* word = b.CreateSelect(b.CreateICmpEQ(w, w0), m0, b.getInt64(~uint64_t(0)));
    for (Value* base : rowBase) word = b.CreateAnd(word, load64(b, base, w));
    b.CreateBr(scan);

    b.SetInsertPoint(scan);
    PHINode* bits = b.CreatePHI(i64_, 2, "bits");
    bits->addIncoming(word, wordBlock);
    b.CreateCondBr(b.CreateICmpEQ(bits, b.getInt64(0)), nextWord, found);

    b.SetInsertPoint(nextWord);
    sbits->addIncoming(b.CreateAnd(sbits, b.CreateSub(sbits, b.getInt64(1))), nextWord);
    b.CreateBr(inner);

    b.SetInsertPoint(found);
    Value* bit = b.CreateIntrinsic(Intrinsic::cttz, {i64_}, {bits, b.getTrue()});
    Value* rule = b.CreateTrunc(b.CreateAdd(b.CreateShl(w, 6), bit), i32_, "rule");
    if (!residual) {
      b.CreateRet(rule);
      return;
    }
    BasicBlock* accept = BasicBlock::Create(ctx_, "accept", f);
    BasicBlock* check = BasicBlock::Create(ctx_, "residual", f);
    BasicBlock* hotdrop = BasicBlock::Create(ctx_, "hotdrop", f);
    BasicBlock* rest = BasicBlock::Create(ctx_, "rest", f);
    Value* clean = b.CreateAnd(b.CreateLShr(load64(b, cleanRow, w), bit), 1);
    b.CreateCondBr(b.CreateICmpNE(clean, b.getInt64(0)), accept, check);
    b.SetInsertPoint(accept);
    b.CreateRet(rule);
    b.SetInsertPoint(check);
    Value* res = b.CreateCall(residual, {key, rule, rt});
    SwitchInst* sw = b.CreateSwitch(res, rest, 2);
    sw->addCase(b.getInt32(1), accept);
    sw->addCase(b.getInt32(2), hotdrop);
    b.SetInsertPoint(hotdrop);
    b.CreateRet(b.getInt32(-2));
    b.SetInsertPoint(rest);
    bits->addIncoming(b.CreateAnd(bits, b.CreateSub(bits, b.getInt64(1))), rest);
    b.CreateBr(scan);
  }

 private:
  // A global array of the Plan's data: embedded, or external at its host address.
  template <class T>
  GlobalVariable* table(const ChainPlan& cp, const std::string& what, const std::vector<T>& data) {
    std::string name = "nfjit_c" + std::to_string(cp.id) + "_" + what;
    Type* elem = sizeof(T) == 8 ? i64_ : i32_;
    ArrayType* ty = ArrayType::get(elem, data.size());
    if (embed_) {
      auto* init = ConstantDataArray::get(ctx_, ArrayRef<T>(data));
      auto* g = new GlobalVariable(m_, ty, true, GlobalValue::PrivateLinkage, init, name);
      g->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
      g->setAlignment(Align(64));
      return g;
    }
    auto* g = new GlobalVariable(m_, ty, true, GlobalValue::ExternalLinkage, nullptr, name);
    if (ext_) ext_->push_back({name, data.data()});
    return g;
  }

  Value* load64(IRBuilder<>& b, Value* base, Value* index) {
    Value* p = index ? b.CreateGEP(i64_, base, index) : base;
    return b.CreateAlignedLoad(i64_, p, Align(8));
  }

  Value* keyField32(IRBuilder<>& b, Value* key, unsigned offset) {
    return b.CreateAlignedLoad(i32_, b.CreateConstGEP1_32(b.getInt8Ty(), key, offset), Align(4));
  }

  // Branchless binary search (bounds padded to 2^k - 1): pos = number of
  // bounds <= v, which is the interval index.
  std::pair<Value*, Value*> dimension(IRBuilder<>& b, const ChainPlan& cp, size_t di, Value* key) {
    const Dimension& d = cp.dims[di];
    std::string tag = "d" + std::to_string(di);
    Value* v = b.CreateZExt(keyField32(b, key, d.keyOffset), i64_, d.name);
    Value* rowOf = table(cp, tag + "_rowof", d.rowOf);
    Value* rows = table(cp, tag + "_rows", d.rows);
    Value* sums = table(cp, tag + "_sums", d.sums);
    Value* pos = b.getInt64(0);
    if (d.direct) {
      pos = v;
    } else if (d.searchSteps) {
      Value* bounds = table(cp, tag + "_bounds", d.bounds);
      for (uint64_t step = uint64_t(1) << (d.searchSteps - 1); step; step >>= 1) {
        Value* probe = b.CreateAdd(pos, b.getInt64(step - 1));
        Value* bound = b.CreateAlignedLoad(i64_, b.CreateGEP(i64_, bounds, probe), Align(8));
        pos = b.CreateSelect(b.CreateICmpULE(bound, v), b.CreateAdd(pos, b.getInt64(step)), pos);
      }
    }
    Value* row = b.CreateZExt(b.CreateAlignedLoad(i32_, b.CreateGEP(i32_, rowOf, pos), Align(4)), i64_);
    return {b.CreateGEP(i64_, rows, b.CreateMul(row, b.getInt64(cp.words)), d.name + "_row"),
            b.CreateGEP(i64_, sums, b.CreateMul(row, b.getInt64(cp.summaryWords)), d.name + "_sum")};
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

  // i32 part(ptr key, i32 rule, ptr rt): the residual tests of the
  // non-clean rules in one range, then the callback for the rest.
  std::vector<Function*> residualParts(const ChainPlan& cp) {
    std::vector<Function*> parts;
    for (uint32_t lo = 0; lo < cp.rules; lo += kRulesPerPart) {
      uint32_t hi = std::min(cp.rules, lo + kRulesPerPart);
      bool any = false;
      for (uint32_t r = lo; r < hi; ++r) any = any || !cp.rulePlans[r].clean();
      if (!any) {
        parts.push_back(nullptr);
        continue;
      }
      Function* f = Function::Create(FunctionType::get(i32_, {ptr_, i32_, ptr_}, false), Function::InternalLinkage,
                                     "nfjit_res_" + std::to_string(cp.id) + "_" + std::to_string(lo / kRulesPerPart),
                                     m_);
      f->addFnAttr(Attribute::NoInline);
      Value* key = f->getArg(0);
      Value* rt = f->getArg(2);
      IRBuilder<> b(BasicBlock::Create(ctx_, "entry", f));
      BasicBlock* no = BasicBlock::Create(ctx_, "no", f);
      SwitchInst* sw = b.CreateSwitch(f->getArg(1), no);
      b.SetInsertPoint(no);
      b.CreateRet(b.getInt32(0));
      for (uint32_t r = lo; r < hi; ++r) {
        const RulePlan& rp = cp.rulePlans[r];
        if (rp.clean()) continue;
        BasicBlock* bb = BasicBlock::Create(ctx_, "r" + std::to_string(r), f);
        sw->addCase(b.getInt32(r), bb);
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
      parts.push_back(f);
    }
    bool any = false;
    for (Function* p : parts) any = any || p;
    if (!any) parts.clear();
    return parts;
  }

  Function* dispatcher(const ChainPlan& cp, const std::vector<Function*>& parts) {
    if (parts.size() == 1) return parts[0];
    Function* f = Function::Create(FunctionType::get(i32_, {ptr_, i32_, ptr_}, false), Function::InternalLinkage,
                                   "nfjit_res_" + std::to_string(cp.id), m_);
    IRBuilder<> b(BasicBlock::Create(ctx_, "entry", f));
    BasicBlock* no = BasicBlock::Create(ctx_, "no", f);
    SwitchInst* sw = b.CreateSwitch(b.CreateLShr(f->getArg(1), 10), no);
    static_assert(kRulesPerPart == 1024);
    b.SetInsertPoint(no);
    b.CreateRet(b.getInt32(0));
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!parts[i]) continue;
      BasicBlock* bb = BasicBlock::Create(ctx_, "part" + std::to_string(i), f);
      sw->addCase(b.getInt32(uint32_t(i)), bb);
      b.SetInsertPoint(bb);
      b.CreateRet(b.CreateCall(parts[i], {f->getArg(0), f->getArg(1), f->getArg(2)}));
    }
    return f;
  }

  LLVMContext& ctx_;
  Module& m_;
  bool embed_;
  std::vector<ExternalTable>* ext_;
  Type* i32_;
  Type* i64_;
  PointerType* ptr_;
  Function* callback_;
};

}  // namespace

std::unique_ptr<llvm::Module> buildModule(llvm::LLVMContext& ctx, const Plan& plan, bool embedTables,
                                          std::vector<ExternalTable>* externs) {
  auto m = std::make_unique<llvm::Module>("nfjit", ctx);
  Gen g(ctx, *m, embedTables, externs);
  for (const ChainPlan& cp : plan.chains) g.chain(cp);
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
