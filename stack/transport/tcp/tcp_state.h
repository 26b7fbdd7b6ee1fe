// TCP connection states (RFC 9293 3.3.2), with the predicates the input and output paths group
// them by. Values match Linux's TCP_* numbering so TCP_INFO's tcpi_state is a plain cast.
#pragma once

#include <cstdint>

namespace tapsock::tcp {

enum class State : uint8_t {
  kEstablished = 1,
  kSynSent = 2,
  kSynReceived = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClosed = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10,
  kClosing = 11,
};

const char* StateName(State s);

// Both SYNs seen: sequence numbers are synchronised (RFC 9293 3.10.7.4).
inline bool IsSynchronized(State s) {
  return s != State::kClosed && s != State::kListen && s != State::kSynSent && s != State::kSynReceived;
}
// The application may still send.
inline bool CanSend(State s) { return s == State::kEstablished || s == State::kCloseWait; }
// Data from the peer is still accepted.
inline bool CanReceive(State s) {
  return s == State::kEstablished || s == State::kFinWait1 || s == State::kFinWait2;
}
// Our FIN has been queued or sent.
inline bool FinQueued(State s) {
  return s == State::kFinWait1 || s == State::kFinWait2 || s == State::kClosing || s == State::kLastAck ||
         s == State::kTimeWait;
}

}  // namespace tapsock::tcp
