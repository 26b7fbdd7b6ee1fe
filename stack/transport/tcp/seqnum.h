// TCP sequence numbers (RFC 9293 3.4): 32-bit values compared modulo 2^32, so that "a is before b"
// stays true across the wrap from 0xffffffff to 0. Every TCB field and segment variable that holds
// a sequence or acknowledgment number (snd_una, snd_nxt, rcv_nxt, SEG.SEQ, SEG.ACK ...) uses
// SeqNum, which makes a plain integer comparison, the classic wraparound bug, a compile error.
// (gVisor seqnum.Value, Seastar tcp_seq, Linux before()/after().)
//
// a < b iff (int32_t)(a - b) < 0. The relation is only meaningful for values less than 2^31 apart;
// at exactly 2^31 apart each compares less than the other, as in Linux (RFC 1982 3.2 leaves that
// case undefined). Window sizes are far below 2^31, so TCP never asks that question.
//
// A value type: trivially copyable, no state beyond the number, safe to share between threads.
#pragma once

#include <concepts>
#include <cstdint>

namespace tapsock::tcp {

// Offsets are taken modulo 2^32, so any integer width works (a size_t length, a uint32_t window,
// a negative int meaning "back by"); bool is excluded because it is never a length.
template <typename T>
concept SeqOffset = std::integral<T> && !std::same_as<T, bool>;

class SeqNum {
 public:
  constexpr SeqNum() = default;
  // Explicit so that a length or a port can never silently become a sequence number.
  constexpr explicit SeqNum(uint32_t v) : v_(v) {}

  constexpr uint32_t value() const { return v_; }

  friend constexpr bool operator==(SeqNum a, SeqNum b) = default;
  friend constexpr bool operator<(SeqNum a, SeqNum b) { return Signed(a.v_ - b.v_) < 0; }
  friend constexpr bool operator<=(SeqNum a, SeqNum b) { return Signed(a.v_ - b.v_) <= 0; }
  friend constexpr bool operator>(SeqNum a, SeqNum b) { return Signed(a.v_ - b.v_) > 0; }
  friend constexpr bool operator>=(SeqNum a, SeqNum b) { return Signed(a.v_ - b.v_) >= 0; }

  template <SeqOffset T>
  friend constexpr SeqNum operator+(SeqNum s, T n) {
    return SeqNum(s.v_ + static_cast<uint32_t>(n));
  }
  template <SeqOffset T>
  friend constexpr SeqNum operator-(SeqNum s, T n) {
    return SeqNum(s.v_ - static_cast<uint32_t>(n));
  }
  template <SeqOffset T>
  constexpr SeqNum& operator+=(T n) {
    v_ += static_cast<uint32_t>(n);
    return *this;
  }
  template <SeqOffset T>
  constexpr SeqNum& operator-=(T n) {
    v_ -= static_cast<uint32_t>(n);
    return *this;
  }

  // `b - a`: how far b is ahead of a (negative when behind). Bytes in flight are snd_nxt - snd_una.
  friend constexpr int32_t operator-(SeqNum b, SeqNum a) { return Signed(b.v_ - a.v_); }

 private:
  // Two's-complement reinterpretation; well defined since C++20.
  static constexpr int32_t Signed(uint32_t d) { return static_cast<int32_t>(d); }

  uint32_t v_ = 0;
};

// start <= seq < start + size, modulo 2^32. A zero-size window holds nothing here: the special
// cases of RFC 9293 3.10.7.4 for a zero receive window (accept SEG.SEQ = RCV.NXT with no data)
// are the caller's.
constexpr bool InWindow(SeqNum seq, SeqNum start, uint32_t size) {
  return seq.value() - start.value() < size;
}

constexpr SeqNum Max(SeqNum a, SeqNum b) {
  return a < b ? b : a;
}
constexpr SeqNum Min(SeqNum a, SeqNum b) {
  return a < b ? a : b;
}

}  // namespace tapsock::tcp
