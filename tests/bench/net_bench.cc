// net_bench: the load generator of `make bench` (tests/bench/run), UDP and TCP.
//
// A plain program: it knows nothing of tapsock and uses only ordinary socket calls (socket, bind,
// listen, accept, connect, setsockopt, fcntl, poll, send, recv, sendto, recvfrom, shutdown, close),
// clock_gettime and getrusage, so the same binary runs on the kernel stack and under
// LD_PRELOAD=libtapsock.so. Every mode ends by itself (a count and/or a wall-clock limit).
//
// UDP:
//   server --bind ADDR --port P --seconds S          echo every datagram back to its sender
//   rr     --to ADDR --port P --size B --count N --seconds S
//                                                    request/response round trips (200 warm-up)
//   sink   --bind ADDR --port P --seconds S          count what arrives (stops at S, or 1 s after
//                                                    the last datagram once traffic has started)
//   flood  --to ADDR --port P --size B --seconds S [--count N]
//                                                    send as fast as blocking send() allows, for
//                                                    S seconds or N datagrams (default 10^8)
// TCP (TCP_NODELAY on every connection):
//   tcp-server --bind ADDR --port P --seconds S      accept one connection, echo it until EOF
//   tcp-rr     --to ADDR --port P --size B --count N --seconds S
//                                                    one connection, request/response round trips
//                                                    (200 warm-up), each checked byte for byte
//   tcp-sink   --bind ADDR|--to ADDR --port P --seconds S
//                                                    one connection, count bytes until EOF
//   tcp-source --bind ADDR|--to ADDR --port P --seconds S [--size B]
//                                                    one connection, write B-byte blocks
//                                                    (default 65536) for S seconds
//   tcp-accept --bind ADDR --port P --seconds S      accept and close at once, repeatedly (stops at
//                                                    S, or 1 s after the last accept)
//   tcp-connect --to ADDR --port P --seconds S --count N
//                                                    connect, wait for the server's FIN, close;
//                                                    repeatedly, for S seconds or N attempts
//
// Whoever listens prints "net_bench: ready ..." on stderr once listening (bound, for UDP); every
// mode prints one JSON line on stdout when it ends. ADDR is a numeric IPv4 or IPv6 address.
//
// TCP connections end in an orderly way that does not depend on what happens at process exit: the
// side that finishes first shuts down its sending half and waits (at most 2 s) for the peer's FIN
// before close(). A wait that runs out is reported as "close_wait_timeouts".

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr int kWarmup = 200;
constexpr size_t kMaxDatagram = 65535;
constexpr size_t kTcpReadBuffer = 256 * 1024;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "net_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(
      stderr,
      "net_bench: %s\n"
      "usage: net_bench server|sink|tcp-server|tcp-accept --bind ADDR --port P --seconds S\n"
      "       net_bench rr|tcp-rr --to ADDR --port P --size B --count N --seconds S\n"
      "       net_bench flood --to ADDR --port P --size B --seconds S [--count N]\n"
      "       net_bench tcp-sink --bind ADDR|--to ADDR --port P --seconds S\n"
      "       net_bench tcp-source --bind ADDR|--to ADDR --port P --seconds S [--size B]\n"
      "       net_bench tcp-connect --to ADDR --port P --seconds S --count N\n",
      why);
  std::exit(2);
}

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// User plus system CPU time of the whole process (every thread, including any a preloaded library
// runs), in seconds.
double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

struct Options {
  std::string mode;
  std::string addr;
  bool listens = false;  // --bind (listen or bind) rather than --to (connect)
  int port = 0;
  size_t size = 64;
  long count = 0;
  double seconds = 0;
};

