#include "compiler/ir/SaveWriter.h"

#include <cstdio>

namespace nfjit {

SaveWriter& SaveWriter::opt(std::string_view name, bool inverted) {
  if (inverted) out_ += " !";
  out_ += " --";
  out_ += name;
  return *this;
}

SaveWriter& SaveWriter::word(std::string_view w) {
  out_ += ' ';
  out_ += w;
  return *this;
}

SaveWriter& SaveWriter::num(uint64_t v) {
  out_ += ' ';
  out_ += std::to_string(v);
  return *this;
}

SaveWriter& SaveWriter::hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, " 0x%llx", static_cast<unsigned long long>(v));
  out_ += buf;
  return *this;
}

std::string saveQuoted(std::string_view s) {
  auto bare = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  };
  bool allBare = !s.empty();
  for (char c : s) allBare = allBare && bare(c);
  if (allBare) return std::string(s);
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '\'') r += '\\';
    r += c;
  }
  r += '"';
  return r;
}

SaveWriter& SaveWriter::str(std::string_view s) {
  out_ += ' ';
  out_ += saveQuoted(s);
  return *this;
}

SaveWriter& SaveWriter::addrMask(Family f, const IpAddr& addr, const IpAddr& mask) {
  out_ += ' ';
  out_ += formatIpAddr(f, addr);
  int len = maskPrefixLen(f, mask);
  out_ += '/';
  if (len >= 0)
    out_ += std::to_string(len);
  else
    out_ += formatIpAddr(f, mask);
  return *this;
}

}  // namespace nfjit
