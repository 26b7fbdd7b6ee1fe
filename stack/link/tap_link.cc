// TAP over io_uring: device attachment, the ring, and the loop thread.
#include "stack/link/tap_link.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "stack/base/sys.h"
#include "stack/stack.h"

namespace tapsock {

namespace {

uint64_t Encode(uint32_t op, uint32_t slot) { return (uint64_t{op} << 32) | slot; }

// IORING_OP_READ_MULTISHOT (Linux 6.7): the entry after IORING_OP_SENDMSG_ZC in enum io_uring_op
// of the kernel's include/uapi/linux/io_uring.h. liburing 2.3's copy of that header stops at
// IORING_OP_SENDMSG_ZC and has no io_uring_prep_read_multishot (2.5), so the SQE is filled here.
constexpr int kOpReadMultishot = 49;
static_assert(IORING_OP_SENDMSG_ZC + 1 == kOpReadMultishot, "io_uring opcode numbering moved");
constexpr uint16_t kRxGroup = 0;  // the provided-buffer group the multishot read picks from
static_assert((TapLink::kRxDepth & (TapLink::kRxDepth - 1)) == 0 && TapLink::kRxDepth <= 32768,
              "a buffer ring has a power-of-two number of entries");

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::unique_ptr<TapLink> TapLink::Open(const Config& config, Stack& stack, std::string* error) {
  if (config.name.empty() || config.name.size() >= IFNAMSIZ) {
    *error = "invalid TAP device name '" + config.name + "'";
    return nullptr;
  }
  // TUNSETIFF would create a missing device; the contract is to attach to an existing TAP only.
  std::string flags_path = "/sys/class/net/" + config.name + "/tun_flags";
  if (access(flags_path.c_str(), F_OK) != 0) {
    *error = "no TAP device '" + config.name + "' in this network namespace";
    return nullptr;
  }
  std::unique_ptr<TapLink> link(new TapLink(stack));
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = Errno("open /dev/net/tun");
    return nullptr;
  }
  link->tap_fd_ = sys::MoveHigh(fd, config.fd_floor);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, config.name.c_str(), config.name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (sys::Ioctl(link->tap_fd_, TUNSETIFF, &ifr) < 0) {
    *error = Errno(("attach to TAP '" + config.name + "' (TUNSETIFF)").c_str());
    if (errno == EBUSY) *error += " (another process holds it)";
    return nullptr;
  }
  link->mac_ = config.mac;
  link->name_ = config.name;
  link->report_ = config.report;
  link->mtu_ = config.mtu;
  link->ConfigureDevice();
  link->tap_drops_at_attach_ = link->ReadTapDrops();
  if (!link->InitRing(config.fd_floor, error)) return nullptr;
  link->InitRxMode();
  return link;
}

void TapLink::ConfigureDevice() {
  int s = sys::Socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq q{};
  std::memcpy(q.ifr_name, name_.c_str(), name_.size());
  if (mtu_ == 0) mtu_ = (s >= 0 && sys::Ioctl(s, SIOCGIFMTU, &q) == 0) ? static_cast<uint32_t>(q.ifr_mtu) : 1500;
  // While the loop thread is not running, frames wait in the TAP's own queue, txqueuelen frames
  // long (1000 by default); the kernel drops what does not fit. Make room for a full receive
  // window of frames where we may (CAP_NET_ADMIN); the counters show the drops either way.
  if (s >= 0 && sys::Ioctl(s, SIOCGIFTXQLEN, &q) == 0 && q.ifr_qlen < static_cast<int>(kTapQueueLen)) {
    const int was = q.ifr_qlen;
    q.ifr_qlen = kTapQueueLen;
    if (sys::Ioctl(s, SIOCSIFTXQLEN, &q) == 0 && report_) {
      report_("TAP " + name_ + ": queue length raised from " + std::to_string(was) + " to " +
              std::to_string(kTapQueueLen) + " frames");
    }
  }
  if (s >= 0) sys::Close(s);
}

uint64_t TapLink::ReadTapDrops() const {
  // The TAP's TX is what the kernel sends to us; its TX dropped is our queue overflowing.
  std::string path = "/sys/class/net/" + name_ + "/statistics/tx_dropped";
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd < 0) return 0;
  char text[32] = {};
  ssize_t n = sys::Read(fd, text, sizeof text - 1);
  sys::Close(fd);
  return n > 0 ? std::strtoull(text, nullptr, 10) : 0;
}

void TapLink::AddKernelCounters(LinkStats& stats) const {
  uint64_t now = ReadTapDrops();
  if (now > tap_drops_at_attach_) stats.tap_queue_drops += now - tap_drops_at_attach_;
}

