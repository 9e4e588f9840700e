// pcapng reading and writing, written here because libpcap does not tell
// which interface a pcapng packet belongs to, and replay needs exactly that.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace nfjit {

struct PcapngInterface {
  std::string name;
  uint16_t linkType = 1;
  uint64_t unitsPerSecond = 1000000;  // if_tsresol
};

struct PcapngPacket {
  uint32_t iface = 0;
  uint64_t tsNs = 0;
  uint32_t origLen = 0;
  std::vector<uint8_t> data;
};

// True if the file starts with a pcapng section header block.
bool isPcapngFile(const std::string& path);

class PcapngReader {
 public:
  // Throws std::runtime_error on unreadable or malformed files.
  explicit PcapngReader(const std::string& path);
  bool next(PcapngPacket& out);
  const std::vector<PcapngInterface>& interfaces() const { return ifaces_; }

 private:
  bool readBlock(uint32_t& type, std::vector<uint8_t>& body);
  uint16_t u16(const uint8_t* p) const;
  uint32_t u32(const uint8_t* p) const;
  void parseSectionHeader(const std::vector<uint8_t>& body);
  void parseInterface(const std::vector<uint8_t>& body);

  std::ifstream in_;
  bool bigEndian_ = false;
  std::vector<PcapngInterface> ifaces_;
  size_t sectionIfaceBase_ = 0;  // interface ids restart in each section
};

class PcapngWriter {
 public:
  PcapngWriter(const std::string& path);
  // Returns the interface id for `name`, writing its description block first.
  uint32_t interfaceId(const std::string& name, uint16_t linkType);
  void write(uint32_t iface, uint64_t tsNs, const std::vector<uint8_t>& data, uint32_t origLen);

 private:
  void block(uint32_t type, const std::vector<uint8_t>& body);
  std::ofstream out_;
  std::vector<std::pair<std::string, uint16_t>> ifaces_;
};

}  // namespace nfjit
