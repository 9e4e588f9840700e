// Writing witness packets for --witness-pcap / --cover-pcap: a file that
// cannot be written is reported as `FILE: error: ...`.
#pragma once
#include <string>
#include <vector>

#include "verifier/Witness.h"

namespace nfjit::driver {

// False after printing the error.
bool writeWitnesses(const std::string& path, const std::vector<const verifier::Witness*>& ws);

}  // namespace nfjit::driver
