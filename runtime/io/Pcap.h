// pcap / pcapng input and pcap output through libpcap.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/packet/FrameParser.h"

struct pcap;
struct pcap_dumper;

namespace nfjit {

struct CapturedPacket {
  uint64_t tsNs = 0;
  std::vector<uint8_t> data;
  uint32_t origLen = 0;  // on the wire; > data.size() when the capture was cut
};

class PcapReader {
 public:
  // Throws std::runtime_error with libpcap's message.
  explicit PcapReader(const std::string& path);
  ~PcapReader();
  bool next(CapturedPacket& out);
  LinkType linkType() const { return link_; }
  int dlt() const { return dlt_; }

 private:
  pcap* p_ = nullptr;
  LinkType link_ = LinkType::Ethernet;
  int dlt_ = 1;
};

class PcapWriter {
 public:
  PcapWriter(const std::string& path, int dlt);
  ~PcapWriter();
  void write(const CapturedPacket& pkt);

 private:
  pcap* dead_ = nullptr;
  pcap_dumper* d_ = nullptr;
};

}  // namespace nfjit
