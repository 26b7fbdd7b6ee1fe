#include "stack/link/pcap_writer.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "stack/base/sys.h"

namespace tapsock {

namespace {
constexpr uint32_t kMagicNanos = 0xa1b23c4d;
constexpr uint32_t kLinkTypeEthernet = 1;
constexpr size_t kFlushAt = 256 * 1024;

void Put32(std::vector<uint8_t>& b, uint32_t v) {
  uint8_t raw[4];
  std::memcpy(raw, &v, 4);  // pcap is written in the host's byte order; readers detect it
  b.insert(b.end(), raw, raw + 4);
}
}  // namespace

PcapWriter::~PcapWriter() {
  Flush();
  if (fd_ >= 0) sys::Close(fd_);
}

Status PcapWriter::Open(const std::string& path, int fd_floor) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error::kInvalidArgument;
  fd_ = sys::MoveHigh(fd, fd_floor);
  buf_.reserve(kFlushAt + kSnapLen + 16);
  Put32(buf_, kMagicNanos);
  const uint8_t version[4] = {2, 0, 4, 0};  // 2.4, little-endian like the rest
  buf_.insert(buf_.end(), version, version + 4);
  Put32(buf_, 0);  // thiszone
  Put32(buf_, 0);  // sigfigs
  Put32(buf_, kSnapLen);
  Put32(buf_, kLinkTypeEthernet);
  Flush();
  return OkStatus();
}

void PcapWriter::Record(std::span<const uint8_t> frame, int64_t realtime_ns) {
  if (fd_ < 0) return;
  uint32_t caplen = static_cast<uint32_t>(std::min<size_t>(frame.size(), kSnapLen));
  Put32(buf_, static_cast<uint32_t>(realtime_ns / 1'000'000'000));
  Put32(buf_, static_cast<uint32_t>(realtime_ns % 1'000'000'000));
  Put32(buf_, caplen);
  Put32(buf_, static_cast<uint32_t>(frame.size()));
  buf_.insert(buf_.end(), frame.begin(), frame.begin() + caplen);
  if (buf_.size() >= kFlushAt) Flush();
}

void PcapWriter::Flush() {
  size_t off = 0;
  while (fd_ >= 0 && off < buf_.size()) {
    ssize_t n = sys::Write(fd_, buf_.data() + off, buf_.size() - off);
    if (n <= 0) break;  // a full disk loses capture, never traffic
    off += static_cast<size_t>(n);
  }
  buf_.clear();
}

}  // namespace tapsock