Options Parse(int argc, char** argv) {
  if (argc < 2) Usage("no mode given");
  Options o;
  o.mode = argv[1];
  std::map<std::string, std::string> kv;
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) Usage("an option without a value");
    kv[argv[i]] = argv[i + 1];
  }
  auto take = [&](const char* key, bool required) -> const char* {
    auto it = kv.find(key);
    if (it == kv.end()) {
      if (required) Usage((std::string("missing ") + key).c_str());
      return nullptr;
    }
    const char* v = it->second.c_str();
    kv.erase(it);
    return v;
  };
  const std::string& m = o.mode;
  const bool binds = m == "server" || m == "sink" || m == "tcp-server" || m == "tcp-accept";
  const bool connects = m == "rr" || m == "flood" || m == "tcp-rr" || m == "tcp-connect";
  const bool either = m == "tcp-sink" || m == "tcp-source";
  if (!binds && !connects && !either) Usage("unknown mode");
  if (either) {
    const char* b = take("--bind", false);
    const char* t = take("--to", false);
    if ((b == nullptr) == (t == nullptr)) Usage("give one of --bind and --to");
    o.listens = b != nullptr;
    o.addr = b != nullptr ? b : t;
  } else {
    o.listens = binds;
    o.addr = take(binds ? "--bind" : "--to", true);
  }
  o.port = std::atoi(take("--port", true));
  o.seconds = std::atof(take("--seconds", true));
  if (m == "rr" || m == "flood" || m == "tcp-rr")
    o.size = std::strtoul(take("--size", true), nullptr, 10);
  if (m == "tcp-source") {
    const char* s = take("--size", false);
    o.size = s != nullptr ? std::strtoul(s, nullptr, 10) : 65536;
  }
  if (m == "rr" || m == "tcp-rr" || m == "tcp-connect") o.count = std::atol(take("--count", true));
  if (m == "flood") {
    const char* n = take("--count", false);
    o.count = n != nullptr ? std::atol(n) : 100'000'000;
  }
  if (!kv.empty()) Usage(("unknown option " + kv.begin()->first).c_str());
  if (o.port <= 0 || o.port > 65535) Usage("bad --port");
  if (o.seconds <= 0) Usage("bad --seconds");
  if ((m == "rr" || m == "flood") && (o.size < 8 || o.size > kMaxDatagram))
    Usage("--size wants 8..65535");
  if (m == "tcp-rr" && (o.size < 8 || o.size > kTcpReadBuffer)) Usage("--size wants 8..262144");
  if (m == "tcp-source" && (o.size < 1 || o.size > (size_t{16} << 20)))
    Usage("--size wants 1..16 MiB");
  if ((m == "rr" || m == "flood" || m == "tcp-rr" || m == "tcp-connect") && o.count <= 0)
    Usage("bad --count");
  return o;
}

// A socket of the address's family and the given type, and the address itself.
int MakeSocket(const Options& o, int type, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof(*ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, o.addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(o.port));
    *len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, o.addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(o.port));
    *len = sizeof(*v6);
  } else {
    Usage("address is not a numeric IPv4 or IPv6 address");
  }
  int fd = socket(ss->ss_family, type, 0);
  if (fd < 0) Die("socket");
  return fd;
}

void SetTimeout(int fd, int option, long ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv)) != 0) {
    Die(option == SO_RCVTIMEO ? "setsockopt SO_RCVTIMEO" : "setsockopt SO_SNDTIMEO");
  }
}
void SetRecvTimeout(int fd, long ms) {
  SetTimeout(fd, SO_RCVTIMEO, ms);
}

bool TimedOut(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

void Ready(const Options& o) {
  std::fprintf(stderr, "net_bench: ready, %s on %s port %d\n", o.mode.c_str(), o.addr.c_str(),
               o.port);
}

// Round-trip times in ns -> p50, p99, mean in us (0 when empty).
struct Percentiles {
  double p50 = 0, p99 = 0, mean = 0;
};
Percentiles Summarise(std::vector<int64_t>& t) {
  Percentiles r;
  if (t.empty()) return r;
  std::sort(t.begin(), t.end());
  auto pct = [&](double p) {
    size_t idx = static_cast<size_t>(p * static_cast<double>(t.size() - 1) + 0.5);
    return static_cast<double>(t[idx]) / 1e3;
  };
  double sum = 0;
  for (int64_t x : t) sum += static_cast<double>(x);
  r.p50 = pct(0.50);
  r.p99 = pct(0.99);
  r.mean = sum / static_cast<double>(t.size()) / 1e3;
  return r;
}

// ------------------------------------------------------------------------------------------- UDP

int BindServer(const Options& o) {
  sockaddr_storage ss;
  socklen_t len;
  int fd = MakeSocket(o, SOCK_DGRAM, &ss, &len);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) Die("bind");
  // The deadline is re-checked at least every 200 ms.
  SetRecvTimeout(fd, 200);
  Ready(o);
  return fd;
}

int ConnectClient(const Options& o) {
  sockaddr_storage ss;
  socklen_t len;
  int fd = MakeSocket(o, SOCK_DGRAM, &ss, &len);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) Die("connect");
  return fd;
}

