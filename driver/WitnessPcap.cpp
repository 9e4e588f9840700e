#include "driver/WitnessPcap.h"

#include <exception>
#include <iostream>

#include "verifier/Report.h"

namespace nfjit::driver {

bool writeWitnesses(const std::string& path, const std::vector<const verifier::Witness*>& ws) {
  try {
    verifier::writeWitnessPcap(path, ws);
  } catch (const std::exception& e) {
    std::cerr << path << ": error: " << e.what() << "\n";
    return false;
  }
  return true;
}

}  // namespace nfjit::driver
