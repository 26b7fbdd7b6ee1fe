// A decorator that records every frame a device sends and receives into a pcap file (gVisor's
// link/sniffer, socket_wrapper's SOCKET_WRAPPER_PCAP_FILE). It sits between the stack and the
// device in both directions. Not thread-safe: under the stack lock.
#pragma once

#include <memory>

#include "stack/base/clock.h"
#include "stack/link/pcap_writer.h"
#include "stack/registration.h"

namespace tapsock {

class CaptureLink : public LinkEndpoint, public NetworkDispatcher {
 public:
  CaptureLink(LinkEndpoint* lower, std::unique_ptr<PcapWriter> writer)
      : lower_(lower), writer_(std::move(writer)) {}

  uint32_t Mtu() const override { return lower_->Mtu(); }
  MacAddr LinkAddress() const override { return lower_->LinkAddress(); }
  void AttachLocked(NetworkDispatcher* d, Nic* nic) override {
    upper_ = d;
    lower_->AttachLocked(this, nic);
  }
  void WritePacketLocked(PacketBuffer* frame) override {
    writer_->Record(frame->bytes(), RealtimeNanos());
    lower_->WritePacketLocked(frame);
  }
  void FlushLocked() override {
    lower_->FlushLocked();
    writer_->Flush();
  }
  // A device below that holds frames (fault injection) keeps its timers through the capture.
  Instant NextDeadlineLocked() const override { return lower_->NextDeadlineLocked(); }
  void RunTimersLocked(Instant now) override { lower_->RunTimersLocked(now); }
  void AddKernelCounters(LinkStats& stats) const override { lower_->AddKernelCounters(stats); }
  void DeliverFrameLocked(Nic& nic, PacketBuffer* frame) override {
    writer_->Record(frame->bytes(), frame->rx_realtime_ns ? frame->rx_realtime_ns : RealtimeNanos());
    upper_->DeliverFrameLocked(nic, frame);
  }

 private:
  LinkEndpoint* lower_;
  std::unique_ptr<PcapWriter> writer_;
  NetworkDispatcher* upper_ = nullptr;
};

}  // namespace tapsock
