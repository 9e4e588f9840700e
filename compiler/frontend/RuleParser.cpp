#include "compiler/frontend/RuleParser.h"

#include <algorithm>
#include <cstring>

#include "compiler/extensions/ArgParse.h"
#include "compiler/extensions/Unparsed.h"
#include "compiler/ir/SaveWriter.h"

namespace nfjit {
namespace {

constexpr size_t kIfNameMax = 15;          // IFNAMSIZ - 1
constexpr size_t kChainNameMax = 28;       // XT_EXTENSION_MAXNAMELEN - 1

enum class BaseOpt {
  Source, Destination, Protocol, InIface, OutIface, Fragment, Jump, Goto, Match, SetCounters,
  IPv4, IPv6, Table,
  CmdAppend, CmdInsert, CmdDelete, CmdReplace, CmdNew, CmdDeleteChain, CmdFlush, CmdZero,
  CmdPolicy, CmdRename, CmdList,
};

struct BaseOptSpec {
  const char* longName;
  char shortName;
  BaseOpt id;
  bool hasArg;
};

// iptables' own options, searched before any extension's (as getopt does:
// they head the merged option table).
constexpr BaseOptSpec kBaseOpts[] = {
    {"append", 'A', BaseOpt::CmdAppend, true},
    {"delete", 'D', BaseOpt::CmdDelete, true},
    {"insert", 'I', BaseOpt::CmdInsert, true},
    {"replace", 'R', BaseOpt::CmdReplace, true},
    {"list", 'L', BaseOpt::CmdList, false},
    {"flush", 'F', BaseOpt::CmdFlush, false},
    {"zero", 'Z', BaseOpt::CmdZero, false},
    {"new-chain", 'N', BaseOpt::CmdNew, true},
    {"delete-chain", 'X', BaseOpt::CmdDeleteChain, false},
    {"rename-chain", 'E', BaseOpt::CmdRename, true},
    {"policy", 'P', BaseOpt::CmdPolicy, true},
    {"source", 's', BaseOpt::Source, true},
    {"src", 0, BaseOpt::Source, true},
    {"destination", 'd', BaseOpt::Destination, true},
    {"dst", 0, BaseOpt::Destination, true},
    {"protocol", 'p', BaseOpt::Protocol, true},
    {"in-interface", 'i', BaseOpt::InIface, true},
    {"out-interface", 'o', BaseOpt::OutIface, true},
    {"fragment", 'f', BaseOpt::Fragment, false},
    {"jump", 'j', BaseOpt::Jump, true},
    {"goto", 'g', BaseOpt::Goto, true},
    {"match", 'm', BaseOpt::Match, true},
    {"set-counters", 'c', BaseOpt::SetCounters, true},
    {"table", 't', BaseOpt::Table, true},
    {"ipv4", '4', BaseOpt::IPv4, false},
    {"ipv6", '6', BaseOpt::IPv6, false},
};

[[noreturn]] void fail(SourceLoc loc, const std::string& msg) { throw ParseError(loc, msg); }

SourceLoc shifted(SourceLoc loc, size_t by) {
  loc.col += static_cast<uint32_t>(by);
  return loc;
}

// A module loaded into the rule: either a match or the target.
struct Loaded {
  Extension* ext;
  bool isTarget;
  std::vector<bool> seen;  // per option, for "only once" checks
  // Permissive mode: the words written for this module, and the piece it
  // became once one of its options failed (-1: still parsed normally).
  size_t matchIdx = SIZE_MAX;
  std::string words;
  int piece = -1;
};

// Permissive mode: words that become one UnparsedMatch at rule_.matches[matchIdx].
struct Piece {
  size_t matchIdx;
  std::string text, failed, error;
  SourceLoc loc;
};

struct OptionRef {
  const BaseOptSpec* base = nullptr;
  Loaded* module = nullptr;
  int index = -1;
};

// Permissive mode: the match becomes an unknown one (written as `text`,
// failing at `failed`), with a warning at `at` saying so.
void recordUnparsed(MatchInstance& mi, const std::string& text, const std::string& failed, const std::string& error,
                    SourceLoc at, std::vector<Diagnostic>& warnings) {
  mi.ext = std::make_unique<UnparsedMatch>(text, failed, error, mi.loc);
  warnings.push_back(
      {Severity::Warning, at, "unparsed `" + failed + "': " + error + "; analysed as an unknown match (--permissive)", {}});
}

class CommandParser {
 public:
  CommandParser(Family f, const std::string& table, const ChainLookup& chains, const TokenList& args,
                bool permissive)
      : family_(f), table_(table), chains_(chains), args_(args), permissive_(permissive) {}

