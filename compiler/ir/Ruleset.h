// The IR: per family, tables of chains of rules. A rule is the IP header
// match (-s -d -i -o -p -f), a conjunction of extension matches, and a
// target. Every rule keeps its source location.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/Extension.h"
#include "compiler/ir/Types.h"

namespace nfjit {

struct Counters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool operator==(const Counters&) const = default;
};

// The part of a rule the kernel matches in ipt_entry/ip6t_entry itself.
struct IpHeaderMatch {
  IpAddr src, srcMask, dst, dstMask;
  bool invSrc = false, invDst = false;
  std::string inIface, outIface;  // as written, a trailing '+' is a wildcard
  bool invIn = false, invOut = false;
  uint16_t proto = 0;             // 0 = any
  bool invProto = false;
  bool fragment = false;          // -f: IPv4 non-first fragments only
  bool invFragment = false;
};

struct MatchInstance {
  std::unique_ptr<MatchExt> ext;
  SourceLoc loc;  // of the -m option (or of the option that loaded it implicitly)
};

struct Target {
  enum class Kind : uint8_t { None, Accept, Drop, Return, Queue, Jump, Goto, Extension };
  Kind kind = Kind::None;
  std::string chain;               // Jump / Goto
  std::unique_ptr<TargetExt> ext;  // Extension
  SourceLoc loc;
  bool isTerminating() const;
};

struct Rule {
  SourceLoc loc;
  std::optional<Counters> counters;  // as given by [p:b] or -c
  IpHeaderMatch ip;
  std::vector<MatchInstance> matches;
  Target target;
};

enum class Policy : uint8_t { None, Accept, Drop };

struct Chain {
  std::string name;
  bool builtin = false;
  Policy policy = Policy::None;  // built-in chains only
  Counters counters;             // policy counters
  std::vector<Rule> rules;
  SourceLoc loc;
};

struct Table {
  std::string name;
  std::vector<Chain> chains;  // built-ins in hook order, then user chains
  SourceLoc loc;
  Chain* findChain(std::string_view name);
  const Chain* findChain(std::string_view name) const;
};

struct Ruleset {
  Family family = Family::IPv4;
  std::vector<Table> tables;
  Table* findTable(std::string_view name);
  const Table* findTable(std::string_view name) const;
};

// Built-in chains of a table in hook order; empty if the table is unknown.
std::vector<Hook> tableHooks(std::string_view table, Family family);
bool isKnownTable(std::string_view table);

}  // namespace nfjit
