// nfjit compile: JIT-compile a ruleset; print statistics or emit the code.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "compiler/frontend/RestoreParser.h"
#include "compiler/jit/Jit.h"
#include "driver/Command.h"
#include "driver/RulesetLoader.h"

namespace nfjit::driver {
namespace {

double peakRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

void printStats(std::ostream& o, const jit::JitStats& s, double parseSeconds) {
  o << "tables            " << s.tables << "\n"
    << "chains            " << s.chains << "\n"
    << "rules             " << s.rules << "\n"
    << "  fully native    " << s.loweredRules << "\n"
    << "  match callbacks " << s.callbackMatches << "\n"
    << "rule groups       " << s.groups << "\n"
    << "field lookups     " << s.dimensions << "\n"
    << "intervals         " << s.intervals << "\n"
    << "bitset rows       " << s.bitsetRows << "\n"
    << "cross groups      " << s.crossGroups << "\n"
    << "cross entries     " << s.crossEntries << "\n"
    << "AVX-512 chains    " << s.vectorChains << "\n"
    << "packed-row chains " << s.packedChains << "\n"
    << "tuple-index chains " << s.tupleChains << "\n"
    << "table bytes       " << s.tableBytes << "\n"
    << "residual funcs    " << s.residualFunctions << "\n"
    << "IR instructions   " << s.irInstructions << "\n"
    << std::fixed << std::setprecision(1) << "peak RSS MiB      " << peakRssMiB() << "\n"
    << std::setprecision(4) << "time parse s      " << parseSeconds << "\n";
  double total = parseSeconds;
  for (const auto& p : s.phases) {
    o << "time " << std::left << std::setw(13) << (p.phase + " s") << std::right << p.seconds << "\n";
    total += p.seconds;
  }
  o << "time total s      " << total << "\n";
}

class CompileCommand final : public Command {
 public:
  std::string name() const override { return "compile"; }
  std::string description() const override { return "JIT-compile the ruleset; print statistics or emit code"; }
  int order() const override { return 50; }
  void setup(CLI::App& sub) override {
    sub.add_flag("-6,--ipv6", ipv6_, "the file is ip6tables-save output");
    sub.add_option("RULES", file_, "rules file (- for stdin)")->required();
    sub.add_option("--emit", emit_, "emit llvm (IR text), asm or obj instead of compiling in memory")
        ->check(CLI::IsMember({"llvm", "asm", "obj"}));
    sub.add_option("-o,--output", out_, "where --emit writes (default stdout)");
    sub.add_flag("--stats", stats_, "print rules, chains, structure sizes, memory and time per phase");
  }
  int run() override {
    auto t0 = std::chrono::steady_clock::now();
    auto loaded = loadRuleset(file_, ipv6_);
    if (!loaded) return 2;
    const Ruleset& rs = loaded->rules;
    double parseSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    jit::JitStats st;
    if (emit_.empty()) {
      try {
        jit::JitClassifier c(rs);
        st = c.stats();
      } catch (const std::exception& e) {
        std::cerr << "nfjit compile: error: " << e.what() << "\n";
        return 2;
      }
      if (stats_) printStats(std::cout, st, parseSeconds);
      else std::cout << "compiled " << st.rules << " rules in " << st.chains << " chains\n";
      return 0;
    }
    jit::EmitKind kind = emit_ == "llvm" ? jit::EmitKind::LlvmIr : emit_ == "asm" ? jit::EmitKind::Asm : jit::EmitKind::Obj;
    std::string code, error;
    if (!jit::emitCode(rs, kind, code, error, &st)) {
      std::cerr << "nfjit compile: error: " << error << "\n";
      return 2;
    }
    if (out_.empty() || out_ == "-") {
      std::cout.write(code.data(), std::streamsize(code.size()));
      std::cout.flush();
    } else {
      std::ofstream f(out_, std::ios::binary);
      f.write(code.data(), std::streamsize(code.size()));
      if (!f) {
        std::cerr << "nfjit compile: error: cannot write `" << out_ << "'\n";
        return 2;
      }
    }
    // Statistics go to stderr when the code takes stdout.
    if (stats_) printStats(out_.empty() || out_ == "-" ? std::cerr : std::cout, st, parseSeconds);
    return 0;
  }

 private:
  bool ipv6_ = false, stats_ = false;
  std::string file_, emit_, out_;
};

NFJIT_REGISTER_COMMAND(CompileCommand);

}  // namespace
}  // namespace nfjit::driver
