// The classifier: per chain a ChainSearch, ORC LLJIT around the generated
// residual checks, the callbacks into extension matches, and the traversal
// (the interpreter's, with the per-chain search plugged in).
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>

#include "compiler/jit/CodeGen.h"
#include "compiler/jit/Jit.h"
#include "compiler/interp/Traversal.h"

namespace nfjit::jit {
namespace {

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

// The callback of data-driven residual checks (groups rebuilt by updates).
int32_t ruleCallback(void* rt, const Rule* rule, int32_t from) {
  auto* st = static_cast<RtState*>(rt);
  return evalRule(*rule, st->family, *st->ctx, from);
}

llvm::CodeGenOptLevel codeGenLevel(unsigned level) {
  return level == 0 ? llvm::CodeGenOptLevel::None
         : level == 1 ? llvm::CodeGenOptLevel::Less
                      : llvm::CodeGenOptLevel::Default;
}

void addSearchStats(JitStats& s, const ChainSearchStats& c) {
  s.groups += c.groups;
  s.dimensions += c.dims;
  s.intervals += c.intervals;
  s.bitsetRows += c.rows;
  s.crossGroups += c.crossGroups;
  s.crossEntries += c.crossEntries;
  s.vectorChains += c.vector;
  s.packedChains += c.packed;
  s.tupleChains += c.tupleTables > 0;
  s.tableBytes += c.bytes;
}

// Each chain's group size (clamped as ChainSearch clamps it) and row layout, by chain id.
std::vector<ChainLayout> chainLayouts(const Plan& plan, const JitOptions& o) {
  std::vector<ChainLayout> out;
  for (const auto& c : plan.chains) {
    ChainLayout l = o.layoutFor(c.lowered.size());
    l.groupRules = clampGroupRules(l.groupRules);
    out.push_back(l);
  }
  return out;
}

std::vector<uint32_t> groupSizes(const std::vector<ChainLayout>& layouts) {
  std::vector<uint32_t> out;
  for (const auto& l : layouts) out.push_back(l.groupRules);
  return out;
}

// A chain's search, built from a copy of its lowered rules (the residual
// module reads them afterwards); `layout` becomes the one the search took
// (a large chain falls back to packed rows when its cross products outgrow
// their budget), which the residual functions' groups must follow.
std::unique_ptr<ChainSearch> buildSearch(Family f, const ChainPlan& cp, const Chain& chain, ChainLayout& layout,
                                         EpochDomain& epochs) {
  std::vector<const Rule*> rules;
  for (const Rule& r : chain.rules) rules.push_back(&r);
  auto search = std::make_unique<ChainSearch>(f, cp.lowered, rules, layout, &ruleCallback, epochs);
  layout.groupRules = search->groupRules();
  layout.packRows = search->packedRows();
  return search;
}

void fillPlanStats(JitStats& s, const Ruleset& rs, const Plan& plan, const std::vector<ChainLayout>& layouts) {
  s.tables = rs.tables.size();
  s.chains = plan.chains.size();
  for (const auto& c : plan.chains) {
    s.rules += c.lowered.size();
    s.residualFunctions += residualGroups(c, layouts[c.id].groupRules).size();
  }
  s.loweredRules = plan.loweredRules;
  s.callbackMatches = plan.callbackMatches;
}

}  // namespace

extern "C" int32_t nfjit_rt_match(void* rt, uint32_t chain, uint32_t rule, int32_t from) {
  auto* st = static_cast<RtState*>(rt);
  return evalRule((*st->chains)[chain]->rules[rule], st->family, *st->ctx, from);
}

struct JitClassifier::Impl {
  Plan plan;
  std::vector<ChainLayout> layouts;  // by chain id
  EpochDomain epochs;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::vector<const Chain*> chainsById;
  std::vector<std::vector<uint32_t>> idOf;  // [table][chain] -> chain id
  std::vector<std::unique_ptr<ChainSearch>> searches;  // by chain id
  ChainIndex chainIndex;
  // Resolved once so that the traversal does no name lookups per packet:
  // [table][chain][rule] -> target chain of a jump/goto (-1 otherwise),
  // [table][hook] -> the hook's chain (-1: none).
  std::vector<std::vector<std::vector<int32_t>>> jumps;
  std::vector<std::array<int32_t, 5>> hooks;
  std::unique_ptr<EpochDomain::Reader> reader;  // of the thread calling run()/findNext()
  std::atomic<bool> updated{false};  // insertRule/deleteRule may run on other threads
  // Per traversal.
  JitKey key{};
  bool slow = false;
  RtState rt;