bool TapLink::InitRing(int fd_floor, std::string* error) {
  io_uring_params p{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL;
  p.cq_entries = 2 * (kRxDepth + kTxDepth);
  p.flags |= IORING_SETUP_CQSIZE;
  int rc = io_uring_queue_init_params(kRxDepth + kTxDepth, &ring_, &p);
  if (rc == -EINVAL) {  // an older kernel without the optional flags
    p = io_uring_params{};
    rc = io_uring_queue_init_params(kRxDepth + kTxDepth, &ring_, &p);
  }
  if (rc < 0) {
    errno = -rc;
    *error = Errno("io_uring_queue_init");
    return false;
  }
  ring_ok_ = true;
  // The ring's mappings outlive its fd number, so the fd can move out of the program's way.
  int hi = sys::MoveHigh(ring_.ring_fd, fd_floor);
  ring_.ring_fd = ring_.enter_ring_fd = hi;
  tx_free_.reserve(kTxDepth);
  for (unsigned i = kTxDepth; i-- > 0;) tx_free_.push_back(static_cast<uint16_t>(i));
  return true;
}

void TapLink::InitRxMode() {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  bool has_read_multishot = probe && io_uring_opcode_supported(probe, kOpReadMultishot);
  if (probe) io_uring_free_probe(probe);
  if (!has_read_multishot) {
    UseLinkedReads("the kernel has no multishot read (IORING_OP_READ_MULTISHOT, Linux 6.7)");
    return;
  }
  // The ring's memory is ours (liburing 2.3 predates IOU_PBUF_RING_MMAP): page-aligned, one
  // 16-byte entry per slot, mapped once.
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t bytes = (kRxDepth * sizeof(io_uring_buf) + page - 1) / page * page;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    UseLinkedReads(Errno("mmap for the provided-buffer ring"));
    return;
  }
  auto* br = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(br);
  reg.ring_entries = kRxDepth;
  reg.bgid = kRxGroup;
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    munmap(mem, bytes);
    UseLinkedReads(std::string("the kernel refused a provided-buffer ring (IORING_REGISTER_PBUF_RING): ") +
                   std::strerror(-rc));
    return;
  }
  rx_ring_ = br;
  rx_ring_bytes_ = bytes;
  rx_mode_ = RxMode::kMultishot;
  if (report_) {
    report_("TAP " + name_ + ": receive by one multishot read over a ring of " +
            std::to_string(kRxDepth) + " provided buffers (frames in order)");
  }
}

void TapLink::UseLinkedReads(const std::string& why) {
  if (rx_ring_) {  // the multishot read has ended, so no request uses the group any more
    io_uring_unregister_buf_ring(&ring_, kRxGroup);
    munmap(rx_ring_, rx_ring_bytes_);
    rx_ring_ = nullptr;
  }
  // Buffers left in the ring are ours again: the first chain reads into them.
  rx_mode_ = RxMode::kLinkedReads;
  rx_posted_ = 0;
  rx_armed_ = false;
  if (report_) {
    report_("TAP " + name_ + ": " + why + "; receive by chains of " + std::to_string(kRxDepth) +
            " hard-linked reads (frames in order)");
  }
}

TapLink::~TapLink() {
  if (ring_ok_) io_uring_queue_exit(&ring_);  // cancels the reads and drops the buffer ring
  if (rx_ring_) munmap(rx_ring_, rx_ring_bytes_);
  if (tap_fd_ >= 0) sys::Close(tap_fd_);
}

io_uring_sqe* TapLink::GetSqeLocked() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {  // the submission queue is full: send what is there and try again
    if (io_uring_submit(&ring_) >= 0) unsubmitted_ = unsubmitted_frames_ = 0;
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void TapLink::WritePacketLocked(PacketBuffer* frame) {
  LinkStats& st = stack_.stats().link;
  if (tx_free_.empty()) {  // every slot in flight: submit what is queued, take back what is done
    FlushLocked();
    // Receive completions taken here wait for the loop, which may be asleep on a ring it finds
    // empty now: a NOP (submitted with this frame) wakes it to deliver them and re-arm.
    if (ReapCompletionsLocked()) OnDeadlineChangedLocked(0);
  }
  io_uring_sqe* sqe = tx_free_.empty() ? nullptr : GetSqeLocked();
  if (!sqe) {  // more frames in flight than the ring holds: a full NIC queue drops
    st.tx_dropped++;
    stack_.pool().Free(frame);
    return;
  }
  uint16_t slot = tx_free_.back();
  tx_free_.pop_back();
  tx_[slot] = frame;
  io_uring_prep_write(sqe, tap_fd_, frame->data(), frame->len, 0);
  io_uring_sqe_set_data64(sqe, Encode(kWrite, slot));
  st.tx_frames++;
  st.tx_bytes += frame->len;
  ++unsubmitted_;
  ++unsubmitted_frames_;
}

void TapLink::FlushLocked() {
  if (unsubmitted_ == 0) return;
  if (io_uring_submit(&ring_) < 0) return;  // kept queued: the next flush submits them
  if (unsubmitted_frames_) stack_.stats().link.tx_batches++;
  unsubmitted_ = unsubmitted_frames_ = 0;
}

bool TapLink::OnDeadlineChangedLocked(Instant) {
  io_uring_sqe* sqe = GetSqeLocked();
  if (!sqe) return false;
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, Encode(kWake, 0));
  ++unsubmitted_;
  return true;
}

