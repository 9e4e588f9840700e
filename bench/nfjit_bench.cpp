// nfjit-bench classify SET.iptables SET.trace SET.trace.match [--json]
// Runs, in one process and on one core, the JIT classifier, the reference
// interpreter and (when built with DPDK) rte_acl over a ClassBench trace:
// throughput in batches of 64, build time, memory, mismatches against the
// ground truth.
// nfjit-bench update SET.iptables SET.trace SET.trace.match [--ops N]
// Inserts and deletes rules of chain CB while another thread classifies the
// trace: time-to-effect of each update and the classifier's throughput.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/Trace.h"
#include "bench/UpdateBench.h"
#include "compiler/frontend/RestoreParser.h"
#include "compiler/interp/Interpreter.h"
#include "compiler/jit/Jit.h"
#ifdef NFJIT_HAVE_DPDK
#include "bench/DpdkAcl.h"
#endif

namespace nfjit::bench {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Resident memory. Called before a build, it first returns the heap's free
// pages to the system (glibc keeps them otherwise), so that the growth over
// the build is the engine's own, whatever ran before.
double rssMiB(bool trimFirst = false) {
  if (trimFirst) malloc_trim(0);
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

struct Result {
  std::string engine, note;
  double mpps = 0, cpuMpps = 0, buildS = 0, memMiB = 0;
  size_t packets = 0, mismatches = 0;
};

constexpr size_t kBatch = 64;

double cpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Repeats `pass` (which classifies `n` packets) for at least minSeconds.
// Returns Mpps over wall-clock time; *cpuMpps is over this thread's CPU
// time, which leaves out the time other processes on a shared machine took.
double measureMpps(size_t n, double minSeconds, const std::function<void()>& pass, double* cpuMpps) {
  pass();  // warm-up
  size_t passes = 0;
  auto t0 = Clock::now();
  double c0 = cpuSeconds();
  do {
    pass();
    ++passes;
  } while (since(t0) < minSeconds);
  *cpuMpps = double(n) * double(passes) / (cpuSeconds() - c0) / 1e6;
  return double(n) * double(passes) / since(t0) / 1e6;
}

size_t countMismatches(const std::vector<int32_t>& got, const std::vector<int32_t>& want, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += got[i] != want[i];
  return bad;
}

// Packet views over 40-byte IPv4+L4 headers built from the trace.
struct Views {
  std::vector<std::array<uint8_t, 40>> bytes;
  std::vector<PacketView> views;
  explicit Views(const std::vector<Packet>& pk) : bytes(pk.size()), views(pk.size()) {
    for (size_t i = 0; i < pk.size(); ++i) {
      auto& b = bytes[i];
      b.fill(0);
      b[20] = uint8_t(pk[i].sport >> 8), b[21] = uint8_t(pk[i].sport);
      b[22] = uint8_t(pk[i].dport >> 8), b[23] = uint8_t(pk[i].dport);
      PacketView& v = views[i];
      v.data = b.data();
      v.len = 40;
      v.thoff = 20;
      v.src = IpAddr::fromV4(pk[i].sip);
      v.dst = IpAddr::fromV4(pk[i].dip);
      v.protocol = pk[i].proto;
      v.inIface = "in0";
      v.outIface = "out0";
    }
  }
};

struct Options {
  std::string mode, rules, trace, match;
  uint32_t groupRules = jit::JitOptions{}.groupRules;
  size_t packRowsAbove = jit::JitOptions{}.packRowsAbove;
  uint32_t largeGroupRules = jit::JitOptions{}.largeGroupRules;
  size_t crossEntries = jit::JitOptions{}.crossEntries;
  size_t largeCrossPerRule = jit::JitOptions{}.largeCrossEntriesPerRule;
  uint32_t largeDenseGroupRules = jit::JitOptions{}.largeDenseGroupRules;
  size_t ops = 200;
  bool json = false;
  bool tupleIndex = jit::JitOptions{}.tupleIndex;
  std::vector<std::string> engines = {"jit", "jit-run", "interp", "acl"};
  double minSeconds = 1.0;
  size_t interpPackets = 0;  // 0: scaled to the rule count
  size_t maxPackets = 0;     // 0: the whole trace
};

int usage() {
  std::cerr << "usage: nfjit-bench classify SET.iptables SET.trace SET.trace.match [--json]\n"
               "         [--engines jit,jit-scalar,jit-run,interp,acl] [--seconds S] [--interp-packets N] [--packets N]\n"
               "         [--group-rules N] [--pack-rows-above N] [--large-group-rules N]\n"
               "         [--cross-entries N] [--large-cross-per-rule N] [--large-dense-group-rules N] [--no-tuple-index]\n"
               "       nfjit-bench update SET.iptables SET.trace SET.trace.match [--ops N] [--group-rules N]\n";
  return 2;
}

std::optional<Options> parseArgs(int argc, char** argv) {
  Options o;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (a == "--json") {
      o.json = true;
    } else if (a == "--no-tuple-index") {
      o.tupleIndex = false;
    } else if (a == "--engines" || a == "--seconds" || a == "--interp-packets" || a == "--packets" ||
               a == "--group-rules" || a == "--ops" || a == "--pack-rows-above" || a == "--cross-entries" ||
               a == "--large-cross-per-rule" || a == "--large-dense-group-rules" ||
               a == "--large-group-rules") {
      auto v = value();
      if (!v) return std::nullopt;
      if (a == "--engines") {
        o.engines.clear();
        std::istringstream s(*v);
        for (std::string e; std::getline(s, e, ',');) o.engines.push_back(e);
      } else if (a == "--seconds") {
        o.minSeconds = std::stod(*v);
      } else if (a == "--group-rules") {
        o.groupRules = uint32_t(std::stoul(*v));
      } else if (a == "--pack-rows-above") {
        o.packRowsAbove = std::stoul(*v);
      } else if (a == "--large-group-rules") {
        o.largeGroupRules = uint32_t(std::stoul(*v));
      } else if (a == "--cross-entries") {
        o.crossEntries = std::stoul(*v);
      } else if (a == "--large-cross-per-rule") {
        o.largeCrossPerRule = std::stoul(*v);
      } else if (a == "--large-dense-group-rules") {
        o.largeDenseGroupRules = uint32_t(std::stoul(*v));
      } else if (a == "--ops") {
        o.ops = std::stoul(*v);
      } else if (a == "--interp-packets") {
        o.interpPackets = std::stoul(*v);
      } else {
        o.maxPackets = std::stoul(*v);
      }
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 4 || (pos[0] != "classify" && pos[0] != "update")) return std::nullopt;
  o.mode = pos[0], o.rules = pos[1], o.trace = pos[2], o.match = pos[3];
  return o;
}

std::string canonPath(const std::string& iptables) {
  std::string p = iptables;
  auto dot = p.rfind(".iptables");
  if (dot != std::string::npos) p.resize(dot);
  return p + ".canon";
}

int run(const Options& o) {
  auto packets = loadTrace(o.trace);
  auto want = loadMatches(o.match);
  if (want.size() < packets.size()) packets.resize(want.size());
  if (o.maxPackets && o.maxPackets < packets.size()) packets.resize(o.maxPackets);
  const size_t n = packets.size();
  auto canon = loadCanon(canonPath(o.rules));
  auto ids = iptablesRuleIds(canon);

  DiagnosticEngine diags(o.rules);
  auto text = readInputFile(o.rules, diags);
  if (!text) {
    diags.print(std::cerr);
    return 2;
  }
  auto t0 = Clock::now();
  Ruleset rs = parseRestore(*text, ParseOptions{}, diags);
  double parseS = since(t0);
  if (diags.hasErrors()) {
    diags.print(std::cerr);
    return 2;
  }
  const Table* filter = rs.findTable("filter");
  size_t ti = size_t(filter - rs.tables.data()), cb = 0;
  while (cb < filter->chains.size() && filter->chains[cb].name != "CB") ++cb;
  if (cb == filter->chains.size() || filter->chains[cb].rules.size() != ids.size()) {
    std::cerr << "nfjit-bench: " << o.rules << " has no chain CB matching " << canonPath(o.rules) << "\n";
    return 2;
  }
  Views views(packets);
  if (o.mode == "update") {
    UpdateBenchInput in{&rs, *text, ti, cb, {}, want, ids, o.groupRules, o.ops};
    jit::IfacePatterns none;
    in.keys.resize(n);
    for (size_t i = 0; i < n; ++i) jit::extractKey(views.views[i], none, in.keys[i]);
    in.want.resize(n);
    return runUpdateBench(in);
  }
  auto idOf = [&](const TraversalResult& r) {
    int32_t id = -1;
    for (const auto& m : r.matched)
      if (!m.isPolicy && m.chain == cb) id = ids[m.rule];
    return id;
  };

  std::vector<Result> results;
  std::vector<int32_t> got(n, -1);
  std::unique_ptr<jit::JitClassifier> jitc;
  auto buildJit = [&](Result& r, bool simd) {
    double m0 = rssMiB(true);
    auto b0 = Clock::now();
    jit::JitOptions jo;
    jo.groupRules = o.groupRules;
    jo.packRowsAbove = o.packRowsAbove;
    jo.largeGroupRules = o.largeGroupRules;
    jo.crossEntries = o.crossEntries;
    jo.largeCrossEntriesPerRule = o.largeCrossPerRule;
    jo.largeDenseGroupRules = o.largeDenseGroupRules;
    jo.simd = simd;
    jo.tupleIndex = o.tupleIndex;
    jitc = std::make_unique<jit::JitClassifier>(rs, jo);
    r.buildS = since(b0);
    r.memMiB = rssMiB() - m0;
  };
  for (const std::string& e : o.engines) {
    Result r;
    r.engine = e;
    if (e == "jit" || e == "jit-scalar") {
      // The CB chain's native search over prepared keys (like rte_acl's tuples);
      // jit-scalar without the AVX-512 stages.
      buildJit(r, e == "jit");
      if (jitc->chainCallsBack(ti, cb)) {
        std::cerr << "nfjit-bench: chain CB calls back into extensions\n";
        return 2;
      }
      std::vector<jit::JitKey> keys(n);
      for (size_t i = 0; i < n; ++i) jitc->makeKey(views.views[i], keys[i]);
      jit::EpochDomain::Reader reader(jitc->epochs());
      jit::ChainSearch& search = jitc->chainSearch(ti, cb);
      std::vector<int32_t> idx(n);
      r.packets = n;
      r.mpps = measureMpps(n, o.minSeconds, [&] {
        for (size_t i = 0; i < n; i += kBatch) {
          size_t m = std::min(kBatch, n - i);
          jit::ReadSection section(reader);
          const jit::Snapshot& snap = *search.current();
          jit::ChainSearch::findBatch(snap, &keys[i], m, &idx[i], nullptr);
        }
      }, &r.cpuMpps);
      for (size_t i = 0; i < n; ++i) got[i] = idx[i] < 0 ? -1 : ids[size_t(idx[i])];
      r.note = "CB chain search only; " + std::to_string(jitc->stats().groups) + " groups (" +
               std::to_string(jitc->stats().crossGroups) + " with cross products), tables " +
               std::to_string(jitc->stats().tableBytes / 1024) + " KiB";
    } else if (e == "jit-run") {
      // The whole traversal replay uses: FORWARD -> CB, counters, matched list.
      if (!jitc) buildJit(r, true);
      else r.note = "build shared with jit; ";
      r.packets = n;
      r.mpps = measureMpps(n, o.minSeconds, [&] {
        for (size_t i = 0; i < n; ++i) {
          EvalContext ctx{views.views[i]};
          got[i] = idOf(jitc->run("filter", Hook::Forward, ctx));
        }
      }, &r.cpuMpps);
      r.note += "JitClassifier::run FORWARD";
    } else if (e == "interp") {
      double m0 = rssMiB(true);
      auto b0 = Clock::now();
      Interpreter in(rs);
      r.buildS = since(b0);
      r.memMiB = rssMiB() - m0;
      size_t limit = o.interpPackets ? o.interpPackets : std::max<size_t>(2000, 20'000'000 / ids.size());
      r.packets = std::min(n, limit);
      r.mpps = measureMpps(r.packets, o.minSeconds, [&] {
        for (size_t i = 0; i < r.packets; ++i) {
          EvalContext ctx{views.views[i]};
          got[i] = idOf(in.run("filter", Hook::Forward, ctx));
        }
      }, &r.cpuMpps);
      r.note = "Interpreter::run FORWARD, first " + std::to_string(r.packets) + " packets";
    } else if (e == "acl") {
#ifdef NFJIT_HAVE_DPDK
      std::string err;
      if (!DpdkAcl::init(err)) {
        std::cerr << "nfjit-bench: DPDK: " << err << "\n";
        continue;
      }
      std::fflush(stdout);
      double m0 = rssMiB(true);
      auto b0 = Clock::now();
      DpdkAcl acl(canon, err);
      r.buildS = since(b0);
      r.memMiB = rssMiB() - m0;
      if (!acl.ok()) {
        std::cerr << "nfjit-bench: DPDK: " << err << "\n";
        continue;
      }
      acl.setPackets(packets);
      r.packets = n;
      r.mpps = measureMpps(n, o.minSeconds, [&] { acl.classify(0, n, got); }, &r.cpuMpps);
      r.note = "rte_acl " + acl.algorithm();
#else
      std::cerr << "nfjit-bench: built without DPDK; skipping acl\n";
      continue;
#endif
    } else {
      std::cerr << "nfjit-bench: unknown engine `" << e << "'\n";
      return 2;
    }
    r.mismatches = countMismatches(got, want, r.packets);
    std::fill(got.begin(), got.end(), -1);
    results.push_back(r);
  }

  if (o.json) {
    for (const auto& r : results)
      std::printf(
          "{\"engine\":\"%s\",\"mpps\":%.4f,\"cpu_mpps\":%.4f,\"build_s\":%.4f,\"mem_mib\":%.2f,\"mismatches\":%zu,\"packets\":%zu,"
          "\"rules\":%zu}\n",
          r.engine.c_str(), r.mpps, r.cpuMpps, r.buildS, r.memMiB, r.mismatches, r.packets, ids.size());
    return 0;
  }
  std::printf("%s: %zu rules, %zu packets (parse %.3f s)\n", o.rules.c_str(), ids.size(), n, parseS);
  std::printf("%-8s %10s %9s %9s %10s  %s\n", "engine", "Mpps", "build_s", "mem_MiB", "mismatch", "note");
  for (const auto& r : results)
    std::printf("%-8s %10.3f %9.4f %9.2f %10zu  %s\n", r.engine.c_str(), r.mpps, r.buildS, r.memMiB, r.mismatches,
                r.note.c_str());
  auto find = [&](const char* e) -> const Result* {
    for (const auto& r : results)
      if (r.engine == e) return &r;
    return nullptr;
  };
  const Result* j = find("jit");
  for (const char* other : {"interp", "acl"})
    if (const Result* x = find(other); j && x && x->mpps > 0)
      std::printf("jit / %s throughput: %.2fx\n", other, j->mpps / x->mpps);
  return 0;
}

}  // namespace
}  // namespace nfjit::bench

int main(int argc, char** argv) {
  auto o = nfjit::bench::parseArgs(argc, argv);
  if (!o) return nfjit::bench::usage();
  try {
    return nfjit::bench::run(*o);
  } catch (const std::exception& e) {
    std::cerr << "nfjit-bench: " << e.what() << "\n";
    return 2;
  }
}
