// -m u32: tests on 32-bit words fetched from the packet, with masks, shifts
// and "@" indirection (kernel: xt_u32.c).
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

constexpr unsigned kMax = 10;  // XT_U32_MAXSIZE: per-test locations/values, and tests

enum class Op : uint8_t { And, Shl, Shr, At };

struct Location {
  Op op = Op::And;  // operator before this number (unused for the first)
  uint32_t num = 0;
};
struct Test {
  std::vector<Location> loc;
  std::vector<args::Range> values;
};

class U32Match final : public MatchExt {
 public:
  explicit U32Match(Family) {}
  std::string_view name() const override { return "u32"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"u32", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    inv_ = a.inverted;
    tests_.clear();
    parse(a);
  }
  void finalCheck(const RuleContext& ctx) override {
    if (tests_.empty()) ctx.fail("u32 match requires --u32");
  }
  void save(SaveWriter& w) const override {
    std::string s = "\"";
    char buf[32];
    for (size_t t = 0; t < tests_.size(); ++t) {
      if (t) s += "&&";
      const Test& ct = tests_[t];
      for (size_t i = 0; i < ct.loc.size(); ++i) {
        if (i)
          s += ct.loc[i].op == Op::And   ? "&"
               : ct.loc[i].op == Op::Shl ? "<<"
               : ct.loc[i].op == Op::Shr ? ">>"
                                         : "@";
        std::snprintf(buf, sizeof buf, "0x%x", ct.loc[i].num);
        s += buf;
      }
      s += '=';
      for (size_t i = 0; i < ct.values.size(); ++i) {
        if (i) s += ',';
        const auto& v = ct.values[i];
        if (v.lo == v.hi)
          std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v.lo));
        else
          std::snprintf(buf, sizeof buf, "0x%llx:0x%llx", static_cast<unsigned long long>(v.lo),
                        static_cast<unsigned long long>(v.hi));
        s += buf;
      }
    }
    s += '"';
    w.opt("u32", inv_).word(s);
  }
  bool match(EvalContext& ctx) const override { return run(ctx.pkt) != inv_; }

 private:
  bool word(const PacketView& p, uint32_t off, uint32_t& v) const {
    uint8_t b[4];
    if (!headerAt(p, off, b, 4)) return false;
    v = be32(b);
    return true;
  }
  // Every test must hold; a fetch outside the packet fails the whole match.
  bool run(const PacketView& p) const {
    for (const Test& ct : tests_) {
      uint32_t pos = ct.loc[0].num, at = 0, val;
      if (p.len < 4 || pos > p.len - 4) return false;
      if (!word(p, pos, val)) return false;
      for (size_t i = 1; i < ct.loc.size(); ++i) {
        uint32_t n = ct.loc[i].num;
        switch (ct.loc[i].op) {
          case Op::And: val &= n; break;
          case Op::Shl: val <<= (n & 31); break;  // shift counts wrap as on x86
          case Op::Shr: val >>= (n & 31); break;
          case Op::At:
            if (at + val < at) return false;
            at += val;
            pos = n;
            if (at + 4 < at || p.len < at + 4 || pos > p.len - at - 4) return false;
            if (!word(p, at + pos, val)) return false;
            break;
        }
      }
      bool hit = false;
      for (const auto& r : ct.values) hit = hit || hdr::inRange(val, r);
      if (!hit) return false;
    }
    return true;
  }

  // strtoul-style number (base 0, no sign), leading blanks skipped.
  static uint32_t number(const OptionArg& a, const std::string& s, size_t& i) {
    size_t j = i;
    while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j < s.size() && (s[j] == '-' || s[j] == '+'))
      a.fail("u32: at char " + std::to_string(i) + ": not a number or out of range in `" + s + "'");
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str() + j, &end, 0);
    size_t consumed = static_cast<size_t>(end - s.c_str());
    if (consumed == j || errno == ERANGE || v > UINT32_MAX)
      a.fail("u32: at char " + std::to_string(i) + ": not a number or out of range in `" + s + "'");
    i = consumed;
    return static_cast<uint32_t>(v);
  }
  void parse(const OptionArg& a) {
    const std::string& s = a.value;
    auto err = [&](size_t at, const std::string& what) {
      a.fail("u32: at char " + std::to_string(at) + ": " + what + " in `" + s + "'");
    };
    Test ct;
    bool values = false;  // false: reading the location, true: the value list
    size_t i = 0;
    for (;;) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i == s.size()) {
        if (!values) err(i, "abrupt end of input after location specifier");
        if (ct.values.empty()) err(i, "test ended with no value specified");
        tests_.push_back(std::move(ct));
        if (tests_.size() > kMax) err(i, "too many \"&&\"s");
        return;
      }
      if (!values) {
        if (s[i] == '=') {
          if (ct.loc.empty()) err(i, "location spec missing");
          ++i;
          values = true;
          continue;
        }
        Location l;
        if (!ct.loc.empty()) {
          switch (s[i]) {
            case '&': l.op = Op::And; break;
            case '<':
              if (i + 1 >= s.size() || s[i + 1] != '<') err(i + 1, "a second '<' was expected");
              ++i;
              l.op = Op::Shl;
              break;
            case '>':
              if (i + 1 >= s.size() || s[i + 1] != '>') err(i + 1, "a second '>' was expected");
              ++i;
              l.op = Op::Shr;
              break;
            case '@': l.op = Op::At; break;
            default: err(i, "operator expected");
          }
          ++i;
        }
        l.num = number(a, s, i);
        ct.loc.push_back(l);
        if (ct.loc.size() > kMax) err(i, "too many operators");
      } else {
        if (s[i] == '&') {
          if (i + 1 >= s.size() || s[i + 1] != '&') err(i + 1, "a second '&' was expected");
          if (ct.values.empty()) err(i, "value spec missing");
          tests_.push_back(std::move(ct));
          ct = Test{};
          if (tests_.size() > kMax) err(i, "too many \"&&\"s");
          i += 2;
          values = false;
          continue;
        }
        if (!ct.values.empty()) {
          if (s[i] != ',') err(i, "expected \",\" or \"&&\"");
          ++i;
        }
        args::Range r;
        r.lo = r.hi = number(a, s, i);
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        if (i < s.size() && s[i] == ':') {
          ++i;
          r.hi = number(a, s, i);
        }
        ct.values.push_back(r);
        if (ct.values.size() > kMax) err(i, "too many \",\"s");
      }
    }
  }

  std::vector<Test> tests_;
  bool inv_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("u32", kFamBoth, U32Match);

}  // namespace nfjit