int RunServer(const Options& o) {
  int fd = BindServer(o);
  const int64_t deadline = NowNs() + static_cast<int64_t>(o.seconds * 1e9);
  std::vector<char> buf(kMaxDatagram);
  long echoed = 0, errors = 0;
  while (NowNs() < deadline) {
    sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (n < 0) {
      if (!TimedOut(errno)) ++errors;
      continue;
    }
    if (sendto(fd, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer),
               plen) < 0) {
      ++errors;
    } else {
      ++echoed;
    }
  }
  std::printf("{\"mode\":\"server\",\"echoed\":%ld,\"errors\":%ld}\n", echoed, errors);
  return 0;
}

int RunSink(const Options& o) {
  int fd = BindServer(o);
  const int64_t deadline = NowNs() + static_cast<int64_t>(o.seconds * 1e9);
  constexpr int64_t kIdleNs = 1'000'000'000;  // traffic over: 1 s without a datagram
  std::vector<char> buf(kMaxDatagram);
  long datagrams = 0, errors = 0;
  int64_t bytes = 0, first = 0, last = 0;
  for (;;) {
    const int64_t now = NowNs();
    if (now >= deadline || (datagrams > 0 && now - last >= kIdleNs)) break;
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (!TimedOut(errno)) ++errors;
      continue;
    }
    last = NowNs();
    if (datagrams == 0) first = last;
    ++datagrams;
    bytes += n;
  }
  // Rates over the span from the first to the last datagram (zero when there is no span).
  const double span = static_cast<double>(last - first) / 1e9;
  const double pps = span > 0 ? static_cast<double>(datagrams - 1) / span : 0;
  const double mbit = span > 0 ? static_cast<double>(bytes) * 8 / span / 1e6 : 0;
  std::printf(
      "{\"mode\":\"sink\",\"datagrams\":%ld,\"bytes\":%lld,\"seconds\":%.3f,\"pps\":%.0f,"
      "\"mbit_s\":%.1f,\"errors\":%ld}\n",
      datagrams, static_cast<long long>(bytes), span, pps, mbit, errors);
  return 0;
}

// One round trip: send sequence number `seq`, wait for its echo. Echoes of earlier, timed-out
// requests are skipped. Returns the round trip in ns, -1 on timeout, -2 on another error.
int64_t RoundTrip(int fd, std::vector<char>& out, std::vector<char>& in, uint64_t seq) {
  std::memcpy(out.data(), &seq, sizeof(seq));
  const int64_t t0 = NowNs();
  if (send(fd, out.data(), out.size(), 0) < 0) return -2;
  for (;;) {
    ssize_t n = recv(fd, in.data(), in.size(), 0);
    if (n < 0) return TimedOut(errno) ? -1 : -2;
    uint64_t got;
    if (static_cast<size_t>(n) >= sizeof(got)) {
      std::memcpy(&got, in.data(), sizeof(got));
      if (got == seq) return NowNs() - t0;
    }
    // A late echo: keep waiting for ours (each recv has its own 1 s limit).
  }
}

int RunRequestResponse(const Options& o) {
  int fd = ConnectClient(o);
  SetRecvTimeout(fd, 1000);
  const int64_t deadline = NowNs() + static_cast<int64_t>(o.seconds * 1e9);
  std::vector<char> out(o.size, 'x'), in(kMaxDatagram);
  uint64_t seq = 0;
  long timeouts = 0, errors = 0;
  for (int i = 0; i < kWarmup && NowNs() < deadline; ++i) RoundTrip(fd, out, in, ++seq);

  std::vector<int64_t> rtt;
  rtt.reserve(static_cast<size_t>(o.count));
  for (long i = 0; i < o.count && NowNs() < deadline; ++i) {
    const int64_t t = RoundTrip(fd, out, in, ++seq);
    if (t >= 0) {
      rtt.push_back(t);
    } else if (t == -1) {
      ++timeouts;
    } else {
      ++errors;
    }
  }
  const Percentiles p = Summarise(rtt);
  std::printf(
      "{\"mode\":\"rr\",\"count\":%zu,\"timeouts\":%ld,\"errors\":%ld,\"p50_us\":%.1f,"
      "\"p99_us\":%.1f,\"mean_us\":%.1f}\n",
      rtt.size(), timeouts, errors, p.p50, p.p99, p.mean);
  return 0;
}