void TapLink::PostReadsLocked() {
  if (rx_errors_in_a_row_ > 1000) return;  // a dead device: stop spinning on it
  if (rx_mode_ == RxMode::kMultishot) {
    PostMultishotLocked();
  } else {
    PostReadChainLocked();
  }
}

void TapLink::PostMultishotLocked() {
  if (!rx_armed_ && rx_end_ < 0) {  // the read ended with an error: why?
    int end = rx_end_;
    rx_end_ = 0;
    if (!rx_delivered_ && (end == -EINVAL || end == -EOPNOTSUPP || end == -EBADFD)) {
      UseLinkedReads(std::string("the kernel refused a multishot read on the TAP: ") + std::strerror(-end));
      PostReadChainLocked();
      return;
    }
    // -ENOBUFS: every buffer was waiting for delivery; the frames behind them wait in the TAP.
    if (end != -ENOBUFS && end != -EAGAIN && end != -EINTR) {
      rx_errors_in_a_row_++;
      stack_.stats().link.rx_dropped++;
    }
  }
  const int mask = io_uring_buf_ring_mask(kRxDepth);
  int added = 0;
  for (unsigned slot = 0; slot < kRxDepth; ++slot) {
    if (rx_[slot]) continue;
    PacketBuffer* b = stack_.pool().Alloc(mtu_ + 14 + 4, kRxHeadroom);
    if (!b) break;  // the pool is exhausted; retry on the next pass
    rx_[slot] = b;
    io_uring_buf_ring_add(rx_ring_, b->data(), b->capacity - b->head, static_cast<uint16_t>(slot),
                          mask, added++);
  }
  if (added) {
    io_uring_buf_ring_advance(rx_ring_, added);  // publishes the entries (a release store)
    rx_posted_ += added;
  }
  if (rx_armed_ || rx_posted_ == 0) return;  // armed with no buffer would end at once: wait
  io_uring_sqe* sqe = GetSqeLocked();
  if (!sqe) return;
  // io_uring_prep_read_multishot as liburing 2.5 has it: no address and no length (each read
  // takes one whole buffer from the group).
  io_uring_prep_rw(kOpReadMultishot, sqe, tap_fd_, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kRxGroup;
  io_uring_sqe_set_data64(sqe, Encode(kReadMultishot, 0));
  rx_armed_ = true;
  ++unsubmitted_;
}

void TapLink::PostReadChainLocked() {
  // A second chain would read beside the first and reorder frames: wait until it has completed
  // and its frames have gone up.
  if (rx_posted_ || rx_done_count_) return;
  unsigned n = 0;
  for (unsigned slot = 0; slot < kRxDepth; ++slot) {
    if (!rx_[slot]) rx_[slot] = stack_.pool().Alloc(mtu_ + 14 + 4, kRxHeadroom);
    if (rx_[slot]) ++n;  // a slot the exhausted pool left empty is skipped
  }
  if (n == 0) return;
  // The chain must go in one submission: one split across two would become two chains.
  if (io_uring_sq_space_left(&ring_) < n) {
    if (io_uring_submit(&ring_) >= 0) unsubmitted_ = unsubmitted_frames_ = 0;
    if (io_uring_sq_space_left(&ring_) < n) return;  // retry on the next pass
  }
  unsigned linked = 0;
  for (unsigned slot = 0; slot < kRxDepth; ++slot) {
    PacketBuffer* b = rx_[slot];
    if (!b) continue;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_read(sqe, tap_fd_, b->data(), b->capacity - b->head, 0);
    // A hard link survives a failed or short read (every frame is a short read).
    if (++linked < n) sqe->flags |= IOSQE_IO_HARDLINK;
    io_uring_sqe_set_data64(sqe, Encode(kRead, slot));
    ++unsubmitted_;
  }
  rx_posted_ = n;
}

bool TapLink::ReapCompletionsLocked() {
  LinkStats& st = stack_.stats().link;
  bool rx = false;
  unsigned head, count = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++count;
    uint64_t data = io_uring_cqe_get_data64(cqe);
    uint32_t op = static_cast<uint32_t>(data >> 32), slot = static_cast<uint32_t>(data);
    int res = cqe->res;
    if (op == kWrite && slot < kTxDepth) {
      if (res < 0) st.tx_dropped++;
      stack_.pool().Free(tx_[slot]);
      tx_[slot] = nullptr;
      tx_free_.push_back(static_cast<uint16_t>(slot));
    } else if (op == kReadMultishot) {
      rx = true;
      if (cqe->flags & IORING_CQE_F_BUFFER) {
        uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (bid < kRxDepth && rx_[bid] && rx_posted_ > 0) {
          // A buffer comes back once until the loop refills its slot: at most kRxDepth wait.
          --rx_posted_;
          if (rx_done_count_ == 0) rx_done_stamp_ = RealtimeNanos();
          rx_done_[rx_done_count_++] = {static_cast<uint16_t>(bid), res};
          if (res > 0) rx_delivered_ = true;
        }
      }
      if (!(cqe->flags & IORING_CQE_F_MORE)) {  // the read has ended: the loop re-arms it
        rx_armed_ = false;
        // A last frame (the CQ ring was full) is no error; an end of file would be one.
        rx_end_ = (cqe->flags & IORING_CQE_F_BUFFER) ? 0 : res < 0 ? res : -EIO;
      }
    } else if (op == kRead && slot < kRxDepth) {
      rx = true;
      // Each slot has one read in flight, so the stash never holds more than kRxDepth.
      if (rx_posted_ > 0) --rx_posted_;
      if (rx_done_count_ == 0) rx_done_stamp_ = RealtimeNanos();
      rx_done_[rx_done_count_++] = {static_cast<uint16_t>(slot), res};
    }
  }
  io_uring_cq_advance(&ring_, count);
  return rx;
}

