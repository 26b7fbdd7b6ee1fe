// udp_bench: the UDP load generator of `make bench` (tests/bench/run).
//
// A plain program: it knows nothing of tapsock and uses only socket, bind, connect, setsockopt,
// send, recv, sendto, recvfrom and clock_gettime, so the same binary runs on the kernel stack and
// under LD_PRELOAD=libtapsock.so. Every mode ends by itself (a count and/or a wall-clock limit).
//
//   server --bind ADDR --port P --seconds S          echo every datagram back to its sender
//   rr     --to ADDR --port P --size B --count N --seconds S
//                                                    request/response round trips (200 warm-up)
//   sink   --bind ADDR --port P --seconds S          count what arrives (stops at S, or 1 s after
//                                                    the last datagram once traffic has started)
//   flood  --to ADDR --port P --size B --seconds S [--count N]
//                                                    send as fast as blocking send() allows, for
//                                                    S seconds or N datagrams (default 10^8)
//
// Servers print "udp_bench: ready ..." on stderr once bound; every mode prints one JSON line on
// stdout when it ends. ADDR is a numeric IPv4 or IPv6 address.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

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

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "udp_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "udp_bench: %s\n"
               "usage: udp_bench server|sink --bind ADDR --port P --seconds S\n"
               "       udp_bench rr --to ADDR --port P --size B --count N --seconds S\n"
               "       udp_bench flood --to ADDR --port P --size B --seconds S [--count N]\n",
               why);
  std::exit(2);
}

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct Options {
  std::string mode;
  std::string addr;
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
  const bool is_server = o.mode == "server" || o.mode == "sink";
  const bool is_client = o.mode == "rr" || o.mode == "flood";
  if (!is_server && !is_client) Usage("unknown mode");
  o.addr = take(is_server ? "--bind" : "--to", true);
  o.port = std::atoi(take("--port", true));
  o.seconds = std::atof(take("--seconds", true));
  if (is_client) o.size = std::strtoul(take("--size", true), nullptr, 10);
  if (o.mode == "rr") o.count = std::atol(take("--count", true));
  if (o.mode == "flood") {
    const char* n = take("--count", false);
    o.count = n != nullptr ? std::atol(n) : 100'000'000;
  }
  if (!kv.empty()) Usage(("unknown option " + kv.begin()->first).c_str());
  if (o.port <= 0 || o.port > 65535) Usage("bad --port");
  if (o.seconds <= 0) Usage("bad --seconds");
  if (is_client && (o.size < 8 || o.size > kMaxDatagram)) Usage("--size wants 8..65535");
  if (is_client && o.count <= 0) Usage("bad --count");
  return o;
}

// A socket of the address's family, and the address itself.
int MakeSocket(const Options& o, sockaddr_storage* ss, socklen_t* len) {
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
  int fd = socket(ss->ss_family, SOCK_DGRAM, 0);
  if (fd < 0) Die("socket");
  return fd;
}

void SetRecvTimeout(int fd, long ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) Die("setsockopt SO_RCVTIMEO");
}

int BindServer(const Options& o) {
  sockaddr_storage ss;
  socklen_t len;
  int fd = MakeSocket(o, &ss, &len);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) Die("bind");
  // The deadline is re-checked at least every 200 ms.
  SetRecvTimeout(fd, 200);
  std::fprintf(stderr, "udp_bench: ready, %s on %s port %d\n", o.mode.c_str(), o.addr.c_str(), o.port);
  return fd;
}

int ConnectClient(const Options& o) {
  sockaddr_storage ss;
  socklen_t len;
  int fd = MakeSocket(o, &ss, &len);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) Die("connect");
  return fd;
}

bool TimedOut(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

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
    if (sendto(fd, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer), plen) < 0) {
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
  std::sort(rtt.begin(), rtt.end());
  auto pct = [&](double p) -> double {
    if (rtt.empty()) return 0;
    size_t idx = static_cast<size_t>(p * static_cast<double>(rtt.size() - 1) + 0.5);
    return static_cast<double>(rtt[idx]) / 1e3;
  };
  double sum = 0;
  for (int64_t t : rtt) sum += static_cast<double>(t);
  const double mean = rtt.empty() ? 0 : sum / static_cast<double>(rtt.size()) / 1e3;
  std::printf(
      "{\"mode\":\"rr\",\"count\":%zu,\"timeouts\":%ld,\"errors\":%ld,\"p50_us\":%.1f,"
      "\"p99_us\":%.1f,\"mean_us\":%.1f}\n",
      rtt.size(), timeouts, errors, pct(0.50), pct(0.99), mean);
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
  std::printf("{\"mode\":\"flood\",\"sent\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"pps\":%.0f}\n", sent,
              errors, span, static_cast<double>(sent) / span);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  int rc;
  if (o.mode == "server") {
    rc = RunServer(o);
  } else if (o.mode == "sink") {
    rc = RunSink(o);
  } else if (o.mode == "rr") {
    rc = RunRequestResponse(o);
  } else {
    rc = RunFlood(o);
  }
  std::fflush(stdout);
  return rc;
}
