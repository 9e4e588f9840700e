#pragma once
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"

namespace nfjit {

// One argument of a restore line after quote removal.
struct Token {
  std::string text;
  SourceLoc loc;
  bool quoted = false;
};
using TokenList = std::vector<Token>;

}  // namespace nfjit

namespace nfjit {
SourceLoc shiftedCol(SourceLoc l, uint32_t by);
}