int RunFlood(const Options& o) {
  int fd = ConnectClient(o);
  std::vector<char> out(o.size, 'x');
  const int64_t start = NowNs();
  const int64_t deadline = start + static_cast<int64_t>(o.seconds * 1e9);
  long sent = 0, errors = 0;
  int64_t now = start;
  while (now < deadline && sent + errors < o.count) {
    // The clock is read once per 64 sends.
    for (int i = 0; i < 64; ++i) {
      if (send(fd, out.data(), out.size(), 0) < 0) {
        ++errors;  // e.g. ENOBUFS, or ECONNREFUSED from an ICMP port unreachable
      } else {
        ++sent;
      }
    }
    now = NowNs();
  }
  const double span = static_cast<double>(now - start) / 1e9;
  std::printf("{\"mode\":\"flood\",\"sent\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"pps\":%.0f}\n",
              sent, errors, span, static_cast<double>(sent) / span);
  return 0;
}

// ------------------------------------------------------------------------------------------- TCP

void SetNoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    Die("setsockopt TCP_NODELAY");
}

// A non-blocking listening socket (the accept loops poll it, so they see their deadline).
int TcpListen(const Options& o) {
  sockaddr_storage ss;
  socklen_t len;
  int fd = MakeSocket(o, SOCK_STREAM, &ss, &len);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
    Die("setsockopt SO_REUSEADDR");
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) Die("bind");
  if (listen(fd, 4096) != 0) Die("listen");
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) Die("fcntl O_NONBLOCK");
  Ready(o);
  return fd;
}

// Waits for the listener to become readable, up to 200 ms; false when it did not.
bool WaitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  const int r = poll(&p, 1, 200);
  if (r < 0 && errno != EINTR) Die("poll");
  return r > 0;
}

// One accepted connection (blocking, as accept gives it), or -1 if none came by the deadline.
int TcpAcceptOne(int lfd, int64_t deadline) {
  while (NowNs() < deadline) {
    if (!WaitReadable(lfd)) continue;
    int fd = accept(lfd, nullptr, nullptr);
    if (fd >= 0) return fd;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
      Die("accept");
  }
  return -1;
}

// A connected blocking socket; connect waits at most 1 s per attempt (SO_SNDTIMEO) and is retried
// until the deadline. -1 if none succeeded.
int TcpConnect(const Options& o, int64_t deadline) {
  while (NowNs() < deadline) {
    sockaddr_storage ss;
    socklen_t len;
    int fd = MakeSocket(o, SOCK_STREAM, &ss, &len);
    SetTimeout(fd, SO_SNDTIMEO, 1000);
    if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) return fd;
    std::fprintf(stderr, "net_bench: connect: %s\n", std::strerror(errno));
    close(fd);
    usleep(100'000);
  }
  return -1;
}

// Orderly end of a connection: no more data from us; wait (at most 2 s) for the peer's FIN,
// discarding anything still arriving, then close. Returns 1 if the wait ran out, else 0.
int TcpFinish(int fd) {
  shutdown(fd, SHUT_WR);
  SetRecvTimeout(fd, 200);
  const int64_t until = NowNs() + 2'000'000'000;
  int timed_out = 1;
  static char discard[4096];
  while (NowNs() < until) {
    ssize_t n = recv(fd, discard, sizeof(discard), 0);
    if (n == 0 || (n < 0 && !TimedOut(errno))) {
      timed_out = 0;  // FIN, or the connection is gone (reset): either way, nothing to wait for
      break;
    }
  }
  close(fd);
  return timed_out;
}

// Writes all of `len` bytes; false on an error (errno set) or when `deadline` passes.
bool WriteAll(int fd, const char* p, size_t len, int64_t deadline) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (TimedOut(errno) && NowNs() < deadline) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Echoes one connection until EOF or the deadline.
int RunTcpServer(const Options& o) {
  int lfd = TcpListen(o);
  const int64_t deadline = NowNs() + static_cast<int64_t>(o.seconds * 1e9);
  int fd = TcpAcceptOne(lfd, deadline);
  long long echoed = 0;
  long errors = 0;
  int eof = 0;
  if (fd >= 0) {
    SetNoDelay(fd);
    SetRecvTimeout(fd, 200);
    std::vector<char> buf(kTcpReadBuffer);
    while (NowNs() < deadline) {
      ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n == 0) {
        eof = 1;
        break;
      }
      if (n < 0) {
        if (TimedOut(errno)) continue;
        ++errors;
        break;
      }
      if (!WriteAll(fd, buf.data(), static_cast<size_t>(n), deadline)) {
        ++errors;
        break;
      }
      echoed += n;
    }
    close(fd);  // the client shut down first and waits for this FIN
  }
  close(lfd);
  std::printf(
      "{\"mode\":\"tcp-server\",\"connected\":%d,\"echoed_bytes\":%lld,\"eof\":%d,\"errors\":%ld}"
      "\n",
      fd >= 0 ? 1 : 0, echoed, eof, errors);
  return 0;
}

