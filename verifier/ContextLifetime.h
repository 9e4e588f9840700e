// Z3_del_context frees every term the bit-blaster made one by one: after a
// run over thousands of rules that takes minutes, longer than the analysis.
// Large runs hand their context over here instead; it stays reachable (so
// leak checkers stay quiet) and the operating system reclaims it at exit.
#pragma once
#include <z3++.h>

#include <cstddef>
#include <memory>

namespace nfjit::verifier {

void keepUntilExit(std::unique_ptr<z3::context> ctx);

// Above this many rule occurrences (or rules, for diff) a run counts as large.
constexpr size_t kKeepContextAbove = 3000;

}  // namespace nfjit::verifier
