// A scratch directory for one test, removed with everything in it when the
// test ends.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace nfjit::testsupport {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "nfjit-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
    dir_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return dir_; }
  // The path of `name` inside; with content, the file is written first.
  std::string file(const std::string& name, const std::string& content = {}) const {
    auto p = (dir_ / name).string();
    if (!content.empty()) std::ofstream(p) << content;
    return p;
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace nfjit::testsupport