  Impl(const Ruleset& rs, const JitOptions& o) : plan(rs), layouts(chainLayouts(plan, o)) {}

  // Counters of rules inserted by updates (the CounterSet covers the
  // Ruleset's own); the shared_ptr keeps a deleted rule's address from being
  // reused by a later one while its counters are here.
  std::map<const Rule*, std::pair<std::shared_ptr<const Rule>, Counters>> insertedCounters;

  int32_t next(uint32_t id, uint32_t from) { return next(*searches[id]->current(), from); }
  int32_t next(const Snapshot& s, uint32_t from) {
    if (!slow) return ChainSearch::find(s, key, from, &rt);
    for (size_t g = 0; g < s.groups.size(); ++g)
      for (uint32_t r = from > s.start[g] ? from - s.start[g] : 0; r < s.groups[g]->size; ++r) {
        int32_t v = evalRule(*s.groups[g]->rules[r], rt.family, *rt.ctx, kWholeRule);
        if (v == 1) return int32_t(s.start[g] + r);
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
  // The build's scratch (the cross products' construction takes several
  // times their size) goes back to the system on every way out: what the
  // process keeps is the classifier's own memory.
  struct TrimOnExit {
    ~TrimOnExit() { malloc_trim(0); }
  } trim;
  Timer timer(&stats_);
  impl_ = std::make_unique<Impl>(rs, opts);
  Impl& im = *impl_;
  im.reader = std::make_unique<EpochDomain::Reader>(im.epochs);
  timer.lap("lower");
  for (size_t ti = 0; ti < rs.tables.size(); ++ti) {
    im.idOf.emplace_back();
    for (size_t ci = 0; ci < rs.tables[ti].chains.size(); ++ci) {
      im.idOf.back().push_back(uint32_t(im.chainsById.size()));
      im.chainsById.push_back(&rs.tables[ti].chains[ci]);
    }
  }
  im.chainIndex = buildChainIndex(rs);
  for (size_t ti = 0; ti < rs.tables.size(); ++ti) {
    const auto& names = im.chainIndex[ti];
    auto& hooks = im.hooks.emplace_back();
    for (unsigned h = 0; h < hooks.size(); ++h) {
      auto it = names.find(hookChainName(Hook(h)));
      hooks[h] = it == names.end() ? -1 : int32_t(it->second);
    }
    auto& jumps = im.jumps.emplace_back();
    for (const Chain& c : rs.tables[ti].chains) {
      auto& targets = jumps.emplace_back(c.rules.size(), -1);
      for (size_t r = 0; r < c.rules.size(); ++r) {
        const Target& t = c.rules[r].target;
        if (t.kind != Target::Kind::Jump && t.kind != Target::Kind::Goto) continue;
        if (auto it = names.find(t.chain); it != names.end()) targets[r] = int32_t(it->second);
      }
    }
  }
  im.rt.family = rs.family;
  im.rt.chains = &im.chainsById;
  // The searches first: the residual functions follow their groups.
  for (const ChainPlan& cp : im.plan.chains) {
    im.searches.push_back(buildSearch(rs.family, cp, *im.chainsById[cp.id], im.layouts[cp.id], im.epochs));
    addSearchStats(stats_, im.searches.back()->stats());
  }
  timer.lap("search");
  fillPlanStats(stats_, rs, im.plan, im.layouts);
  // LLVM only where some group needs residual code: its setup alone takes
  // about 1 MiB, more than a 1k-rule chain's tables.
  std::unique_ptr<llvm::LLVMContext> ctx;
  std::unique_ptr<llvm::Module> mod;
  if (stats_.residualFunctions) {
    initLlvm();
    ctx = std::make_unique<llvm::LLVMContext>();
    mod = buildModule(*ctx, im.plan, groupSizes(im.layouts));
  }
  std::vector<std::vector<size_t>> residual;
  for (ChainPlan& cp : im.plan.chains) {
    residual.push_back(residualGroups(cp, im.layouts[cp.id].groupRules));
    std::vector<LoweredRule>().swap(cp.lowered);  // clear() would keep the capacity: 0.2 MiB at 1k rules
  }
  timer.lap("irgen");
  if (!mod) return;

  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw std::runtime_error("JIT: " + errText(jtmb.takeError()));
  jtmb->setCodeGenOptLevel(codeGenLevel(opts.optLevel));
  auto tm = jtmb->createTargetMachine();
  if (!tm) throw std::runtime_error("JIT: " + errText(tm.takeError()));
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
  if (!jit) throw std::runtime_error("JIT: " + errText(jit.takeError()));
  im.lljit = std::move(*jit);
  mod->setDataLayout(im.lljit->getDataLayout());
  mod->setTargetTriple(im.lljit->getTargetTriple().str());
  optimizeModule(*mod, tm->get(), opts.optLevel);
  stats_.irInstructions = instructionCount(*mod);
  timer.lap("optimize");

  llvm::orc::SymbolMap syms;
  syms[im.lljit->mangleAndIntern(kCallbackName)] = {
      llvm::orc::ExecutorAddr::fromPtr(reinterpret_cast<const void*>(&nfjit_rt_match)), llvm::JITSymbolFlags::Exported};
  if (auto err = im.lljit->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(syms))))
    throw std::runtime_error("JIT: " + errText(std::move(err)));
  if (auto err = im.lljit->addIRModule(llvm::orc::ThreadSafeModule(std::move(mod), std::move(ctx))))
    throw std::runtime_error("JIT: " + errText(std::move(err)));
  for (const ChainPlan& cp : im.plan.chains)
    for (size_t g : residual[cp.id]) {
      auto addr = im.lljit->lookup(residualFunctionName(cp.id, g));
      if (!addr) throw std::runtime_error("JIT: " + errText(addr.takeError()));
      im.searches[cp.id]->setNative(g, addr->toPtr<ResidualFn>());
    }
  timer.lap("codegen");
}

JitClassifier::~JitClassifier() = default;

ChainSearch& JitClassifier::chainSearch(size_t ti, size_t ci) { return *impl_->searches[impl_->idOf[ti][ci]]; }
EpochDomain& JitClassifier::epochs() { return impl_->epochs; }

bool JitClassifier::chainCallsBack(size_t ti, size_t ci) const {
  const Snapshot& s = *impl_->searches[impl_->idOf[ti][ci]]->current();
  for (const auto& g : s.groups)
    for (const auto& l : g->lowered)
      if (l->plan.callbackFrom != kNoCallback) return true;
  return false;
}

bool JitClassifier::makeKey(const PacketView& p, JitKey& k) const { return extractKey(p, impl_->plan.ifaces, k); }

int32_t JitClassifier::findNext(size_t ti, size_t ci, uint32_t from, EvalContext& ctx) {
  ReadSection rs(*impl_->reader);
  impl_->start(ctx);
  return impl_->next(impl_->idOf[ti][ci], from);
}

void JitClassifier::insertRule(size_t ti, size_t ci, uint32_t pos, std::shared_ptr<const Rule> rule) {
  Impl& im = *impl_;
  // New interface patterns would change the key layout readers use: such a
  // rule is left whole to the callback instead.
  IfacePatterns scratch = im.plan.ifaces;
  size_t callbacks = 0;
  LoweredRule low = lowerRule(im.plan.family, *rule, scratch, callbacks);
  if (scratch.in.size() != im.plan.ifaces.in.size() || scratch.out.size() != im.plan.ifaces.out.size()) {
    low = LoweredRule{};
    low.plan.callbackFrom = kWholeRule;
  }
  im.updated = true;
  im.searches[im.idOf[ti][ci]]->insert(pos, std::move(low), std::move(rule));
}

void JitClassifier::deleteRule(size_t ti, size_t ci, uint32_t pos) {
  impl_->updated = true;
  impl_->searches[impl_->idOf[ti][ci]]->erase(pos);
}

// The rule at `pos` of snapshot `s` and what owns it (null for the Ruleset's own rules).
static std::pair<const Rule*, const std::shared_ptr<const Rule>*> ruleAt(const Snapshot& s, size_t pos) {
  size_t g = s.groupOf(uint32_t(pos));
  const Group& grp = *s.groups[g];
  size_t local = pos - s.start[g];
  return {grp.rules[local], &grp.owned[local]};
}

Counters& JitClassifier::countersOf(size_t ti, size_t ci, const Rule* r, const std::shared_ptr<const Rule>& owner) {
  const auto& own = rs_.tables[ti].chains[ci].rules;
  std::less<const Rule*> before;
  if (!own.empty() && !before(r, &own.front()) && !before(&own.back(), r))
    return counters_.rule(ti, ci, size_t(r - &own.front()));
  auto& slot = impl_->insertedCounters[r];
  if (!slot.first) slot.first = owner;
  return slot.second;
}

std::vector<Counters> JitClassifier::chainCounters(size_t ti, size_t ci) {
  ReadSection section(*impl_->reader);
  const Snapshot& s = *impl_->searches[impl_->idOf[ti][ci]]->current();
  std::vector<Counters> out;
  for (size_t pos = 0; pos < s.rules; ++pos) {
    auto [r, owner] = ruleAt(s, pos);
    out.push_back(countersOf(ti, ci, r, *owner));
  }
  return out;
}

TraversalResult JitClassifier::run(std::string_view tableName, Hook hook, EvalContext& ctx) {
  // The native search plugged into the interpreter's traversal.
  class NativeSearch final : public RuleSearch {
   public:
    NativeSearch(JitClassifier& jc, Impl& im) : jc_(jc), im_(im), updated_(im.updated.load()) {}
    void begin(size_t, EvalContext& c) override { im_.start(c); }
    int64_t next(size_t ti, size_t ci, size_t from, EvalContext&) override {
      // The snapshot is kept so that rule() names the rule this search found
      // even if an update publishes a new version in between.
      last_ = im_.searches[im_.idOf[ti][ci]]->current();
      return im_.next(*last_, uint32_t(from));
    }
    // Targets may rewrite what the key caches (ECN rewrites TCP flags).
    void packetChanged(EvalContext& c) override { im_.start(c); }
    // After updates, positions no longer index the resolved jump table: the traversal looks names up.
    int64_t jumpTarget(size_t ti, size_t ci, size_t rule) override {
      return updated_ ? -1 : im_.jumps[ti][ci][rule];
    }
    int64_t hookChain(size_t ti, Hook h) override { return im_.hooks[ti][size_t(h)]; }
    const Rule* rule(size_t, size_t, size_t pos) override { return updated_ ? ruleAt(*last_, pos).first : nullptr; }
    Counters* ruleCounters(size_t ti, size_t ci, size_t pos) override {
      if (!updated_) return nullptr;
      auto [r, owner] = ruleAt(*last_, pos);
      return &jc_.countersOf(ti, ci, r, *owner);
    }

   private:
    JitClassifier& jc_;
    Impl& im_;
    const bool updated_;
    const Snapshot* last_ = nullptr;
  };
  // Entered before the search reads `updated`, so that every snapshot it sees stays alive.
  ReadSection section(*impl_->reader);
  NativeSearch search(*this, *impl_);
  return traverseTable(rs_, impl_->chainIndex, counters_, tableName, hook, ctx, search);
}

bool emitCode(const Ruleset& rs, EmitKind kind, std::string& out, std::string& error, JitStats* stats,
              JitOptions opts) {
  initLlvm();
  Timer timer(stats);
  Plan plan(rs);
  std::vector<ChainLayout> layouts = chainLayouts(plan, opts);
  timer.lap("lower");
  {
    // The searches decide the large chains' layouts (and give the stats).
    EpochDomain epochs;
    for (const ChainPlan& cp : plan.chains) {
      auto search = buildSearch(rs.family, cp, rs.tables[cp.table].chains[cp.chain], layouts[cp.id], epochs);
      if (stats) addSearchStats(*stats, search->stats());
    }
    timer.lap("search");
  }
  if (stats) fillPlanStats(*stats, rs, plan, layouts);
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return error = errText(jtmb.takeError()), false;
  jtmb->setCodeGenOptLevel(codeGenLevel(opts.optLevel));
  auto tm = jtmb->createTargetMachine();
  if (!tm) return error = errText(tm.takeError()), false;
  llvm::LLVMContext ctx;
  auto mod = buildModule(ctx, plan, groupSizes(layouts));
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
