#include "tests/support/CorpusManifest.h"

#include <fstream>

namespace nfjit::testing {

std::vector<ManifestRow> readCorpusManifest(const std::filesystem::path& corpusDir) {
  std::vector<ManifestRow> rows;
  std::ifstream in(corpusDir / "MANIFEST.tsv");
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cols;
    size_t start = 0;
    for (;;) {
      size_t tab = line.find('\t', start);
      cols.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (cols.size() < 3) continue;
    ManifestRow r;
    r.file = cols[0];
    r.family = cols[1] == "6" ? Family::IPv6 : Family::IPv4;
    r.kernelAccepts = cols[2] == "accepts";
    if (cols.size() > 3) r.firstError = cols[3];
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace nfjit::testing
