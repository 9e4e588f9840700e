// ../shared/corpus/MANIFEST.tsv: every corpus dump with its family and
// whether the kernel's restore tool accepts it (with its first error when not).
#pragma once
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "compiler/ir/Types.h"

namespace nfjit::testing {

struct ManifestRow {
  std::string file;  // relative to the corpus folder
  Family family = Family::IPv4;
  bool kernelAccepts = false;
  std::string firstError;
};

// For gtest's messages and names: the file, not the bytes of the struct.
inline void PrintTo(const ManifestRow& r, std::ostream* os) { *os << r.file; }

// The rows of corpusDir/MANIFEST.tsv (header skipped, CRLF and blank lines
// tolerated); empty when the file is missing.
std::vector<ManifestRow> readCorpusManifest(const std::filesystem::path& corpusDir);

}  // namespace nfjit::testing
