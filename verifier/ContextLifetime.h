// Z3_del_context frees every term the bit-blaster made one by one: after a
// run over thousands of rules that takes minutes, longer than the analysis.
// Large runs hand their context over here instead; it stays reachable (so
// leak checkers stay quiet) and the operating system reclaims it at exit.
#pragma once
#include <z3++.h>

#include <memory>

namespace nfjit::verifier {

void keepUntilExit(std::unique_ptr<z3::context> ctx);

}  // namespace nfjit::verifier