  ParsedCommand run();
  void parseTokens();

 private:
  OptionRef lookupLong(std::string_view name, SourceLoc loc);
  void handleBase(const BaseOptSpec& b, std::optional<std::string> attached, SourceLoc optLoc,
                  std::string_view written);
  void handleExtension(Loaded& m, int index, std::optional<std::string> attached, SourceLoc optLoc,
                       std::string_view written);
  const Token& nextArg(SourceLoc optLoc, std::string_view written);
  bool nextIsPlainWord() const;
  void setCommand(CommandKind k, SourceLoc loc);
  void loadMatch(const std::string& name, SourceLoc loc);
  bool tryLoadProtoMatch(SourceLoc loc);
  void setTarget(const std::string& name, SourceLoc loc, bool isGoto);
  void once(bool& flag, SourceLoc loc, const char* what);
  // Permissive wrappers: a failure becomes a Piece (or DroppedRule).
  void baseOption(const BaseOptSpec& b, std::optional<std::string> attached, SourceLoc optLoc,
                  std::string_view written, size_t optStart);
  void extensionOption(Loaded& m, int index, std::optional<std::string> attached, SourceLoc optLoc,
                       std::string_view written, size_t optStart, size_t tokIdx);
  void unknownOption(size_t optStart, SourceLoc loc, const std::string& what);
  size_t addPiece(std::string text, std::string failed, const ParseError& e);
  std::string wordsOf(size_t from, size_t to) const;
  void materializePieces();

  Family family_;
  const std::string& table_;
  const ChainLookup& chains_;
  const TokenList& args_;
  bool permissive_ = false;
  size_t pos_ = 0;
  bool invert_ = false;
  SourceLoc invertLoc_;
  size_t invertIdx_ = 0;
  std::vector<Piece> pieces_;
  int openPiece_ = -1;  // an unknown -m whose options join it

  ParsedCommand cmd_;
  Rule rule_;
  std::vector<args::AddrMask> srcs_, dsts_;
  bool seenSrc_ = false, seenDst_ = false, seenProto_ = false, seenIn_ = false, seenOut_ = false,
       seenFrag_ = false, seenCounters_ = false;
  bool protoMatchLoaded_ = false;
  std::vector<Loaded> loaded_;  // in load order
};

void CommandParser::once(bool& flag, SourceLoc loc, const char* what) {
  if (flag) fail(loc, std::string("multiple ") + what + " flags not allowed");
  flag = true;
}

const Token& CommandParser::nextArg(SourceLoc optLoc, std::string_view written) {
  if (pos_ >= args_.size()) fail(optLoc, "option `" + std::string(written) + "' requires an argument");
  return args_[pos_++];
}

bool CommandParser::nextIsPlainWord() const {
  if (pos_ >= args_.size()) return false;
  const auto& t = args_[pos_];
  if (t.quoted) return true;
  return !t.text.empty() && t.text[0] != '-' && t.text[0] != '!';
}

void CommandParser::setCommand(CommandKind k, SourceLoc loc) {
  if (cmd_.kind != CommandKind::None)
    fail(loc, std::string("cannot use -") + char(k) + " with -" + char(cmd_.kind));
  cmd_.kind = k;
  cmd_.loc = loc;
}

OptionRef CommandParser::lookupLong(std::string_view name, SourceLoc loc) {
  for (const auto& b : kBaseOpts)
    if (name == b.longName) return {&b, nullptr, -1};
  for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) {
    auto opts = it->ext->options();
    for (size_t i = 0; i < opts.size(); ++i)
      if (opts[i].name == name) return {nullptr, &*it, static_cast<int>(i)};
  }
  // getopt_long accepts an unambiguous prefix of a long option.
  std::vector<OptionRef> cands;
  for (const auto& b : kBaseOpts)
    if (std::string_view(b.longName).starts_with(name)) {
      bool dup = false;
      for (auto& c : cands) dup = dup || (c.base && c.base->id == b.id);
      if (!dup) cands.push_back({&b, nullptr, -1});
    }
  for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) {
    auto opts = it->ext->options();
    for (size_t i = 0; i < opts.size(); ++i)
      if (opts[i].name.starts_with(name)) cands.push_back({nullptr, &*it, static_cast<int>(i)});
  }
  if (cands.size() == 1 && !name.empty()) return cands[0];
  if (cands.size() > 1 && !name.empty()) fail(loc, "option `--" + std::string(name) + "' is ambiguous");
  return {};
}

