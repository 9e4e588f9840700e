// -m string: a byte pattern between two offsets of the packet, searched
// from the IP header on (kernel: xt_string.c with the bm/kmp textsearch).
#include <cctype>
#include <cstdio>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

constexpr size_t kMaxPattern = 128;  // XT_STRING_MAX_PATTERN_SIZE
constexpr size_t kMaxAlgo = 16;      // XT_STRING_MAX_ALGO_NAME_SIZE, with the NUL

class StringMatch final : public MatchExt {
 public:
  explicit StringMatch(Family) {}
  std::string_view name() const override { return "string"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"from", ArgKind::Required},
        {"to", ArgKind::Required},
        {"algo", ArgKind::Required},
        {"string", ArgKind::Required, true},
        {"hex-string", ArgKind::Required, true},
        {"icase", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: from_ = static_cast<uint16_t>(args::uintOrFail(a, 0, 65535)); break;
      case 1: to_ = static_cast<uint16_t>(args::uintOrFail(a, 0, 65535)); break;
      case 2:
        if (a.value.size() >= kMaxAlgo)
          a.fail("--algo `" + a.value + "' is too long (at most 15 characters)");
        algo_ = a.value;
        break;
      case 3:
      case 4:
        if (havePattern_) a.fail("--string and --hex-string cannot be used together");
        havePattern_ = true;
        inv_ = a.inverted;
        if (a.index == 3) {
          if (a.value.size() > kMaxPattern)
            a.fail("--string is " + std::to_string(a.value.size()) + " bytes long, at most 128 allowed");
          pattern_ = a.value;
        } else {
          pattern_ = parseHex(a);
        }
        if (pattern_.empty()) a.fail("--" + std::string(a.name) + " must contain at least one character");
        break;
      case 5: icase_ = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!havePattern_) ctx.fail("STRING match: You must specify `--string' or `--hex-string'");
    if (algo_.empty()) ctx.fail("string match requires --algo (bm or kmp)");
    // The kernel's textsearch knows bm, kmp and fsm; fsm wants a token
    // program, not bytes, so only the two byte-pattern algorithms are taken.
    if (algo_ != "bm" && algo_ != "kmp") ctx.fail("string match: unknown --algo `" + algo_ + "' (bm or kmp)");
    if (from_ > to_)
      ctx.fail("string match: --from " + std::to_string(from_) + " is above --to " + std::to_string(to_));
  }
  void save(SaveWriter& w) const override {
    bool hex = pattern_.back() == '\\';
    for (char c : pattern_) hex = hex || !std::isprint(static_cast<unsigned char>(c));
    std::string s = "\"";
    if (hex) {
      s += '|';
      char buf[4];
      for (char c : pattern_) {
        std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned char>(c));
        s += buf;
      }
      s += '|';
    } else {
      for (char c : pattern_) {
        if (c == '"' || c == '\\') s += '\\';
        s += c;
      }
    }
    s += '"';
    w.opt(hex ? "hex-string" : "string", inv_).word(s);
    w.opt("algo").word(algo_);
    if (from_ != 0) w.opt("from").num(from_);
    if (to_ != 65535) w.opt("to").num(to_);
    if (icase_) w.opt("icase");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    // Bytes [from, to) of the packet; the pattern must lie wholly inside.
    uint32_t end = std::min<uint32_t>(to_, p.len);
    bool found = false;
    size_t n = pattern_.size();
    for (uint32_t i = from_; !found && end >= n && i <= end - n; ++i) {
      size_t k = 0;
      while (k < n && same(p.data[i + k], static_cast<uint8_t>(pattern_[k]))) ++k;
      found = k == n;
    }
    return found != inv_;
  }

 private:
  bool same(uint8_t x, uint8_t y) const {
    if (icase_) return std::toupper(x) == std::toupper(y);
    return x == y;
  }
  // "text|41 42|text": hex bytes between bars, `\' quotes the next character.
  static std::string parseHex(const OptionArg& a) {
    const std::string& s = a.value;
    std::string out;
    bool inHex = false;
    size_t i = 0;
    while (i < s.size()) {
      if (out.size() >= kMaxPattern) a.fail("--hex-string too long (at most 128 bytes)");
      if (s[i] == '\\') {
        if (inHex) a.fail("--hex-string: cannot include literals in hex data");
        if (i + 1 >= s.size()) a.fail("--hex-string: bad literal placement at end of string");
        out += s[i + 1];
        i += 2;
        continue;
      }
      if (s[i] == '|') {
        inHex = !inHex;
        ++i;
        if (inHex)
          while (i < s.size() && s[i] == ' ') ++i;
        continue;
      }
      if (inHex) {
        if (i + 1 >= s.size()) a.fail("--hex-string: odd number of hex digits");
        if (i + 2 >= s.size()) a.fail("--hex-string: invalid hex block (must end with `|')");
        if (!std::isxdigit(static_cast<unsigned char>(s[i])) ||
            !std::isxdigit(static_cast<unsigned char>(s[i + 1])))
          a.fail("--hex-string: invalid hex char in `" + s.substr(i, 2) + "'");
        out += static_cast<char>(std::stoi(s.substr(i, 2), nullptr, 16));
        i += s[i + 2] == ' ' ? 3 : 2;
        continue;
      }
      out += s[i++];
    }
    return out;
  }

  std::string algo_, pattern_;
  uint16_t from_ = 0, to_ = 65535;
  bool havePattern_ = false, inv_ = false, icase_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("string", kFamBoth, StringMatch);

}  // namespace nfjit
