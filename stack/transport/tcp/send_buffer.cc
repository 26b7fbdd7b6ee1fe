#include "stack/transport/tcp/send_buffer.h"

#include "stack/base/user_copy.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace tapsock::tcp {

bool SendBuffer::Reserve(size_t need) {
  if (need <= capacity_) return true;
  size_t cap = capacity_ ? capacity_ : 4096;
  while (cap < need) cap *= 2;  // a power of two, so offsets wrap with a mask
  auto fresh = std::unique_ptr<uint8_t[]>(new (std::nothrow) uint8_t[cap]);
  if (!fresh) return false;
  if (size_) CopyOut(0, size_, fresh.get());
  data_ = std::move(fresh);
  capacity_ = cap;
  head_ = 0;
  return true;
}

size_t SendBuffer::Append(std::span<const iovec> iov, size_t skip, size_t limit, bool* fault) {
  size_t want = 0;
  for (const iovec& v : iov) want += v.iov_len;
  want -= std::min(want, skip);
  if (size_ >= limit) return 0;
  size_t n = std::min(want, limit - size_);
  if (n == 0 || !Reserve(size_ + n)) return 0;
  size_t done = 0;
  for (const iovec& v : iov) {
    const auto* src = static_cast<const uint8_t*>(v.iov_base);
    size_t len = v.iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    src += skip;
    len -= skip;
    skip = 0;
    len = std::min(len, n - done);
    while (len > 0) {
      size_t tail = (head_ + size_) & (capacity_ - 1);
      size_t chunk = std::min(len, capacity_ - tail);
      size_t got = CopyFromUser(data_.get() + tail, src, chunk);
      size_ += got;
      done += got;
      if (got < chunk) {  // the program's buffer ends in a hole: keep what came before it
        if (fault) *fault = true;
        return done;
      }
      src += chunk;
      len -= chunk;
    }
    if (done == n) break;
  }
  return done;
}

void SendBuffer::CopyOut(size_t offset, size_t n, uint8_t* out) const {
  size_t pos = (head_ + offset) & (capacity_ - 1);
  while (n > 0) {
    size_t chunk = std::min(n, capacity_ - pos);
    std::memcpy(out, data_.get() + pos, chunk);
    out += chunk;
    n -= chunk;
    pos = 0;
  }
}

void SendBuffer::Consume(size_t n) {
  n = std::min(n, size_);
  head_ = (head_ + n) & (capacity_ ? capacity_ - 1 : 0);
  size_ -= n;
  if (size_ == 0) head_ = 0;
}

void SendBuffer::Clear() {
  data_.reset();
  capacity_ = head_ = size_ = 0;
}

}  // namespace tapsock::tcp
