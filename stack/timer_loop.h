// Runs the stack's timers when no device loop does: a stack with only its loopback (no TAP) still
// needs delayed ACKs, retransmissions and TIME-WAIT to expire. The thread sleeps on a condition
// variable tied to the stack lock until the next deadline; the stack wakes it, through
// TimerObserver, when an operation creates an earlier one. It never spins: with no deadline it
// sleeps until woken.
#pragma once

#include <atomic>
#include <condition_variable>

#include "stack/registration.h"

namespace tapsock {

class Stack;

class TimerLoop : public TimerObserver {
 public:
  explicit TimerLoop(Stack& stack) : stack_(stack) {}
  // The thread's body; returns after Stop().
  void Run();
  void Stop();
  bool OnDeadlineChangedLocked(Instant) override {
    cv_.notify_one();
    return true;
  }

 private:
  Stack& stack_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
};

}  // namespace tapsock
