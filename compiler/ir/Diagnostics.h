// Source locations and diagnostics in the `FILE:LINE:COL: error: MSG` form.
#pragma once
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nfjit {

struct SourceLoc {
  uint32_t line = 0;  // 1-based; 0 = unknown
  uint32_t col = 0;   // 1-based
};

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLoc loc;
  std::string message;
  std::string flag;  // -W name for warnings, empty otherwise
};

// Thrown by parsers and checks; the front end turns it into a Diagnostic.
class ParseError : public std::runtime_error {
 public:
  ParseError(SourceLoc loc, std::string message)
      : std::runtime_error(message), loc_(loc) {}
  SourceLoc loc() const { return loc_; }

 private:
  SourceLoc loc_;
};

class DiagnosticEngine {
 public:
  explicit DiagnosticEngine(std::string file = "<input>") : file_(std::move(file)) {}
  void report(Diagnostic d) { diags_.push_back(std::move(d)); }
  void error(SourceLoc loc, std::string msg) { report({Severity::Error, loc, std::move(msg), {}}); }
  void warning(SourceLoc loc, std::string msg, std::string flag = {}) {
    report({Severity::Warning, loc, std::move(msg), std::move(flag)});
  }
  void note(SourceLoc loc, std::string msg) { report({Severity::Note, loc, std::move(msg), {}}); }
  bool hasErrors() const;
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  const std::string& file() const { return file_; }
  // Prints at most `limit` errors (then a count of the rest), as compilers do.
  void print(std::ostream& os, size_t limit = 50) const;
  std::string format(const Diagnostic& d) const;

 private:
  std::string file_;
  std::vector<Diagnostic> diags_;
};

}  // namespace nfjit
