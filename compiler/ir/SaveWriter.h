// Builds iptables-save text: every piece is preceded by one space, as
// iptables' own save functions print them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "compiler/ir/Types.h"

namespace nfjit {

class SaveWriter {
 public:
  // " --name" or " ! --name".
  SaveWriter& opt(std::string_view name, bool inverted = false);
  // " word" verbatim.
  SaveWriter& word(std::string_view w);
  SaveWriter& num(uint64_t v);
  SaveWriter& hex(uint64_t v);  // 0x-prefixed lower-case hex
  // A string argument quoted the way xtables_save_string() does: bare when
  // it is only [A-Za-z0-9_-], otherwise in double quotes with \" \\ \' escaped.
  SaveWriter& str(std::string_view s);
  // " ADDR/LEN" or " ADDR/MASK" for non-contiguous masks.
  SaveWriter& addrMask(Family f, const IpAddr& addr, const IpAddr& mask);
  SaveWriter& raw(std::string_view s) { out_ += s; return *this; }
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string saveQuoted(std::string_view s);

}  // namespace nfjit
