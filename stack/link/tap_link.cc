// TAP over io_uring: device attachment, the ring, and the loop thread.
#include "stack/link/tap_link.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "stack/base/sys.h"
#include "stack/stack.h"

namespace tapsock {

namespace {

uint64_t Encode(uint32_t op, uint32_t slot) { return (uint64_t{op} << 32) | slot; }

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
  link->mtu_ = config.mtu;
  if (link->mtu_ == 0) {
    int s = sys::Socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq q{};
    std::memcpy(q.ifr_name, config.name.c_str(), config.name.size());
    link->mtu_ = (s >= 0 && sys::Ioctl(s, SIOCGIFMTU, &q) == 0) ? static_cast<uint32_t>(q.ifr_mtu) : 1500;
    if (s >= 0) sys::Close(s);
  }
  link->mac_ = config.mac;
  if (!link->InitRing(config.fd_floor, error)) return nullptr;
  return link;
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

TapLink::~TapLink() {
  if (ring_ok_) io_uring_queue_exit(&ring_);
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
    ReapCompletionsLocked();
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
  for (unsigned slot = 0; slot < kRxDepth; ++slot) {
    if (rx_[slot]) continue;
    PacketBuffer* b = stack_.pool().Alloc(mtu_ + 14 + 4, kRxHeadroom);
    if (!b) break;  // the pool is exhausted; retry on the next pass
    io_uring_sqe* sqe = GetSqeLocked();
    if (!sqe) {
      stack_.pool().Free(b);
      break;
    }
    rx_[slot] = b;
    io_uring_prep_read(sqe, tap_fd_, b->data(), b->capacity - b->head, 0);
    io_uring_sqe_set_data64(sqe, Encode(kRead, slot));
    ++unsubmitted_;
  }
}

void TapLink::ReapCompletionsLocked() {
  LinkStats& st = stack_.stats().link;
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
    } else if (op == kRead && slot < kRxDepth) {
      // Each slot has one read in flight, so the stash never holds more than kRxDepth.
      if (rx_done_count_ == 0) rx_done_stamp_ = RealtimeNanos();
      rx_done_[rx_done_count_++] = {static_cast<uint16_t>(slot), res};
    }
  }
  io_uring_cq_advance(&ring_, count);
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