void CommandParser::loadMatch(const std::string& name, SourceLoc loc) {
  const auto* info = ExtensionRegistry::instance().findMatch(name, family_);
  if (!info) fail(loc, "unknown match `" + name + "' (no such extension for " +
                           (family_ == Family::IPv4 ? "iptables" : "ip6tables") + ")");
  MatchInstance mi;
  mi.ext = info->makeMatch(family_);
  mi.loc = loc;
  Extension* e = mi.ext.get();
  rule_.matches.push_back(std::move(mi));
  loaded_.push_back({e, false, std::vector<bool>(e->options().size())});
  loaded_.back().matchIdx = rule_.matches.size() - 1;
  loaded_.back().words = "-m " + name;
  openPiece_ = -1;
}

std::string CommandParser::wordsOf(size_t from, size_t to) const {
  std::string out;
  for (size_t i = from; i < to && i < args_.size(); ++i) {
    if (!out.empty()) out += ' ';
    const std::string& w = args_[i].text;
    out += (args_[i].quoted || w.find_first_of(" \t\"") != std::string::npos) ? saveQuoted(w) : w;
  }
  return out;
}

size_t CommandParser::addPiece(std::string text, std::string failed, const ParseError& e) {
  MatchInstance mi;
  mi.loc = e.loc();
  rule_.matches.push_back(std::move(mi));  // filled by materializePieces()
  pieces_.push_back({rule_.matches.size() - 1, std::move(text), std::move(failed), e.what(), e.loc()});
  return pieces_.size() - 1;
}

void CommandParser::baseOption(const BaseOptSpec& b, std::optional<std::string> attached, SourceLoc optLoc,
                               std::string_view written, size_t optStart) {
  if (!permissive_) return handleBase(b, std::move(attached), optLoc, written);
  try {
    handleBase(b, std::move(attached), optLoc, written);
  } catch (const DroppedRule&) {
    throw;
  } catch (const ParseError& e) {
    invert_ = false;
    std::string w = wordsOf(optStart, pos_);
    switch (b.id) {
      case BaseOpt::Jump:
      case BaseOpt::Goto: throw DroppedRule(e.loc(), e.what());
      case BaseOpt::Match:
        // An unknown module: the options that follow and nobody knows join it.
        openPiece_ = static_cast<int>(addPiece(w, w, e));
        return;
      case BaseOpt::Source:
      case BaseOpt::Destination:
      case BaseOpt::Protocol:
      case BaseOpt::InIface:
      case BaseOpt::OutIface:
      case BaseOpt::Fragment: addPiece(w, w, e); return;
      default: throw;
    }
  }
}