// One TCP round trip: `out` (sequence number in its first 8 bytes) out, the same bytes back. Each
// recv waits at most 1 s (a stall, counted, then the wait goes on) until the deadline. Returns the
// round trip in ns, -1 when the deadline passed, -2 on an error, -3 when the echo differs.
int64_t TcpRoundTrip(int fd, std::vector<char>& out, std::vector<char>& in, uint64_t seq,
                     int64_t deadline, long* stalls) {
  std::memcpy(out.data(), &seq, sizeof(seq));
  const int64_t t0 = NowNs();
  if (!WriteAll(fd, out.data(), out.size(), deadline)) return NowNs() >= deadline ? -1 : -2;
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = recv(fd, in.data() + got, out.size() - got, 0);
    if (n == 0) return -2;  // the server went away
    if (n < 0) {
      if (!TimedOut(errno)) return -2;
      ++*stalls;
      if (NowNs() >= deadline) return -1;
      continue;
    }
    got += static_cast<size_t>(n);
  }
  const int64_t t = NowNs() - t0;
  return std::memcmp(in.data(), out.data(), out.size()) == 0 ? t : -3;
}

int RunTcpRequestResponse(const Options& o) {
  const int64_t deadline = NowNs() + static_cast<int64_t>(o.seconds * 1e9);
  int fd = TcpConnect(o, deadline);
  if (fd < 0) {
    std::printf("{\"mode\":\"tcp-rr\",\"connected\":0,\"count\":0}\n");
    return 0;
  }
  SetNoDelay(fd);
  SetRecvTimeout(fd, 1000);
  SetTimeout(fd, SO_SNDTIMEO, 1000);
  std::vector<char> out(o.size, 'x'), in(o.size);
  uint64_t seq = 0;
  long stalls = 0, errors = 0, mismatches = 0;
  bool broken = false;  // the stream can no longer be trusted (an error, or a half-read echo)
  for (int i = 0; i < kWarmup && !broken && NowNs() < deadline; ++i) {
    broken = TcpRoundTrip(fd, out, in, ++seq, deadline, &stalls) < 0;
  }
  std::vector<int64_t> rtt;
  rtt.reserve(static_cast<size_t>(o.count));
  for (long i = 0; i < o.count && !broken && NowNs() < deadline; ++i) {
    const int64_t t = TcpRoundTrip(fd, out, in, ++seq, deadline, &stalls);
    if (t >= 0) {
      rtt.push_back(t);
    } else {
      broken = true;
      if (t == -2) ++errors;
      if (t == -3) ++mismatches;
    }
  }
  const int close_wait_timeouts = TcpFinish(fd);
  const Percentiles p = Summarise(rtt);
  std::printf(
      "{\"mode\":\"tcp-rr\",\"connected\":1,\"count\":%zu,\"stalls\":%ld,\"errors\":%ld,"
      "\"mismatches\":%ld,"
      "\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,\"close_wait_timeouts\":%d}\n",
      rtt.size(), stalls, errors, mismatches, p.p50, p.p99, p.mean, close_wait_timeouts);
  return 0;
}

// The one connection of tcp-sink and tcp-source: accepted (--bind) or made (--to).
int TcpOneConnection(const Options& o, int64_t deadline) {
  if (!o.listens) return TcpConnect(o, deadline);
  int lfd = TcpListen(o);
  int fd = TcpAcceptOne(lfd, deadline);
  close(lfd);
  return fd;
}

