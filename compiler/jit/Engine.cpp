// ORC LLJIT around the generated module, the callback into extension
// matches, and the traversal (the interpreter's, with the per-chain search
// done by native code).
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>

#include "compiler/jit/CodeGen.h"
#include "compiler/jit/Jit.h"
#include "compiler/interp/Traversal.h"

namespace nfjit::jit {
namespace {

using ChainFn = int32_t (*)(const JitKey*, uint32_t, void*);

// What the callback needs: the packet's context and the chains by id.
struct RtState {
  EvalContext* ctx = nullptr;
  Family family = Family::IPv4;
  const std::vector<const Chain*>* chains = nullptr;
};

void initLlvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

std::string errText(llvm::Error e) { return llvm::toString(std::move(e)); }

class Timer {
 public:
  explicit Timer(JitStats* s) : stats_(s), t0_(std::chrono::steady_clock::now()) {}
  void lap(const char* phase) {
    auto t = std::chrono::steady_clock::now();
    if (stats_) stats_->phases.push_back({phase, std::chrono::duration<double>(t - t0_).count()});
    t0_ = t;
  }

 private:
  JitStats* stats_;
  std::chrono::steady_clock::time_point t0_;
};

void fillStats(JitStats& s, const Ruleset& rs, const Plan& plan) {
  s.tables = rs.tables.size();
  s.chains = plan.chains.size();
  s.rules = 0;
  for (const auto& c : plan.chains) s.rules += c.rules;
  s.loweredRules = plan.loweredRules;
  s.callbackMatches = plan.callbackMatches;
  s.dimensions = plan.dimensionCount();
  s.intervals = plan.intervals();
  s.bitsetRows = plan.rowCount();
  s.tableBytes = plan.tableBytes();
}

// The interpreter's per-rule check, for packets the native code does not take.
int32_t evalRule(const Rule& r, Family f, EvalContext& ctx, int32_t from) {
  bool matched = true;
  if (from < 0) {
    matched = ipHeaderMatches(r.ip, f, ctx);
    from = 0;
  }
  for (size_t m = size_t(from); matched && m < r.matches.size(); ++m) matched = r.matches[m].ext->match(ctx);
  if (ctx.hotdrop) return 2;
  return matched ? 1 : 0;
}

}  // namespace

extern "C" int32_t nfjit_rt_match(void* rt, uint32_t chain, uint32_t rule, int32_t from) {
  auto* st = static_cast<RtState*>(rt);
  return evalRule((*st->chains)[chain]->rules[rule], st->family, *st->ctx, from);
}

struct JitClassifier::Impl {
  Plan plan;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::vector<const Chain*> chainsById;
  std::vector<std::vector<uint32_t>> idOf;  // [table][chain] -> chain id
  std::vector<ChainFn> fns;                 // by chain id
  std::vector<std::map<std::string, size_t, std::less<>>> chainIndex;
  // Per traversal.
  JitKey key{};
  bool slow = false;
  RtState rt;

  explicit Impl(const Ruleset& rs) : plan(rs) {}

  int32_t next(uint32_t id, uint32_t from) {
    if (!slow) return fns[id](&key, from, &rt);
    const Chain& c = *chainsById[id];
    for (uint32_t r = from; r < c.rules.size(); ++r) {
      int32_t v = evalRule(c.rules[r], rt.family, *rt.ctx, kWholeRule);
      if (v == 1) return int32_t(r);
      if (v == 2) return -2;
    }
    return -1;
  }
  void start(EvalContext& ctx) {
    rt.ctx = &ctx;
    slow = !extractKey(ctx.pkt, plan.ifaces, key);
  }
};

JitClassifier::JitClassifier(const Ruleset& rs, JitOptions opts) : rs_(rs), counters_(rs) {
  initLlvm();
  Timer timer(&stats_);
  impl_ = std::make_unique<Impl>(rs);
  Impl& im = *impl_;
  timer.lap("plan");
  for (size_t ti = 0; ti < rs.tables.size(); ++ti) {
    im.idOf.emplace_back();
    im.chainIndex.emplace_back();
    for (size_t ci = 0; ci < rs.tables[ti].chains.size(); ++ci) {
      im.idOf.back().push_back(uint32_t(im.chainsById.size()));
      im.chainsById.push_back(&rs.tables[ti].chains[ci]);
      im.chainIndex.back()[rs.tables[ti].chains[ci].name] = ci;
    }
  }
  im.rt.family = rs.family;
  im.rt.chains = &im.chainsById;
  fillStats(stats_, rs, im.plan);

  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw std::runtime_error("JIT: " + errText(jtmb.takeError()));
  jtmb->setCodeGenOptLevel(opts.optLevel == 0 ? llvm::CodeGenOptLevel::None
                           : opts.optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                                : llvm::CodeGenOptLevel::Default);
  auto tm = jtmb->createTargetMachine();
  if (!tm) throw std::runtime_error("JIT: " + errText(tm.takeError()));
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
  if (!jit) throw std::runtime_error("JIT: " + errText(jit.takeError()));
  im.lljit = std::move(*jit);

  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::vector<ExternalTable> externs;
  auto mod = buildModule(*ctx, im.plan, false, &externs);
  mod->setDataLayout(im.lljit->getDataLayout());
  mod->setTargetTriple(im.lljit->getTargetTriple().str());
  timer.lap("irgen");
  optimizeModule(*mod, tm->get(), opts.optLevel);
  stats_.irInstructions = instructionCount(*mod);
  timer.lap("optimize");

  llvm::orc::SymbolMap syms;
  auto sym = [&](const std::string& name, const void* addr) {
    syms[im.lljit->mangleAndIntern(name)] = {llvm::orc::ExecutorAddr::fromPtr(addr), llvm::JITSymbolFlags::Exported};
  };
  sym(kCallbackName, reinterpret_cast<const void*>(&nfjit_rt_match));
  for (const auto& e : externs) sym(e.name, e.address);
  if (auto err = im.lljit->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(syms))))
    throw std::runtime_error("JIT: " + errText(std::move(err)));
  if (auto err = im.lljit->addIRModule(llvm::orc::ThreadSafeModule(std::move(mod), std::move(ctx))))
    throw std::runtime_error("JIT: " + errText(std::move(err)));
  for (const ChainPlan& cp : im.plan.chains) {
    auto addr = im.lljit->lookup(chainFunctionName(cp.id));
    if (!addr) throw std::runtime_error("JIT: " + errText(addr.takeError()));
    im.fns.push_back(addr->toPtr<ChainFn>());
  }
  timer.lap("codegen");
}