void CommandParser::extensionOption(Loaded& m, int index, std::optional<std::string> attached, SourceLoc optLoc,
                                    std::string_view written, size_t optStart, size_t tokIdx) {
  if (!permissive_) return handleExtension(m, index, std::move(attached), optLoc, written);
  const OptionSpec& spec = m.ext->options()[static_cast<size_t>(index)];
  // How far the option's words reach, should it fail before taking them.
  auto takeWords = [&] {
    size_t need = 0;
    if (spec.arg == ArgKind::Required || spec.arg == ArgKind::Two) need = attached ? 0 : 1;
    if (spec.arg == ArgKind::Two) ++need;
    if (spec.arg == ArgKind::Optional && !attached && pos_ == tokIdx + 1 && nextIsPlainWord()) need = 1;
    pos_ = std::min(args_.size(), std::max(pos_, tokIdx + 1 + need));
    invert_ = false;
  };
  if (m.piece >= 0) {
    takeWords();
    pieces_[static_cast<size_t>(m.piece)].text += " " + wordsOf(optStart, pos_);
    return;
  }
  try {
    handleExtension(m, index, attached, optLoc, written);
    m.words += " " + wordsOf(optStart, pos_);
  } catch (const DroppedRule&) {
    throw;
  } catch (const ParseError& e) {
    if (m.isTarget) throw DroppedRule(e.loc(), e.what());
    takeWords();
    std::string w = wordsOf(optStart, pos_);
    pieces_.push_back({m.matchIdx, m.words + " " + w, w, e.what(), e.loc()});
    m.piece = static_cast<int>(pieces_.size() - 1);
  }
}

void CommandParser::unknownOption(size_t optStart, SourceLoc loc, const std::string& what) {
  // Its arguments are unknown too: take the words up to the next option.
  while (nextIsPlainWord()) ++pos_;
  invert_ = false;
  std::string w = wordsOf(optStart, pos_);
  if (openPiece_ >= 0) {
    pieces_[static_cast<size_t>(openPiece_)].text += " " + w;
    return;
  }
  addPiece(w, w, ParseError(loc, "unknown option `" + what + "'"));
}

void CommandParser::materializePieces() {
  for (const Piece& p : pieces_) {
    MatchInstance& mi = rule_.matches[p.matchIdx];
    mi.loc = p.loc;
    recordUnparsed(mi, p.text, p.failed, p.error, p.loc, cmd_.warnings);
  }
  pieces_.clear();
}

// iptables loads the match named like the -p protocol when it meets an option
// it does not know (`-p tcp --dport 22`).
bool CommandParser::tryLoadProtoMatch(SourceLoc loc) {
  if (!seenProto_ || protoMatchLoaded_ || rule_.ip.proto == 0) return false;
  std::string name;
  switch (rule_.ip.proto) {
    case 6: name = "tcp"; break;
    case 17: name = "udp"; break;
    case 1: name = "icmp"; break;
    case 58: name = "icmp6"; break;
    case 132: name = "sctp"; break;
    case 33: name = "dccp"; break;
    case 136: name = "udplite"; break;
    case 50: name = "esp"; break;
    case 51: name = "ah"; break;
    case 135: name = "mh"; break;
    default: return false;
  }
  if (!ExtensionRegistry::instance().findMatch(name, family_)) return false;
  protoMatchLoaded_ = true;
  int open = openPiece_;  // an implicit load does not end an unknown module's options
  loadMatch(name, loc);
  openPiece_ = open;
  return true;
}

void CommandParser::setTarget(const std::string& name, SourceLoc loc, bool isGoto) {
  if (rule_.target.kind != Target::Kind::None)
    fail(loc, "multiple -j/-g flags not allowed");
  if (name.empty()) fail(loc, "empty target name");
  auto& t = rule_.target;
  t.loc = loc;
  if (isGoto) {
    if (chains_.isUserChain(name)) {
      t.kind = Target::Kind::Goto;
      t.chain = name;
      return;
    }
    if (chains_.isBuiltinChain(name)) fail(loc, "cannot goto built-in chain `" + name + "'");
    fail(loc, "goto to undefined chain `" + name + "'");
  }
  if (name == "ACCEPT") { t.kind = Target::Kind::Accept; return; }
  if (name == "DROP") { t.kind = Target::Kind::Drop; return; }
  if (name == "RETURN") { t.kind = Target::Kind::Return; return; }
  if (name == "QUEUE") { t.kind = Target::Kind::Queue; return; }
  if (const auto* info = ExtensionRegistry::instance().findTarget(name, family_)) {
    t.kind = Target::Kind::Extension;
    t.ext = info->makeTarget(family_);
    loaded_.push_back({t.ext.get(), true, std::vector<bool>(t.ext->options().size())});
    return;
  }
  if (chains_.isUserChain(name)) {
    t.kind = Target::Kind::Jump;
    t.chain = name;
    return;
  }
  if (chains_.isBuiltinChain(name)) fail(loc, "cannot jump to built-in chain `" + name + "'");
  fail(loc, "jump to undefined chain or unknown target `" + name + "'");
}