void TapLink::DeliverReceivedLocked() {
  LinkStats& st = stack_.stats().link;
  unsigned frames = 0;
  for (unsigned i = 0; i < rx_done_count_; ++i) {
    auto [slot, res] = rx_done_[i];
    PacketBuffer* b = rx_[slot];
    rx_[slot] = nullptr;
    if (res <= 0) {
      if (res != -EAGAIN && res != -EINTR) rx_errors_in_a_row_++, st.rx_dropped++;
      stack_.pool().Free(b);
      continue;
    }
    if (static_cast<uint32_t>(res) > b->capacity - b->head) {  // cannot happen: a read fills at most the buffer
      st.rx_dropped++;
      stack_.pool().Free(b);
      continue;
    }
    rx_errors_in_a_row_ = 0;
    ++frames;
    b->len = static_cast<uint32_t>(res);
    b->rx_realtime_ns = rx_done_stamp_;
    dispatcher_->DeliverFrameLocked(*nic_, b);
  }
  rx_done_count_ = 0;
  if (frames) st.rx_batches++;
}

void TapLink::RunLoop() {
  {
    MutexLock lock(stack_.mu());
    stack_.SetNowLocked(MonotonicNow());
    PostReadsLocked();
    stack_.FlushLocked();
  }
  while (!stop_.load(std::memory_order_relaxed)) {
    Instant deadline;
    {
      MutexLock lock(stack_.mu());
      deadline = stack_.NextDeadlineLocked();
      stack_.LoopArmedLocked(deadline);
    }
    io_uring_cqe* cqe = nullptr;
    if (deadline == kNever) {
      io_uring_wait_cqe(&ring_, &cqe);
    } else {
      int64_t wait = std::max<int64_t>(0, deadline - MonotonicNow());
      __kernel_timespec ts{wait / kSecond, wait % kSecond};
      io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
    }
    MutexLock lock(stack_.mu());
    stack_.SetNowLocked(MonotonicNow());
    ReapCompletionsLocked();
    DeliverReceivedLocked();
    if (stack_.now() >= stack_.NextDeadlineLocked()) stack_.RunTimersLocked();
    PostReadsLocked();
    stack_.FlushLocked();
  }
}

void TapLink::Stop() {
  stop_.store(true);
  MutexLock lock(stack_.mu());
  OnDeadlineChangedLocked(0);
  FlushLocked();
}

}  // namespace tapsock
