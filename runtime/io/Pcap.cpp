#include "runtime/io/Pcap.h"

#include <pcap/pcap.h>

#include <stdexcept>

namespace nfjit {

PcapReader::PcapReader(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {0};
  p_ = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p_) throw std::runtime_error(err);
  dlt_ = pcap_datalink(p_);
  switch (dlt_) {
    case DLT_EN10MB: link_ = LinkType::Ethernet; break;
    case DLT_RAW: case 101 /* LINKTYPE_RAW as stored in files */: link_ = LinkType::RawIp; break;
    case 228: link_ = LinkType::RawIpv4; break;
    case 229: link_ = LinkType::RawIpv6; break;
    default: {
      std::string name = pcap_datalink_val_to_name(dlt_) ? pcap_datalink_val_to_name(dlt_) : "?";
      pcap_close(p_);
      p_ = nullptr;
      throw std::runtime_error("unsupported link type " + name + " (" + std::to_string(dlt_) +
                               "); Ethernet or raw IP expected");
    }
  }
}

PcapReader::~PcapReader() {
  if (p_) pcap_close(p_);
}

bool PcapReader::next(CapturedPacket& out) {
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc = pcap_next_ex(p_, &h, &data);
  if (rc == PCAP_ERROR_BREAK) return false;
  if (rc == PCAP_ERROR) throw std::runtime_error(pcap_geterr(p_));
  if (rc != 1) return false;
  out.tsNs = uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec);
  out.data.assign(data, data + h->caplen);
  out.origLen = h->len;
  return true;
}

PcapWriter::PcapWriter(const std::string& path, int dlt) {
  dead_ = pcap_open_dead_with_tstamp_precision(dlt, 262144, PCAP_TSTAMP_PRECISION_NANO);
  d_ = pcap_dump_open(dead_, path.c_str());
  if (!d_) {
    std::string e = pcap_geterr(dead_);
    pcap_close(dead_);
    dead_ = nullptr;
    throw std::runtime_error(e);
  }
}

PcapWriter::~PcapWriter() {
  if (d_) pcap_dump_close(d_);
  if (dead_) pcap_close(dead_);
}

void PcapWriter::write(const CapturedPacket& pkt) {
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(pkt.tsNs / 1000000000ull);
  h.ts.tv_usec = static_cast<suseconds_t>(pkt.tsNs % 1000000000ull);
  h.caplen = static_cast<bpf_u_int32>(pkt.data.size());
  h.len = std::max<bpf_u_int32>(pkt.origLen, h.caplen);
  pcap_dump(reinterpret_cast<u_char*>(d_), &h, pkt.data.data());
}

}  // namespace nfjit
