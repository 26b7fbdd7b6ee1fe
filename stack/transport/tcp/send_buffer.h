// The bytes the application wrote that the peer has not acknowledged yet: a ring whose first byte
// is at snd_una. Output copies segments out of it at any offset (new data and retransmissions
// alike); an ACK releases bytes from the front. Grows by doubling up to the socket's SO_SNDBUF, so
// an idle connection holds no buffer at all. Not thread-safe: under the stack lock.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace tapsock::tcp {

class SendBuffer {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Appends up to `limit - size()` bytes from iov (the program's memory); returns how many were
  // taken. Stops at the first byte that cannot be read, and then sets *fault if given.
  size_t Append(std::span<const iovec> iov, size_t skip, size_t limit, bool* fault = nullptr);
  // Copies `n` bytes starting `offset` bytes after the front into `out`.
  void CopyOut(size_t offset, size_t n, uint8_t* out) const;
  // Drops `n` acknowledged bytes from the front.
  void Consume(size_t n);
  // Takes back the last n bytes appended (never sent: the caller checks).
  void DropTail(size_t n) { size_ -= n; }
  void Clear();

 private:
  bool Reserve(size_t need);
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;  // a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace tapsock::tcp