void CommandParser::handleBase(const BaseOptSpec& b, std::optional<std::string> attached,
                               SourceLoc optLoc, std::string_view written) {
  std::string value;
  SourceLoc valueLoc = optLoc;
  if (b.hasArg) {
    if (attached) {
      value = *attached;
      valueLoc = shifted(optLoc, written.size() - attached->size());
    } else {
      const Token& t = nextArg(optLoc, written);
      value = t.text;
      valueLoc = t.loc;
    }
  } else if (attached) {
    fail(optLoc, "option `" + std::string(written) + "' takes no argument");
  }
  const bool inv = invert_;
  auto notInvertible = [&] {
    if (inv) fail(invertLoc_, "cannot have ! before " + std::string(written));
  };
  auto chainArg = [&]() {
    if (value.empty()) fail(valueLoc, "empty chain name");
    cmd_.chain = value;
    cmd_.chainLoc = valueLoc;
  };
  switch (b.id) {
    case BaseOpt::CmdAppend:
      notInvertible(); setCommand(CommandKind::Append, optLoc); chainArg(); break;
    case BaseOpt::CmdInsert:
    case BaseOpt::CmdDelete:
    case BaseOpt::CmdReplace: {
      notInvertible();
      setCommand(b.id == BaseOpt::CmdInsert ? CommandKind::Insert
                 : b.id == BaseOpt::CmdDelete ? CommandKind::Delete
                                              : CommandKind::Replace,
                 optLoc);
      chainArg();
      if (nextIsPlainWord()) {
        if (auto n = args::parseUInt(args_[pos_].text, 1, UINT32_MAX)) {
          cmd_.ruleNum = static_cast<uint32_t>(*n);
          ++pos_;
        } else if (b.id != BaseOpt::CmdDelete) {
          fail(args_[pos_].loc, "invalid rule number `" + args_[pos_].text + "'");
        }
      }
      if (b.id == BaseOpt::CmdReplace && !cmd_.ruleNum) fail(optLoc, "-R requires a rule number");
      break;
    }
    case BaseOpt::CmdNew:
      notInvertible(); setCommand(CommandKind::NewChain, optLoc); chainArg(); break;
    case BaseOpt::CmdRename:
      notInvertible();
      setCommand(CommandKind::Rename, optLoc);
      chainArg();
      if (!nextIsPlainWord()) fail(optLoc, "-E requires old-chain-name and new-chain-name");
      cmd_.arg = args_[pos_].text;
      cmd_.argLoc = args_[pos_].loc;
      ++pos_;
      break;
    case BaseOpt::CmdPolicy:
      notInvertible();
      setCommand(CommandKind::Policy, optLoc);
      chainArg();
      if (!nextIsPlainWord()) fail(optLoc, "-P requires a chain and a policy");
      cmd_.arg = args_[pos_].text;
      cmd_.argLoc = args_[pos_].loc;
      ++pos_;
      break;
    case BaseOpt::CmdFlush:
    case BaseOpt::CmdZero:
    case BaseOpt::CmdDeleteChain:
      notInvertible();
      setCommand(b.id == BaseOpt::CmdFlush ? CommandKind::Flush
                 : b.id == BaseOpt::CmdZero ? CommandKind::Zero
                                            : CommandKind::DeleteChain,
                 optLoc);
      if (nextIsPlainWord()) {
        cmd_.chain = args_[pos_].text;
        cmd_.chainLoc = args_[pos_].loc;
        ++pos_;
      }
      break;
    case BaseOpt::CmdList:
      fail(optLoc, "-L cannot be used in a rules file");
    case BaseOpt::Table:
      fail(optLoc, "the -t option cannot be used in a rules file (use a *table line)");
    case BaseOpt::IPv4:
    case BaseOpt::IPv6:
      notInvertible();
      // iptables-restore stops reading a line meant for the other family.
      if (family_ != (b.id == BaseOpt::IPv4 ? Family::IPv4 : Family::IPv6)) {
        cmd_.skipLine = true;
        pos_ = args_.size();
      }
      break;
    case BaseOpt::Source:
    case BaseOpt::Destination: {
      bool src = b.id == BaseOpt::Source;
      once(src ? seenSrc_ : seenDst_, optLoc, src ? "-s" : "-d");
      (src ? rule_.ip.invSrc : rule_.ip.invDst) = inv;
      auto& list = src ? srcs_ : dsts_;
      size_t off = 0;
      for (auto part : args::split(value, ',')) {
        auto am = args::parseAddrMask(family_, part);
        if (!am) fail(shifted(valueLoc, off), "host/network `" + std::string(part) + "' not found");
        list.push_back(*am);
        off += part.size() + 1;
      }
      cmd_.hasRuleSpec = true;
      break;
    }
    case BaseOpt::Protocol: {
      once(seenProto_, optLoc, "-p");
      auto p = args::parseProtocol(value);
      if (!p) fail(valueLoc, "unknown protocol `" + value + "' specified");
      rule_.ip.proto = *p;
      rule_.ip.invProto = inv;
      if (*p == 0 && inv) fail(valueLoc, "rule would never match protocol");
      cmd_.hasRuleSpec = true;
      break;
    }
    case BaseOpt::InIface:
    case BaseOpt::OutIface: {
      bool in = b.id == BaseOpt::InIface;
      once(in ? seenIn_ : seenOut_, optLoc, in ? "-i" : "-o");
      if (value.size() > kIfNameMax)
        fail(valueLoc, "interface name `" + value + "' must be shorter than 16 characters");
      (in ? rule_.ip.inIface : rule_.ip.outIface) = value;
      (in ? rule_.ip.invIn : rule_.ip.invOut) = inv;
      cmd_.hasRuleSpec = true;
      break;
    }
    case BaseOpt::Fragment:
      if (family_ != Family::IPv4) fail(optLoc, "-f is not supported by ip6tables (use -m frag)");
      once(seenFrag_, optLoc, "-f");
      rule_.ip.fragment = true;
      rule_.ip.invFragment = inv;
      cmd_.hasRuleSpec = true;
      break;
    case BaseOpt::Jump:
    case BaseOpt::Goto:
      notInvertible();
      setTarget(value, valueLoc, b.id == BaseOpt::Goto);
      cmd_.hasRuleSpec = true;
      break;
    case BaseOpt::Match:
      notInvertible();
      if (value.empty()) fail(valueLoc, "empty match name");
      loadMatch(value, valueLoc);
      cmd_.hasRuleSpec = true;
      break;
    case BaseOpt::SetCounters: {
      notInvertible();
      once(seenCounters_, optLoc, "-c");
      std::string pc = value, bc;
      if (auto comma = pc.find(','); comma != std::string::npos) {
        bc = pc.substr(comma + 1);
        pc.resize(comma);
      } else if (nextIsPlainWord()) {
        bc = args_[pos_++].text;
      } else {
        fail(optLoc, "-c requires packet and byte counter");
      }
      auto p = args::parseUInt(pc), by = args::parseUInt(bc);
      if (!p || pc.empty() || !std::isdigit(static_cast<unsigned char>(pc[0])))
        fail(valueLoc, "-c packet counter `" + pc + "' not numeric");
      if (!by || bc.empty() || !std::isdigit(static_cast<unsigned char>(bc[0])))
        fail(valueLoc, "-c byte counter `" + bc + "' not numeric");
      rule_.counters = Counters{*p, *by};
      break;
    }
  }
  invert_ = false;
}

