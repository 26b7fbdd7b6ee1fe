// The TAP device driven through io_uring (liburing 2.3).
//
// Receive delivers frames in exactly the order the TAP queued them, as a NIC does. One multishot
// read (IORING_OP_READ_MULTISHOT, Linux >= 6.7) stays armed on the TAP fd and takes its buffers
// from a provided-buffer ring (IOU_PBUF_RING) holding up to kRxDepth pool buffers, buffer id = slot
// in rx_[], each with kRxHeadroom in front so a reply can be built in place. Each frame is one
// completion naming its buffer, and one request's completions come back in the order it read the
// frames; the buffer goes up the stack as is (no copy) and a fresh pool buffer takes its slot in
// the ring: no system call per frame. The request ends when the ring runs dry (-ENOBUFS: every
// buffer is waiting for delivery) or on an error; the loop re-arms it after refilling the ring.
// Where the kernel refuses the multishot read or the buffer ring, receive falls back to a chain of
// up to kRxDepth plain reads linked with IOSQE_IO_HARDLINK: each starts when the one before it has
// completed, so they too complete in order, and the next chain is posted once the previous one
// has completed entirely. (Independent reads posted side by side have no order among them.)
//
// Transmit: WritePacketLocked queues a write SQE for the frame's buffer and FlushLocked submits
// every frame queued during the operation with one io_uring_enter; the buffer returns to the pool
// when its completion is reaped. user_data encodes an operation and a slot index, never a pointer.
//
// Threads: application threads submit (under the stack lock); only the loop thread (RunLoop)
// posts reads, so read completions' task work runs on the loop thread, and only it delivers
// received frames. A sender that finds all kTxDepth slots in flight reaps the ring itself: write
// slots come back at once, received frames wait in rx_done_ for the loop (never delivered inside
// a send), and the sender posts a NOP so a loop asleep on the ring wakes up to deliver them.
// Timers and wake-ups share the ring: the loop waits for a completion or the stack's next
// deadline, and OnDeadlineChangedLocked posts a NOP to wake it when a deadline moves earlier.
#pragma once

#include <liburing.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "stack/registration.h"
#include "stack/stats.h"

namespace tapsock {

class Stack;

class TapLink : public LinkEndpoint, public TimerObserver {
 public:
  struct Config {
    std::string name;
    MacAddr mac;
    uint32_t mtu = 0;  // 0: the device's own MTU
    int fd_floor = 0;  // library fds are moved to or above this number
    // Told, once at Open and again if the kernel later refuses the multishot read, which receive
    // mode is in use (the stack has no logger: the shim logs it at info). May be null.
    void (*report)(const std::string& message) = nullptr;
  };
  static constexpr unsigned kRxDepth = 64;  // receive buffers the kernel holds (a power of two)
  static constexpr unsigned kTxDepth = 1024;  // frames in flight before a full queue drops
  static constexpr uint32_t kRxHeadroom = 64;  // lets a reply be built in the request's buffer
  // The TAP queue length Open asks for: a full 6 MiB receive window of 1500-byte frames.
  static constexpr unsigned kTapQueueLen = 4096;

  // Attaches to an existing TAP device; on failure returns nullptr and explains in *error.
  static std::unique_ptr<TapLink> Open(const Config& config, Stack& stack, std::string* error);
  ~TapLink() override;

  uint32_t Mtu() const override { return mtu_; }
  MacAddr LinkAddress() const override { return mac_; }
  void AttachLocked(NetworkDispatcher* d, Nic* nic) override {
    dispatcher_ = d;
    nic_ = nic;
  }
  void WritePacketLocked(PacketBuffer* frame) override;
  void FlushLocked() override;
  bool OnDeadlineChangedLocked(Instant deadline) override;
  void AddKernelCounters(LinkStats& stats) const override;

  // The loop thread's body: returns when Stop() is called.
  void RunLoop();
  void Stop();
  int tap_fd() const { return tap_fd_; }
  int ring_fd() const { return ring_.ring_fd; }

  enum class RxMode : uint8_t {
    kMultishot,    // one multishot read over a provided-buffer ring
    kLinkedReads,  // the fallback: chains of hard-linked plain reads
  };
  RxMode rx_mode() const { return rx_mode_; }

 private:
  enum Op : uint32_t { kRead = 1, kWrite = 2, kWake = 3, kReadMultishot = 4 };
  TapLink(Stack& stack) : stack_(stack) {}
  bool InitRing(int fd_floor, std::string* error);
  // Reads the MTU if none was given, and raises the TAP's queue length to kTapQueueLen if allowed.
  void ConfigureDevice();
  // The kernel's count of frames it dropped at the TAP's full queue (sysfs).
  uint64_t ReadTapDrops() const;
  // Registers the provided-buffer ring if the kernel has the multishot read; otherwise chooses
  // the linked reads. Either way says which through config.report.
  void InitRxMode();
  void UseLinkedReads(const std::string& why);
  // Loop thread only: gives the kernel a buffer for every empty slot and (re-)arms the reads.
  void PostReadsLocked();
  void PostMultishotLocked();
  void PostReadChainLocked();
  // Takes every completion off the ring: write slots return to the free list at once, received
  // frames wait in rx_done_ for DeliverReceivedLocked. Any thread may reap (under the lock), so a
  // sender that finds every TX slot in flight frees the completed ones instead of dropping.
  // Returns true if it took a receive completion (which only the loop thread acts on).
  bool ReapCompletionsLocked();
  // Pushes the reaped frames up the stack: only the loop thread, never from inside a send path.
  void DeliverReceivedLocked();
  io_uring_sqe* GetSqeLocked();

  Stack& stack_;
  int tap_fd_ = -1;
  io_uring ring_{};
  bool ring_ok_ = false;
  uint32_t mtu_ = 1500;
  uint64_t tap_drops_at_attach_ = 0;
  MacAddr mac_;
  NetworkDispatcher* dispatcher_ = nullptr;
  Nic* nic_ = nullptr;
  // rx_[slot]: a buffer the kernel holds (in the buffer ring, or under a posted read), or one whose
  // frame waits in rx_done_; null once delivered, until PostReadsLocked refills the slot.
  PacketBuffer* rx_[kRxDepth] = {};
  RxMode rx_mode_ = RxMode::kLinkedReads;
  void (*report_)(const std::string&) = nullptr;
  std::string name_;
  io_uring_buf_ring* rx_ring_ = nullptr;  // kMultishot: the provided buffers (buffer group kRxGroup)
  size_t rx_ring_bytes_ = 0;
  unsigned rx_posted_ = 0;  // buffers the kernel holds: in the ring, or under the chain's reads
  bool rx_armed_ = false;   // kMultishot: the read is queued or armed (its last CQE not yet seen)
  bool rx_delivered_ = false;  // kMultishot: a frame has come through it (the kernel accepts it)
  int rx_end_ = 0;          // kMultishot: the error that ended the read last, for the loop
  struct RxDone {
    uint16_t slot;
    int32_t res;
  };
  RxDone rx_done_[kRxDepth] = {};  // frames received but not yet delivered, in the TAP's order
  unsigned rx_done_count_ = 0;
  int64_t rx_done_stamp_ = 0;      // when the oldest of them was reaped
  PacketBuffer* tx_[kTxDepth] = {};
  std::vector<uint16_t> tx_free_;
  unsigned unsubmitted_ = 0;         // SQEs queued since the last submit
  unsigned unsubmitted_frames_ = 0;  // of which frame writes
  unsigned rx_errors_in_a_row_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace tapsock
