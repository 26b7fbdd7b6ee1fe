// A pcap file (the classic libpcap format, nanosecond timestamps, LINKTYPE_ETHERNET) that tcpdump
// and tshark read. Records are buffered and written at Flush(), once per stack operation or loop
// pass, so capture costs no system call per frame. Not thread-safe: under the stack lock.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stack/base/result.h"

namespace tapsock {

class PcapWriter {
 public:
  static constexpr uint32_t kSnapLen = 65535 + 64;

  ~PcapWriter();
  // Creates (truncates) `path` and writes the file header; fd placed at or above fd_floor.
  Status Open(const std::string& path, int fd_floor);
  void Record(std::span<const uint8_t> frame, int64_t realtime_ns);
  void Flush();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::vector<uint8_t> buf_;
};

}  // namespace tapsock