void CommandParser::handleExtension(Loaded& m, int index, std::optional<std::string> attached,
                                    SourceLoc optLoc, std::string_view written) {
  const OptionSpec& spec = m.ext->options()[static_cast<size_t>(index)];
  OptionArg a;
  a.index = index;
  a.name = spec.name;
  a.inverted = invert_;
  a.optLoc = optLoc;
  a.valueLoc = optLoc;
  if (invert_ && !spec.invertible) fail(invertLoc_, "option `--" + std::string(spec.name) + "' cannot be inverted");
  if (m.seen[static_cast<size_t>(index)] && !spec.repeatable)
    fail(optLoc, "option `--" + std::string(spec.name) + "' can only be used once");
  m.seen[static_cast<size_t>(index)] = true;
  switch (spec.arg) {
    case ArgKind::None:
      if (attached) fail(optLoc, "option `--" + std::string(spec.name) + "' takes no argument");
      break;
    case ArgKind::Optional:
      if (attached) {
        a.value = *attached;
        a.hasValue = true;
        a.valueLoc = shifted(optLoc, written.size() - attached->size());
      } else if (nextIsPlainWord()) {
        // Extensions with optional values (rateest) read the next word
        // themselves when it is not an option.
        const Token& t = args_[pos_++];
        a.value = t.text;
        a.hasValue = true;
        a.valueLoc = t.loc;
      }
      break;
    case ArgKind::Required:
    case ArgKind::Two:
      if (attached) {
        a.value = *attached;
        a.valueLoc = shifted(optLoc, written.size() - attached->size());
      } else {
        const Token& t = nextArg(optLoc, written);
        a.value = t.text;
        a.valueLoc = t.loc;
      }
      a.hasValue = true;
      if (spec.arg == ArgKind::Two) {
        if (!nextIsPlainWord())
          fail(optLoc, "option `--" + std::string(spec.name) + "' requires two arguments");
        a.value2 = args_[pos_].text;
        a.value2Loc = args_[pos_].loc;
        ++pos_;
      }
      break;
  }
  invert_ = false;
  m.ext->parseOption(a);
}

