// Output of the analyses: compiler-style diagnostics, JSON and SARIF 2.1.0.
#pragma once
#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

#include "verifier/Verifier.h"

namespace nfjit::verifier {

void printFindings(std::ostream& os, const std::string& file, const CheckResult& r);
nlohmann::json findingsJson(const std::string& file, const CheckResult& r);
nlohmann::json findingsSarif(const std::string& file, const CheckResult& r);

nlohmann::json witnessJson(const Witness& w);

void printDiff(std::ostream& os, const std::string& oldFile, const std::string& newFile,
               const std::vector<ChainDiff>& d);
nlohmann::json diffJson(const std::string& oldFile, const std::string& newFile, const std::vector<ChainDiff>& d);

// Writes the witnesses as raw IP packets (DLT 101); returns how many.
size_t writeWitnessPcap(const std::string& path, const std::vector<const Witness*>& ws);

}  // namespace nfjit::verifier
