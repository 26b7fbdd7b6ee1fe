#include "stack/timer_loop.h"

#include <chrono>
#include <mutex>

#include "stack/stack.h"

namespace tapsock {

void TimerLoop::Run() {
  std::unique_lock<std::mutex> lock(stack_.mu().native());
  while (!stop_.load(std::memory_order_relaxed)) {
    Instant deadline = stack_.NextDeadlineLocked();
    stack_.LoopArmedLocked(deadline);
    if (deadline == kNever) {
      cv_.wait(lock);
    } else {
      Instant wait = deadline - MonotonicNow();
      if (wait > 0) cv_.wait_for(lock, std::chrono::nanoseconds(wait));
    }
    stack_.SetNowLocked(MonotonicNow());
    if (stack_.now() >= stack_.NextDeadlineLocked()) stack_.RunTimersLocked();
    stack_.FlushLocked();
  }
}

void TimerLoop::Stop() {
  stop_.store(true);
  std::lock_guard<std::mutex> lock(stack_.mu().native());
  cv_.notify_one();
}

}  // namespace tapsock