void CommandParser::parseTokens() {
  while (pos_ < args_.size()) {
    const size_t tokIdx = pos_;
    const Token& tok = args_[pos_++];
    const std::string& s = tok.text;
    const size_t optStart = invert_ ? invertIdx_ : tokIdx;
    // Quotes only group characters: a quoted word is an option, `!' or a
    // number like any other (as iptables-restore's add_param_to_argv()).
    if (s == "!") {
      if (invert_) fail(tok.loc, "multiple `!' flags not allowed");
      invert_ = true;
      invertLoc_ = tok.loc;
      invertIdx_ = tokIdx;
      continue;
    }
    if (s.size() < 2 || s[0] != '-') fail(tok.loc, "bad argument `" + s + "'");
    if (s[1] == '-') {
      std::string_view body(s);
      body.remove_prefix(2);
      std::optional<std::string> attached;
      std::string_view name = body;
      if (auto eq = body.find('='); eq != std::string_view::npos) {
        name = body.substr(0, eq);
        attached = std::string(body.substr(eq + 1));
      }
      if (name.empty()) fail(tok.loc, "bad argument `" + s + "'");
      OptionRef ref = lookupLong(name, tok.loc);
      if (!ref.base && !ref.module && tryLoadProtoMatch(tok.loc)) ref = lookupLong(name, tok.loc);
      if (ref.base) {
        baseOption(*ref.base, attached, tok.loc, s, optStart);
      } else if (ref.module) {
        extensionOption(*ref.module, ref.index, attached, tok.loc, s, optStart, tokIdx);
      } else if (permissive_) {
        unknownOption(optStart, tok.loc, "--" + std::string(name));
      } else {
        fail(tok.loc, "unknown option `--" + std::string(name) + "'");
      }
      continue;
    }
    char c = s[1];
    const BaseOptSpec* b = nullptr;
    for (const auto& o : kBaseOpts)
      if (o.shortName == c) b = &o;
    if (!b && permissive_) {
      unknownOption(optStart, tok.loc, s.substr(0, 2));
      continue;
    }
    if (!b) fail(tok.loc, "unknown option `" + s.substr(0, 2) + "'");
    std::optional<std::string> attached;
    if (s.size() > 2) attached = s.substr(2);
    baseOption(*b, attached, tok.loc, s, optStart);
  }
  materializePieces();
  if (invert_) fail(invertLoc_, "nothing appropriate following `!'");
  if (cmd_.kind == CommandKind::None && !cmd_.skipLine) {
    SourceLoc at = args_.empty() ? SourceLoc{} : args_[0].loc;
    fail(at, "no command specified (expected -A, -I, -N, -P, ...)");
  }
}

