#include "stack/link/pcap_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "stack/base/sys.h"

namespace tapsock {

namespace {
constexpr uint32_t kMagicNanos = 0xa1b23c4d;
constexpr uint32_t kLinkTypeEthernet = 1;
constexpr size_t kFlushAt = 256 * 1024;
constexpr uint64_t kHeaderBytes = 24, kRecordHeaderBytes = 16;

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

Status PcapWriter::Open(const std::string& path, int fd_floor, const Limits& limits) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error::kInvalidArgument;
  fd_ = sys::MoveHigh(fd, fd_floor);
  path_ = path;
  limits_ = limits;
  limits_.snaplen = std::clamp<uint32_t>(limits_.snaplen, 64, kMaxSnapLen);
  limits_.files = std::max<uint32_t>(limits_.files, 1);
  buf_.reserve(kFlushAt + kMaxSnapLen + 16);
  PutHeader();
  Flush();
  return OkStatus();
}

void PcapWriter::PutHeader() {
  Put32(buf_, kMagicNanos);
  const uint8_t version[4] = {2, 0, 4, 0};  // 2.4, little-endian like the rest
  buf_.insert(buf_.end(), version, version + 4);
  Put32(buf_, 0);  // thiszone
  Put32(buf_, 0);  // sigfigs
  Put32(buf_, limits_.snaplen);
  Put32(buf_, kLinkTypeEthernet);
  file_bytes_ = kHeaderBytes;
}

void PcapWriter::Record(std::span<const uint8_t> frame, int64_t realtime_ns) {
  if (fd_ < 0) return;
  uint32_t caplen = static_cast<uint32_t>(std::min<size_t>(frame.size(), limits_.snaplen));
  if (limits_.max_file_bytes > 0 && file_bytes_ > kHeaderBytes &&
      file_bytes_ + kRecordHeaderBytes + caplen > limits_.max_file_bytes) {
    Rotate();
  }
  Put32(buf_, static_cast<uint32_t>(realtime_ns / 1'000'000'000));
  Put32(buf_, static_cast<uint32_t>(realtime_ns % 1'000'000'000));
  Put32(buf_, caplen);
  Put32(buf_, static_cast<uint32_t>(frame.size()));
  buf_.insert(buf_.end(), frame.begin(), frame.begin() + caplen);
  file_bytes_ += kRecordHeaderBytes + caplen;
  if (buf_.size() >= kFlushAt) Flush();
}

void PcapWriter::Rotate() {
  Flush();
  ++rotations_;
  if (limits_.files == 1) {  // one file: start it over
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) return;
  } else {
    // PATH.(n-2) -> PATH.(n-1), ..., PATH -> PATH.1; renaming over the oldest removes it.
    for (uint32_t i = limits_.files - 1; i >= 1; --i) {
      std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
      (void)std::rename(from.c_str(), (path_ + "." + std::to_string(i)).c_str());
    }
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;  // keeps writing to the renamed file: capture is lost, never traffic
    // The same fd number, so the runtime's list of library fds stays right.
    bool moved = sys::Dup3(fd, fd_, O_CLOEXEC) == fd_;
    sys::Close(fd);
    if (!moved) return;
  }
  PutHeader();
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
