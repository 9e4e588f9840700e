#include "tests/support/TFile.h"

#include <fstream>
#include <sstream>

#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"

namespace nfjit::testing {
namespace {

std::vector<std::string> splitSemi(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ';') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string basename(const std::string& p) {
  auto pos = p.rfind('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

// One rule in one chain: parse it as iptables-restore input and print it back.
bool runOne(Family f, const std::string& table, const std::string& chain, const std::string& rule,
            std::string& printed, std::string& error) {
  std::string text = "*" + table + "\n-A " + chain + " " + rule + "\nCOMMIT\n";
  DiagnosticEngine diags("t");
  ParseOptions po;
  po.family = f;
  Ruleset rs = parseRestore(text, po, diags);
  if (diags.hasErrors()) {
    error = diags.format(diags.diagnostics().front());
    return false;
  }
  const Table* t = rs.findTable(table);
  const Chain* c = t ? t->findChain(chain) : nullptr;
  if (!c || c->rules.empty()) {
    error = "rule vanished";
    return false;
  }
  printed.clear();
  for (const auto& r : c->rules) {
    if (!printed.empty()) printed += '\n';
    printed += printRule(r, chain, f);
  }
  return true;
}

}  // namespace

std::vector<Family> familiesForTFile(const std::string& filename) {
  std::string b = basename(filename);
  if (b.starts_with("libxt_")) return {Family::IPv4, Family::IPv6};
  if (b.starts_with("libipt_") || b == "iptables.t") return {Family::IPv4};
  if (b.starts_with("libip6t_")) return {Family::IPv6};
  return {};
}

std::vector<TLineResult> runTFile(const std::string& path, Family family) {
  std::vector<TLineResult> results;
  std::ifstream in(path);
  std::string line;
  std::string table = "filter";
  std::vector<std::string> chains;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == ':') {
      chains.clear();
      std::stringstream ss(line.substr(1));
      std::string c;
      while (std::getline(ss, c, ',')) chains.push_back(c);
      continue;
    }
    if (line[0] == '*') {
      table = line.substr(1);
      continue;
    }
    if (line[0] == '@' || line[0] == '%') continue;  // external commands (nfacct, ipset...)
    auto items = splitSemi(line);
    if (items.size() < 3) continue;
    std::string res = items[2];
    if (items.size() > 3) {
      // Variant-scoped results: nfjit follows the legacy (x_tables) backend.
      std::string variant = items[3];
      if (variant == "NFT") {
        if (items.size() > 4) res = items[4];
        else res = res == "OK" ? "FAIL" : "OK";
      }
    }
    TLineResult r;
    r.file = basename(path);
    r.line = lineno;
    r.family = family;
    r.rule = items[0];
    r.expectResult = res;
    r.passed = true;
    for (const auto& chain : chains) {
      std::string expected = "-A " + chain + " " + (items[1] == "=" ? items[0] : items[1]);
      std::string printed, error;
      bool ok = runOne(family, table, chain, items[0], printed, error);
      r.chain = chain;
      if (res == "FAIL") {
        if (ok) {
          r.passed = false;
          r.got = "accepted: " + printed;
          break;
        }
        r.got = error;
      } else if (res == "OK") {
        r.expected = expected;
        if (!ok) {
          r.passed = false;
          r.got = "rejected: " + error;
          break;
        }
        if (printed != expected) {
          r.passed = false;
          r.got = printed;
          break;
        }
      } else {  // NOMATCH: loads, but saves differently
        if (!ok || printed == expected) {
          r.passed = false;
          r.got = ok ? printed : "rejected: " + error;
          break;
        }
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace nfjit::testing