// Counts bytes until EOF (or the deadline). Rate over the span from the first to the last byte;
// CPU time of this process from the connection's start to EOF.
int RunTcpSink(const Options& o) {
  const int64_t deadline = NowNs() + static_cast<int64_t>(o.seconds * 1e9);
  int fd = TcpOneConnection(o, deadline);
  long long bytes = 0;
  int64_t first = 0, last = 0;
  int eof = 0;
  long errors = 0;
  double cpu = 0;
  if (fd >= 0) {
    SetNoDelay(fd);
    SetRecvTimeout(fd, 200);
    std::vector<char> buf(kTcpReadBuffer);
    const double cpu0 = CpuSeconds();
    while (NowNs() < deadline) {
      ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n == 0) {
        eof = 1;
        break;
      }
      if (n < 0) {
        if (TimedOut(errno)) continue;
        ++errors;
        break;
      }
      last = NowNs();
      if (bytes == 0) first = last;
      bytes += n;
    }
    cpu = CpuSeconds() - cpu0;
    close(fd);  // the source shut down first and waits for this FIN
  }
  const double span = static_cast<double>(last - first) / 1e9;
  const double mbit = span > 0 ? static_cast<double>(bytes) * 8 / span / 1e6 : 0;
  std::printf(
      "{\"mode\":\"tcp-sink\",\"connected\":%d,\"bytes\":%lld,\"seconds\":%.3f,\"mbit_s\":%.1f,"
      "\"eof\":%d,"
      "\"errors\":%ld,\"cpu_s\":%.3f}\n",
      fd >= 0 ? 1 : 0, bytes, span, mbit, eof, errors, cpu);
  return 0;
}

// Writes `size`-byte blocks for `seconds` from the connection's start, then ends it.
int RunTcpSource(const Options& o) {
  // The connection may take a while to come (the listening end waits for its peer); the
  // transfer's own time starts once it is there, and the process's deadline allows for both.
  const int64_t conn_deadline = NowNs() + static_cast<int64_t>((o.seconds + 5) * 1e9);
  int fd = TcpOneConnection(o, conn_deadline);
  long long bytes = 0;
  long errors = 0;
  int close_wait_timeouts = 0;
  double cpu = 0, span = 0;
  if (fd >= 0) {
    SetNoDelay(fd);
    SetTimeout(fd, SO_SNDTIMEO, 200);  // re-check the deadline at least every 200 ms
    std::vector<char> out(o.size, 'x');
    const double cpu0 = CpuSeconds();
    const int64_t start = NowNs();
    const int64_t deadline = start + static_cast<int64_t>(o.seconds * 1e9);
    int64_t now = start;
    while (now < deadline) {
      ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      now = NowNs();
      if (n < 0) {
        if (TimedOut(errno)) continue;
        ++errors;
        break;
      }
      bytes += n;
    }
    span = static_cast<double>(now - start) / 1e9;
    close_wait_timeouts = TcpFinish(fd);  // returns once the sink has read everything (its FIN)
    cpu = CpuSeconds() - cpu0;
  }
  const double mbit = span > 0 ? static_cast<double>(bytes) * 8 / span / 1e6 : 0;
  std::printf(
      "{\"mode\":\"tcp-source\",\"connected\":%d,\"bytes\":%lld,\"seconds\":%.3f,\"mbit_s\":%.1f,"
      "\"errors\":%ld,\"cpu_s\":%.3f,\"close_wait_timeouts\":%d}\n",
      fd >= 0 ? 1 : 0, bytes, span, mbit, errors, cpu, close_wait_timeouts);
  return 0;
}

// Accepts and closes at once, every connection that comes, until the deadline or 1 s after the
// last one. The close is the active one: TIME_WAIT stays on this side.
int RunTcpAccept(const Options& o) {
  int lfd = TcpListen(o);
  const int64_t deadline = NowNs() + static_cast<int64_t>(o.seconds * 1e9);
  constexpr int64_t kIdleNs = 1'000'000'000;
  long accepted = 0, errors = 0;
  int64_t first = 0, last = 0;
  for (;;) {
    const int64_t now = NowNs();
    if (now >= deadline || (accepted > 0 && now - last >= kIdleNs)) break;
    if (!WaitReadable(lfd)) continue;
    for (;;) {  // everything that is queued, then back to poll
      int fd = accept(lfd, nullptr, nullptr);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
          ++errors;
        break;
      }
      close(fd);
      last = NowNs();
      if (accepted == 0) first = last;
      ++accepted;
    }
  }
  close(lfd);
  const double span = static_cast<double>(last - first) / 1e9;
  std::printf(
      "{\"mode\":\"tcp-accept\",\"accepted\":%ld,\"seconds\":%.3f,\"conn_s\":%.0f,\"errors\":%ld}"
      "\n",
      accepted, span, span > 0 ? static_cast<double>(accepted - 1) / span : 0, errors);
  return 0;
}

