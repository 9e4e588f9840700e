#include "runtime/io/Pcapng.h"

#include <cstring>
#include <stdexcept>

namespace nfjit {
namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDesc = 1;
constexpr uint32_t kSimplePacket = 3;
constexpr uint32_t kEnhancedPacket = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint32_t kMaxBlock = 16u << 20;  // no sane block is larger

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

bool isPcapngFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  uint8_t m[4];
  if (!f.read(reinterpret_cast<char*>(m), 4)) return false;
  return m[0] == 0x0A && m[1] == 0x0D && m[2] == 0x0D && m[3] == 0x0A;
}

PcapngReader::PcapngReader(const std::string& path) : in_(path, std::ios::binary) {
  if (!in_) throw std::runtime_error("cannot open " + path);
  uint32_t type;
  std::vector<uint8_t> body;
  if (!readBlock(type, body) || type != kSectionHeader) throw std::runtime_error("not a pcapng file");
}

uint16_t PcapngReader::u16(const uint8_t* p) const {
  return bigEndian_ ? uint16_t(p[0] << 8 | p[1]) : uint16_t(p[1] << 8 | p[0]);
}
uint32_t PcapngReader::u32(const uint8_t* p) const {
  return bigEndian_ ? uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]
                    : uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}

bool PcapngReader::readBlock(uint32_t& type, std::vector<uint8_t>& body) {
  uint8_t hdr[8];
  if (!in_.read(reinterpret_cast<char*>(hdr), 8)) {
    if (in_.gcount() == 0) return false;
    throw std::runtime_error("truncated pcapng block header");
  }
  // The section header fixes the byte order for what follows.
  if (hdr[0] == 0x0A && hdr[1] == 0x0D && hdr[2] == 0x0D && hdr[3] == 0x0A) {
    uint8_t bom[4];
    if (!in_.read(reinterpret_cast<char*>(bom), 4)) throw std::runtime_error("truncated pcapng section header");
    uint32_t le = uint32_t(bom[3]) << 24 | uint32_t(bom[2]) << 16 | uint32_t(bom[1]) << 8 | bom[0];
    if (le == kByteOrderMagic) bigEndian_ = false;
    else if (__builtin_bswap32(le) == kByteOrderMagic) bigEndian_ = true;
    else throw std::runtime_error("bad pcapng byte-order magic");
    in_.seekg(-4, std::ios::cur);
  }
  type = u32(hdr);
  uint32_t total = u32(hdr + 4);
  if (total < 12 || total % 4 || total > kMaxBlock) throw std::runtime_error("bad pcapng block length");
  body.resize(total - 12);
  if (!in_.read(reinterpret_cast<char*>(body.data()), std::streamsize(body.size())))
    throw std::runtime_error("truncated pcapng block");
  uint8_t trailer[4];
  if (!in_.read(reinterpret_cast<char*>(trailer), 4) || u32(trailer) != total)
    throw std::runtime_error("pcapng block length mismatch");
  if (type == kSectionHeader) parseSectionHeader(body);
  if (type == kInterfaceDesc) parseInterface(body);
  return true;
}

void PcapngReader::parseSectionHeader(const std::vector<uint8_t>&) { sectionIfaceBase_ = ifaces_.size(); }

void PcapngReader::parseInterface(const std::vector<uint8_t>& b) {
  if (b.size() < 8) throw std::runtime_error("short pcapng interface block");
  PcapngInterface ifc;
  ifc.linkType = u16(b.data());
  ifc.name = "if" + std::to_string(ifaces_.size() - sectionIfaceBase_);
  size_t off = 8;
  while (off + 4 <= b.size()) {
    uint16_t code = u16(b.data() + off), len = u16(b.data() + off + 2);
    off += 4;
    if (code == 0 || off + len > b.size()) break;
    if (code == 2) ifc.name.assign(reinterpret_cast<const char*>(b.data() + off), strnlen(reinterpret_cast<const char*>(b.data() + off), len));
    if (code == 9 && len >= 1) {
      uint8_t r = b[off];
      uint64_t units = 1;
      if (r & 0x80) {
        for (int i = 0; i < (r & 0x7f) && i < 63; ++i) units *= 2;
      } else {
        for (int i = 0; i < r && i < 19; ++i) units *= 10;
      }
      ifc.unitsPerSecond = units;
    }
    off += (len + 3u) & ~3u;
  }
  ifaces_.push_back(std::move(ifc));
}

