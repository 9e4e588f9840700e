#include "verifier/ContextLifetime.h"

#include <mutex>
#include <vector>

namespace nfjit::verifier {

void keepUntilExit(std::unique_ptr<z3::context> ctx) {
  // Never destroyed: a static vector's destructor would delete them at exit.
  static auto* kept = new std::vector<z3::context*>;
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  kept->push_back(ctx.release());
}

}  // namespace nfjit::verifier
