// A pcap file (the classic libpcap format, nanosecond timestamps, LINKTYPE_ETHERNET) that tcpdump
// and tshark read. Records are buffered and written at Flush(), once per stack operation or loop
// pass, so capture costs no system call per frame. Not thread-safe: under the stack lock.
//
// Size-bounded like `tcpdump -C -W`: when the file would pass max_file_bytes, it is closed and
// renamed PATH.1 (PATH.1 becomes PATH.2, and so on; the oldest beyond `files` is removed), and a
// fresh PATH starts with its own header. The fd number never changes, so the runtime keeps
// guarding it from the program's close().
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stack/base/result.h"

namespace tapsock {

class PcapWriter {
 public:
  static constexpr uint32_t kMaxSnapLen = 65535 + 64;

  struct Limits {
    uint64_t max_file_bytes = uint64_t{256} << 20;  // TAPSOCK_PCAP_SIZE
    uint32_t files = 4;                             // TAPSOCK_PCAP_FILES: PATH and PATH.1..
    uint32_t snaplen = kMaxSnapLen;                 // TAPSOCK_PCAP_SNAPLEN: bytes kept per frame
  };

  ~PcapWriter();
  // Creates (truncates) `path` and writes the file header; fd placed at or above fd_floor.
  Status Open(const std::string& path, int fd_floor, const Limits& limits);
  Status Open(const std::string& path, int fd_floor) { return Open(path, fd_floor, Limits{}); }
  void Record(std::span<const uint8_t> frame, int64_t realtime_ns);
  void Flush();
  int fd() const { return fd_; }
  uint64_t rotations() const { return rotations_; }

 private:
  void PutHeader();
  void Rotate();

  int fd_ = -1;
  std::string path_;
  Limits limits_;
  uint64_t file_bytes_ = 0;  // in the current file, written or buffered
  uint64_t rotations_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace tapsock
