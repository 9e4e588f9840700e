// Checks the kernel makes when a table is loaded: no chain loops, and every
// extension only in hooks it supports, also when reached through jumps.
#pragma once
#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/Ruleset.h"

namespace nfjit {

void checkTable(const Table& table, Family family, DiagnosticEngine& diags);

}  // namespace nfjit