ParsedCommand CommandParser::run() {
  parseTokens();
  if (cmd_.skipLine) return std::move(cmd_);
  if (srcs_.empty()) srcs_.push_back({IpAddr{}, IpAddr{}});
  if (dsts_.empty()) dsts_.push_back({IpAddr{}, IpAddr{}});
  auto place = [](Rule& r, const args::AddrMask& s, const args::AddrMask& d) {
    r.ip.src = s.addr;
    r.ip.srcMask = s.mask;
    r.ip.dst = d.addr;
    r.ip.dstMask = d.mask;
  };
  if (srcs_.size() * dsts_.size() == 1) {
    place(rule_, srcs_[0], dsts_[0]);
    cmd_.rules.push_back(std::move(rule_));
    return std::move(cmd_);
  }
  // `-s a,b -d c,d` is one rule per pair, in iptables' order. Extensions own
  // their parsed options, so each copy is parsed afresh from the same words.
  for (const auto& s : srcs_) {
    for (const auto& d : dsts_) {
      CommandParser copy(family_, table_, chains_, args_, permissive_);
      copy.parseTokens();
      place(copy.rule_, s, d);
      cmd_.rules.push_back(std::move(copy.rule_));
    }
  }
  return std::move(cmd_);
}

}  // namespace

ParsedCommand RuleParser::parse(const TokenList& args) {
  CommandParser p(family_, table_, chains_, args, permissive_);
  return p.run();
}

// What an extension's finalCheck sees of the rule around it.
static RuleContext finalCheckContext(const Rule& rule, Family family, std::string_view table, std::string_view chain) {
  RuleContext ctx;
  ctx.family = family;
  ctx.table = table;
  ctx.chain = chain;
  ctx.proto = rule.ip.proto;
  ctx.protoInverted = rule.ip.invProto;
  ctx.rule = &rule;
  return ctx;
}

void finalCheckRule(const Rule& rule, Family family, std::string_view table, std::string_view chain) {
  RuleContext ctx = finalCheckContext(rule, family, table, chain);
  for (const auto& m : rule.matches) {
    ctx.loc = m.loc;
    m.ext->finalCheck(ctx);
  }
  if (rule.target.kind == Target::Kind::Extension) {
    ctx.loc = rule.target.loc;
    rule.target.ext->finalCheck(ctx);
  }
}

}  // namespace nfjit

namespace nfjit {

void finalCheckRulePermissive(Rule& rule, Family family, std::string_view table, std::string_view chain,
                              std::vector<Diagnostic>& warnings) {
  RuleContext ctx = finalCheckContext(rule, family, table, chain);
  for (auto& m : rule.matches) {
    if (dynamic_cast<const UnparsedMatch*>(m.ext.get())) continue;
    ctx.loc = m.loc;
    try {
      m.ext->finalCheck(ctx);
    } catch (const ParseError& e) {
      SaveWriter w;
      w.raw("-m").word(m.ext->name());
      m.ext->save(w);
      std::string text = w.take();
      recordUnparsed(m, text, text, e.what(), e.loc(), warnings);
    }
  }
  if (rule.target.kind == Target::Kind::Extension) {
    ctx.loc = rule.target.loc;
    try {
      rule.target.ext->finalCheck(ctx);
    } catch (const ParseError& e) {
      throw DroppedRule(e.loc(), e.what());
    }
  }
}

}  // namespace nfjit