JitClassifier::~JitClassifier() = default;

JitClassifier::ChainFunction JitClassifier::chainFunction(size_t ti, size_t ci) const {
  return impl_->fns[impl_->idOf[ti][ci]];
}

bool JitClassifier::chainCallsBack(size_t ti, size_t ci) const {
  for (const RulePlan& rp : impl_->plan.chains[impl_->idOf[ti][ci]].rulePlans)
    if (rp.callbackFrom != kNoCallback) return true;
  return false;
}

bool JitClassifier::makeKey(const PacketView& p, JitKey& k) const { return extractKey(p, impl_->plan.ifaces, k); }

int32_t JitClassifier::findNext(size_t ti, size_t ci, uint32_t from, EvalContext& ctx) {
  impl_->start(ctx);
  return impl_->next(impl_->idOf[ti][ci], from);
}

TraversalResult JitClassifier::run(std::string_view tableName, Hook hook, EvalContext& ctx) {
  // The native search plugged into the interpreter's traversal.
  class NativeSearch final : public RuleSearch {
   public:
    explicit NativeSearch(Impl& im) : im_(im) {}
    void begin(size_t, EvalContext& c) override { im_.start(c); }
    int64_t next(size_t ti, size_t ci, size_t from, EvalContext&) override {
      return im_.next(im_.idOf[ti][ci], uint32_t(from));
    }
    // Targets may rewrite what the key caches (ECN rewrites TCP flags).
    void packetChanged(EvalContext& c) override { im_.start(c); }

   private:
    Impl& im_;
  } search(*impl_);
  return traverseTable(rs_, impl_->chainIndex, counters_, tableName, hook, ctx, search);
}

bool emitCode(const Ruleset& rs, EmitKind kind, std::string& out, std::string& error, JitStats* stats,
              JitOptions opts) {
  initLlvm();
  Timer timer(stats);
  Plan plan(rs);
  timer.lap("plan");
  if (stats) fillStats(*stats, rs, plan);
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return error = errText(jtmb.takeError()), false;
  jtmb->setCodeGenOptLevel(opts.optLevel == 0 ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Less);
  auto tm = jtmb->createTargetMachine();
  if (!tm) return error = errText(tm.takeError()), false;
  llvm::LLVMContext ctx;
  auto mod = buildModule(ctx, plan, true, nullptr);
  mod->setDataLayout((*tm)->createDataLayout());
  mod->setTargetTriple((*tm)->getTargetTriple().str());
  timer.lap("irgen");
  optimizeModule(*mod, tm->get(), opts.optLevel);
  if (stats) stats->irInstructions = instructionCount(*mod);
  timer.lap("optimize");
  llvm::raw_string_ostream os(out);
  if (kind == EmitKind::LlvmIr) {
    mod->print(os, nullptr);
    os.flush();
    return true;
  }
  llvm::SmallString<0> buf;
  llvm::raw_svector_ostream bos(buf);
  llvm::legacy::PassManager pm;
  auto ft = kind == EmitKind::Asm ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
  if ((*tm)->addPassesToEmitFile(pm, bos, nullptr, ft)) return error = "the target cannot emit this file type", false;
  pm.run(*mod);
  out.assign(buf.begin(), buf.end());
  timer.lap("codegen");
  return true;
}

}  // namespace nfjit::jit
