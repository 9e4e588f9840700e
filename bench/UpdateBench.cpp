#include "bench/UpdateBench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include <time.h>

#include "compiler/frontend/RestoreParser.h"
#include "compiler/jit/Jit.h"

namespace nfjit::bench {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// This thread's CPU time: the update's own work, without the time the
// scheduler gave other threads on the shared cores.
double threadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Summary {
  double median = 0, p99 = 0, max = 0;
};
Summary summarise(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)], v.back()};
}

// Classifies the trace in batches of 64 until stopped, counting packets.
class ClassifierThread {
 public:
  ClassifierThread(jit::JitClassifier& c, jit::ChainSearch& s, const std::vector<jit::JitKey>& keys)
      : thread_([this, &c, &s, &keys] {
          jit::EpochDomain::Reader reader(c.epochs());
          std::vector<int32_t> out(64);
          while (!stop_.load(std::memory_order_relaxed))
            for (size_t i = 0; i < keys.size(); i += 64) {
              size_t m = std::min<size_t>(64, keys.size() - i);
              jit::ReadSection section(reader);
              jit::ChainSearch::findBatch(*s.current(), &keys[i], m, out.data(), nullptr);
              packets_.fetch_add(m, std::memory_order_relaxed);
            }
        }) {}
  ~ClassifierThread() {
    stop_ = true;
    thread_.join();
  }
  uint64_t packets() const { return packets_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> packets_{0};
  std::thread thread_;
};

// Packets per second over `seconds` of wall time.
double rateOver(const ClassifierThread& t, double seconds) {
  uint64_t p0 = t.packets();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return double(t.packets() - p0) / since(t0) / 1e6;
}

}  // namespace

int runUpdateBench(const UpdateBenchInput& in) {
  // The rules to insert: the set's own CB rules, from a second parse.
  DiagnosticEngine diags("pool");
  Ruleset pool = parseRestore(in.rulesText, ParseOptions{}, diags);
  std::vector<std::shared_ptr<const Rule>> rules;
  for (Rule& r : pool.tables[in.table].chains[in.chain].rules) rules.push_back(std::make_shared<const Rule>(std::move(r)));

  jit::JitOptions opts;
  opts.groupRules = in.groupRules;
  auto b0 = Clock::now();
  jit::JitClassifier jitc(*in.rs, opts);
  double buildS = since(b0);
  jit::ChainSearch& search = jitc.chainSearch(in.table, in.chain);

  std::vector<double> insertMs, deleteMs, cpuMs;
  double idleMpps = 0, busyMpps = 0, afterMpps = 0, updateS = 0, settleS = 0;
  size_t crossBefore = search.current()->crossGroups, crossRightAfter = 0, crossSettled = 0;
  {
    ClassifierThread classifier(jitc, search, in.keys);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // warm up
    idleMpps = rateOver(classifier, 1.0);
    // Each insert is undone by a delete at the same position, so the chain
    // ends as it started (checked below).
    std::mt19937_64 rng(1);
    uint64_t p0 = classifier.packets();
    auto u0 = Clock::now();
    for (size_t op = 0; op < in.ops; ++op) {
      uint32_t pos = uint32_t(rng() % (search.current()->rules + 1));
      auto t = Clock::now();
      double c = threadCpuSeconds();
      jitc.insertRule(in.table, in.chain, pos, rules[rng() % rules.size()]);
      insertMs.push_back(since(t) * 1e3);
      cpuMs.push_back((threadCpuSeconds() - c) * 1e3);
      t = Clock::now();
      c = threadCpuSeconds();
      jitc.deleteRule(in.table, in.chain, pos);
      deleteMs.push_back(since(t) * 1e3);
      cpuMs.push_back((threadCpuSeconds() - c) * 1e3);
    }
    updateS = since(u0);
    busyMpps = double(classifier.packets() - p0) / updateS / 1e6;
    // Large groups get their cross products back from the background thread.
    crossRightAfter = search.current()->crossGroups;
    auto s0 = Clock::now();
    search.settle();
    settleS = since(s0);
    crossSettled = search.current()->crossGroups;
    afterMpps = rateOver(classifier, 1.0);
  }

  std::vector<int32_t> idx(in.keys.size());
  jit::EpochDomain::Reader reader(jitc.epochs());
  {
    jit::ReadSection section(reader);
    jit::ChainSearch::findBatch(*search.current(), in.keys.data(), in.keys.size(), idx.data(), nullptr);
  }
  size_t mismatches = 0;
  for (size_t i = 0; i < idx.size(); ++i) mismatches += (idx[i] < 0 ? -1 : in.ids[size_t(idx[i])]) != in.want[i];

  Summary ins = summarise(insertMs), del = summarise(deleteMs), cpu = summarise(cpuMs);
  std::printf("%zu rules, %zu groups of <= %u, build %.3f s\n", size_t(search.current()->rules),
              search.current()->groups.size(), search.groupRules(), buildS);
  std::printf("%zu inserts + %zu deletes in %.2f s while a thread classifies %zu packets in batches of 64\n",
              insertMs.size(), deleteMs.size(), updateS, in.keys.size());
  std::printf("time to effect ms   median %7.3f  p99 %7.3f  max %7.3f  (insert)\n", ins.median, ins.p99, ins.max);
  std::printf("                    median %7.3f  p99 %7.3f  max %7.3f  (delete)\n", del.median, del.p99, del.max);
  std::printf("updater CPU ms      median %7.3f  p99 %7.3f  max %7.3f  (both)\n", cpu.median, cpu.p99, cpu.max);
  std::printf("classifier Mpps     %.3f idle, %.3f during updates (2 cores: classifier, updater, background builds)\n",
              idleMpps, busyMpps);
  std::printf("cross-product groups %zu before, %zu right after the updates, %zu after %.2f s of background builds\n",
              crossBefore, crossRightAfter, crossSettled, settleS);
  std::printf("classifier Mpps     %.3f idle after the background builds\n", afterMpps);
  std::printf("mismatches after the updates: %zu of %zu\n", mismatches, idx.size());
  return mismatches ? 1 : 0;
}

}  // namespace nfjit::bench