// Connects, waits for the server's FIN (the server closes at once), closes; over and over. Each
// connect and each wait is limited to 1 s. Reports completed cycles per second, the time of one
// cycle (socket() to the end of close()) and of its phases: socket() and two setsockopt() calls,
// connect(), the wait for the FIN (recv returning 0), close().
int RunTcpConnect(const Options& o) {
  const int64_t start = NowNs();
  const int64_t deadline = start + static_cast<int64_t>(o.seconds * 1e9);
  long ok = 0, attempts = 0, connect_errors = 0, timeouts = 0, other = 0;
  int first_errno = 0;
  std::vector<int64_t> cycle, opening, connecting, fin, closing;
  for (auto* v : {&cycle, &opening, &connecting, &fin, &closing})
    v->reserve(static_cast<size_t>(o.count));
  int64_t now = start;
  while (now < deadline && attempts < o.count) {
    ++attempts;
    const int64_t t0 = now;
    sockaddr_storage ss;
    socklen_t len;
    int fd = MakeSocket(o, SOCK_STREAM, &ss, &len);
    SetTimeout(fd, SO_SNDTIMEO, 1000);
    SetRecvTimeout(fd, 1000);
    const int64_t t_open = NowNs();
    const int rc = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    const int64_t t1 = NowNs();
    int64_t t2 = t1;
    if (rc != 0) {
      if (first_errno == 0) first_errno = errno;
      if (errno == EINPROGRESS) {  // SO_SNDTIMEO ran out
        ++timeouts;
      } else {
        ++connect_errors;
      }
    } else {
      char c;
      ssize_t n = recv(fd, &c, 1, 0);
      t2 = NowNs();
      if (n == 0) {
        ++ok;
      } else if (n < 0 && TimedOut(errno)) {
        ++timeouts;
      } else {
        if (first_errno == 0) first_errno = n < 0 ? errno : EPROTO;
        ++other;
      }
    }
    close(fd);
    now = NowNs();
    cycle.push_back(now - t0);
    if (rc == 0) {
      opening.push_back(t_open - t0);
      connecting.push_back(t1 - t_open);
      fin.push_back(t2 - t1);
      closing.push_back(now - t2);
    }
  }
  const double span = static_cast<double>(now - start) / 1e9;
  const Percentiles p = Summarise(cycle), po = Summarise(opening), pc = Summarise(connecting),
                    pf = Summarise(fin), pcl = Summarise(closing);
  std::printf(
      "{\"mode\":\"tcp-connect\",\"attempts\":%ld,\"completed\":%ld,\"connect_errors\":%ld,"
      "\"timeouts\":%ld,"
      "\"other_errors\":%ld,\"first_error\":\"%s\",\"seconds\":%.3f,\"conn_s\":%.0f,\"cycle_p50_"
      "us\":%.1f,"
      "\"cycle_p99_us\":%.1f,\"socket_p50_us\":%.1f,\"connect_p50_us\":%.1f,\"fin_wait_p50_us\":%."
      "1f,\"close_p50_us\":%.1f}\n",
      attempts, ok, connect_errors, timeouts, other,
      first_errno != 0 ? std::strerror(first_errno) : "", span,
      span > 0 ? static_cast<double>(ok) / span : 0, p.p50, p.p99, po.p50, pc.p50, pf.p50, pcl.p50);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  const std::string& m = o.mode;
  int rc;
  if (m == "server") {
    rc = RunServer(o);
  } else if (m == "sink") {
    rc = RunSink(o);
  } else if (m == "rr") {
    rc = RunRequestResponse(o);
  } else if (m == "flood") {
    rc = RunFlood(o);
  } else if (m == "tcp-server") {
    rc = RunTcpServer(o);
  } else if (m == "tcp-rr") {
    rc = RunTcpRequestResponse(o);
  } else if (m == "tcp-sink") {
    rc = RunTcpSink(o);
  } else if (m == "tcp-source") {
    rc = RunTcpSource(o);
  } else if (m == "tcp-accept") {
    rc = RunTcpAccept(o);
  } else {
    rc = RunTcpConnect(o);
  }
  std::fflush(stdout);
  return rc;
}
