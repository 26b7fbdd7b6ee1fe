// A UDP socket's state in the stack: its binding, its peer, its bounded receive queue and its
// sticky error. The shim's socket layer calls it; UdpProtocol delivers datagrams and ICMP errors
// to it. Not thread-safe: every method requires the stack lock.
#pragma once

#include <sys/uio.h>

#include <span>

#include "stack/base/result.h"
#include "stack/buffer/packet_buffer.h"
#include "stack/endpoint.h"
#include "stack/registration.h"

namespace tapsock {

class Stack;

// Where a received datagram came from, kept in front of its payload in the receive queue.
struct DatagramMeta {
  FullAddress src;
  Ipv4Addr dst;  // for IP_PKTINFO
  int ifindex = 0;
  uint8_t ttl = 0;
  uint8_t tos = 0;
};

struct RecvResult {
  size_t copied = 0;        // bytes placed in the caller's buffers
  size_t datagram_len = 0;  // the whole datagram (MSG_TRUNC reports it)
  DatagramMeta meta;
  int64_t timestamp_ns = 0;
  bool eof = false;  // shut down for reading and nothing queued: recv returns 0, no datagram
};

struct SendOptions {
  const FullAddress* dst = nullptr;  // sendto address, nullptr for the connected peer
};

class UdpEndpoint {
 public:
  UdpEndpoint(Stack& stack, bool v6);
  ~UdpEndpoint();
  UdpEndpoint(const UdpEndpoint&) = delete;
  UdpEndpoint& operator=(const UdpEndpoint&) = delete;

  void SetObserver(EndpointObserver* o) { observer_ = o; }
  bool v6() const { return v6_; }
  EndpointOptions& options() { return opts_; }
  const EndpointOptions& options() const { return opts_; }

  Status BindLocked(const FullAddress& addr);
  Status ConnectLocked(const FullAddress& addr);
  Status DisconnectLocked();
  // shutdown(): SHUT_RD makes an empty queue read as end of file and wakes readers; SHUT_WR
  // makes sends fail with EPIPE (sock_alloc_send_pskb). Connected or not, as inet_shutdown.
  void ShutdownLocked(int how);
  Result<size_t> SendLocked(std::span<const iovec> iov, const SendOptions& so);
  Result<RecvResult> RecvLocked(std::span<const iovec> iov, bool peek);
  // Releases the binding and queued data; the endpoint accepts nothing afterwards.
  void CloseLocked();

  uint32_t ReadinessLocked() const;
  FullAddress LocalAddressLocked() const;
  Result<FullAddress> PeerAddressLocked() const;
  // SO_ERROR: reads and clears the sticky error.
  Error TakeErrorLocked();
  // FIONREAD on a datagram socket: the size of the next datagram (Linux's behaviour).
  size_t NextDatagramSizeLocked() const;
  size_t QueuedBytesLocked() const { return rcv_queued_bytes_; }

  // Called by UdpProtocol.
  bool bound() const { return local_port_ != 0; }
  uint16_t local_port() const { return local_port_; }
  bool connected() const { return connected_; }
  // The connected peer, IPv4 view (Any and 0 when not connected).
  Ipv4Addr remote_v4() const { return connected_ ? remote_v4_ : Ipv4Addr::Any(); }
  uint16_t remote_port() const { return connected_ ? remote_.port : 0; }
  // Does this endpoint accept a datagram for dst:dport from src:sport? Higher scores are
  // more specific, as Linux's compute_score prefers; 0 means no.
  int MatchV4(Ipv4Addr src, uint16_t sport, Ipv4Addr dst, uint16_t dport) const;
  // Consumes `payload`, which starts at the UDP payload.
  void DeliverLocked(PacketBuffer* payload, const DatagramMeta& meta);
  void SetErrorLocked(Error e);
  // The IPv4 address this endpoint is bound to (Any for wildcard), and whether IPv4 can reach it.
  Ipv4Addr bound_v4() const { return bound_v4_; }
  bool accepts_v4() const { return !v6_ || v4_mapped_ || (!opts_.v6_only && wildcard_); }
  // Native IPv6 bindings (their traffic arrives with the IPv6 layer).
  bool binds_v6() const { return v6_ && !v4_mapped_; }
  bool v6_wildcard() const { return v6_ && wildcard_; }
  const IpAddr& local_addr() const { return local_addr_; }

 private:
  void NotifyLocked();
  Result<FullAddress> ToV4Destination(const FullAddress& a) const;
  Status AutoBindLocked();

  Stack& stack_;
  const bool v6_;
  EndpointOptions opts_;
  EndpointObserver* observer_ = nullptr;

  // Binding. For AF_INET6 sockets the IPv4 view of the bound address is kept alongside.
  IpAddr local_addr_;
  uint16_t local_port_ = 0;
  bool wildcard_ = true;    // bound to INADDR_ANY / in6addr_any (or not bound)
  bool v4_mapped_ = false;  // AF_INET6 socket bound to ::ffff:a.b.c.d
  Ipv4Addr bound_v4_;

  bool addr_locked_ = false;  // bind() chose the address / port (SOCK_BINDADDR_LOCK, ...PORT_LOCK)
  bool port_locked_ = false;

  bool connected_ = false;
  bool rcv_shutdown_ = false, snd_shutdown_ = false;
  FullAddress remote_;      // as the program gave it
  Ipv4Addr remote_v4_;

  PacketQueue rcv_queue_;   // each buffer: DatagramMeta then payload (see DeliverLocked)
  size_t rcv_queued_bytes_ = 0;  // truesize accounting against opts_.rcvbuf
  Error sticky_error_ = Error::kOk;
  bool closed_ = false;
};

}  // namespace tapsock