bool PcapngReader::next(PcapngPacket& out) {
  uint32_t type;
  std::vector<uint8_t> b;
  while (readBlock(type, b)) {
    if (type == kEnhancedPacket) {
      if (b.size() < 20) throw std::runtime_error("short pcapng packet block");
      uint32_t id = u32(b.data());
      uint64_t ts = uint64_t(u32(b.data() + 4)) << 32 | u32(b.data() + 8);
      uint32_t caplen = u32(b.data() + 12);
      if (caplen > b.size() - 20) throw std::runtime_error("pcapng packet longer than its block");
      size_t global = sectionIfaceBase_ + id;
      if (global >= ifaces_.size()) throw std::runtime_error("pcapng packet on an undeclared interface");
      const auto& ifc = ifaces_[global];
      out.iface = uint32_t(global);
      out.tsNs = ifc.unitsPerSecond >= 1000000000 ? ts / (ifc.unitsPerSecond / 1000000000)
                                                  : ts * (1000000000 / ifc.unitsPerSecond);
      out.origLen = u32(b.data() + 16);
      out.data.assign(b.begin() + 20, b.begin() + 20 + caplen);
      return true;
    }
    if (type == kSimplePacket) {
      if (b.size() < 4 || sectionIfaceBase_ >= ifaces_.size()) throw std::runtime_error("bad pcapng simple packet");
      out.iface = uint32_t(sectionIfaceBase_);
      out.tsNs = 0;
      out.origLen = u32(b.data());
      size_t cap = std::min<size_t>(out.origLen, b.size() - 4);
      out.data.assign(b.begin() + 4, b.begin() + 4 + long(cap));
      return true;
    }
  }
  return false;
}

PcapngWriter::PcapngWriter(const std::string& path) : out_(path, std::ios::binary | std::ios::trunc) {
  if (!out_) throw std::runtime_error("cannot write " + path);
  std::vector<uint8_t> shb;
  put32(shb, kByteOrderMagic);
  put16(shb, 1);
  put16(shb, 0);
  put32(shb, 0xffffffff);  // section length unknown
  put32(shb, 0xffffffff);
  block(kSectionHeader, shb);
}

void PcapngWriter::block(uint32_t type, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> b;
  uint32_t total = uint32_t(12 + body.size());
  put32(b, type);
  put32(b, total);
  b.insert(b.end(), body.begin(), body.end());
  put32(b, total);
  out_.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

uint32_t PcapngWriter::interfaceId(const std::string& name, uint16_t linkType) {
  for (size_t i = 0; i < ifaces_.size(); ++i)
    if (ifaces_[i].first == name) return uint32_t(i);
  std::vector<uint8_t> idb;
  put16(idb, linkType);
  put16(idb, 0);
  put32(idb, 262144);
  put16(idb, 2);  // if_name
  put16(idb, uint16_t(name.size()));
  idb.insert(idb.end(), name.begin(), name.end());
  while (idb.size() % 4) idb.push_back(0);
  put16(idb, 9);  // if_tsresol: nanoseconds
  put16(idb, 1);
  idb.push_back(9);
  idb.insert(idb.end(), 3, 0);
  put16(idb, 0);  // opt_endofopt
  put16(idb, 0);
  block(kInterfaceDesc, idb);
  ifaces_.emplace_back(name, linkType);
  return uint32_t(ifaces_.size() - 1);
}

void PcapngWriter::write(uint32_t iface, uint64_t tsNs, const std::vector<uint8_t>& data, uint32_t origLen) {
  std::vector<uint8_t> epb;
  put32(epb, iface);
  put32(epb, uint32_t(tsNs >> 32));
  put32(epb, uint32_t(tsNs));
  put32(epb, uint32_t(data.size()));
  put32(epb, std::max<uint32_t>(origLen, uint32_t(data.size())));
  epb.insert(epb.end(), data.begin(), data.end());
  while (epb.size() % 4) epb.push_back(0);
  block(kEnhancedPacket, epb);
}

}  // namespace nfjit
