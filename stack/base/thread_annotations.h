// Clang thread-safety annotations (Abseil's GUARDED_BY and friends). GCC ignores them; building with
// clang and -Wthread-safety checks that every *Locked function runs with the stack lock held.
#pragma once

#include <mutex>

#if defined(__clang__)
#define TS_ATTR(x) __attribute__((x))
#else
#define TS_ATTR(x)
#endif

#define TS_CAPABILITY(x) TS_ATTR(capability(x))
#define TS_GUARDED_BY(x) TS_ATTR(guarded_by(x))
#define TS_REQUIRES(...) TS_ATTR(requires_capability(__VA_ARGS__))
#define TS_ACQUIRE(...) TS_ATTR(acquire_capability(__VA_ARGS__))
#define TS_RELEASE(...) TS_ATTR(release_capability(__VA_ARGS__))
#define TS_SCOPED_CAPABILITY TS_ATTR(scoped_lockable)
#define TS_NO_THREAD_SAFETY_ANALYSIS TS_ATTR(no_thread_safety_analysis)

namespace tapsock {

// The stack lock: a std::mutex with annotations.
class TS_CAPABILITY("mutex") Mutex {
 public:
  void Lock() TS_ACQUIRE() { mu_.lock(); }
  void Unlock() TS_RELEASE() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class TS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) TS_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() TS_RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace tapsock
