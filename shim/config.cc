#include "shim/config.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>

namespace tapsock::shim {

namespace {

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool ParseInt(const std::string& s, long min, long max, long* out) {
  if (s.empty()) return false;
  char* end;
  errno = 0;
  long v = strtol(s.c_str(), &end, 10);
  if (errno || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

// A byte count with an optional K, M or G suffix (powers of 1024), as tcpdump's -C takes sizes.
bool ParseSize(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  char* end;
  errno = 0;
  unsigned long long v = strtoull(s.c_str(), &end, 10);
  int shift = 0;
  switch (*end) {
    case 'k': case 'K': shift = 10, ++end; break;
    case 'm': case 'M': shift = 20, ++end; break;
    case 'g': case 'G': shift = 30, ++end; break;
    default: break;
  }
  if (errno || *end || v > (~0ULL >> shift)) return false;
  *out = uint64_t{v} << shift;
  return true;
}

void ParsePcapLimits(Config& c) {
  std::string size = Env("TAPSOCK_PCAP_SIZE"), files = Env("TAPSOCK_PCAP_FILES"),
              snaplen = Env("TAPSOCK_PCAP_SNAPLEN");
  long v;
  if (!size.empty() && !ParseSize(size, &c.pcap_limits.max_file_bytes))
    c.errors.push_back("TAPSOCK_PCAP_SIZE: '" + size + "' is not a size (bytes, or with K, M, G; 0: unbounded)");
  if (!files.empty()) {
    if (ParseInt(files, 1, 1000, &v)) c.pcap_limits.files = static_cast<uint32_t>(v);
    else c.errors.push_back("TAPSOCK_PCAP_FILES: '" + files + "' is not a number in 1..1000");
  }
  if (!snaplen.empty()) {
    if (ParseInt(snaplen, 64, PcapWriter::kMaxSnapLen, &v)) c.pcap_limits.snaplen = static_cast<uint32_t>(v);
    else c.errors.push_back("TAPSOCK_PCAP_SNAPLEN: '" + snaplen + "' is not a number in 64.." +
                            std::to_string(PcapWriter::kMaxSnapLen));
  }
}

void ParseAddresses(Config& c) {
  std::string raw = Env("TAPSOCK_ADDR");
  for (const std::string& item : SplitCommas(raw)) {
    size_t slash = item.find('/');
    std::string addr = item.substr(0, slash);
    bool v6 = addr.find(':') != std::string::npos;
    long prefix = v6 ? 64 : 24;
    if (slash != std::string::npos && !ParseInt(item.substr(slash + 1), 0, v6 ? 128 : 32, &prefix)) {
      c.errors.push_back("TAPSOCK_ADDR: bad prefix length in '" + item + "'");
      continue;
    }
    if (v6) {
      Ipv6Prefix p;
      if (inet_pton(AF_INET6, addr.c_str(), p.addr.data()) != 1) {
        c.errors.push_back("TAPSOCK_ADDR: '" + item + "' is not an IPv6 address");
        continue;
      }
      p.prefix_len = static_cast<int>(prefix);
      c.v6.push_back(p);
    } else {
      in_addr a;
      if (inet_pton(AF_INET, addr.c_str(), &a) != 1) {
        c.errors.push_back("TAPSOCK_ADDR: '" + item + "' is not an IPv4 address");
        continue;
      }
      Ipv4Addr v{ntohl(a.s_addr)};
      if (v.IsAny() || v.IsMulticast() || v.IsLoopback() || v.IsBroadcast()) {
        c.errors.push_back("TAPSOCK_ADDR: '" + item + "' cannot be a host address");
        continue;
      }
      c.v4.push_back({v, static_cast<int>(prefix)});
    }
  }
}

void ParseGateways(Config& c) {
  for (const std::string& item : SplitCommas(Env("TAPSOCK_GW"))) {
    in_addr a;
    std::array<uint8_t, 16> b;
    if (inet_pton(AF_INET, item.c_str(), &a) == 1)
      c.gw4.push_back({ntohl(a.s_addr)});
    else if (inet_pton(AF_INET6, item.c_str(), b.data()) == 1)
      c.gw6.push_back(b);
    else
      c.errors.push_back("TAPSOCK_GW: '" + item + "' is not an address");
  }
}

void ParseMac(Config& c) {
  std::string raw = Env("TAPSOCK_MAC");
  if (raw.empty()) return;
  MacAddr m;
  unsigned b[6];
  char tail;
  if (sscanf(raw.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) {
    c.errors.push_back("TAPSOCK_MAC: '" + raw + "' is not a MAC address (aa:bb:cc:dd:ee:ff)");
    return;
  }
  for (int i = 0; i < 6; ++i) {
    if (b[i] > 255) {
      c.errors.push_back("TAPSOCK_MAC: '" + raw + "' has a byte above ff");
      return;
    }
    m.b[i] = static_cast<uint8_t>(b[i]);
  }
  if (m.IsMulticast() || m.IsZero()) {
    c.errors.push_back("TAPSOCK_MAC: '" + raw + "' is not a unicast address");
    return;
  }
  c.mac = m;
}

void ParseFaults(Config& c) {
  std::string raw = Env("TAPSOCK_FAULTS");
  if (raw.empty()) return;
  FaultSpec spec;
  std::vector<std::string> errors;
  if (ParseFaultSpec(raw, &spec, &errors)) c.faults = spec;
  for (const std::string& e : errors) c.errors.push_back("TAPSOCK_FAULTS: " + e);
}

}  // namespace

bool DisabledByEnvironment() {
  const char* v = getenv("TAPSOCK_DISABLE");
  return v && v[0] == '1' && v[1] == '\0';
}

Config ReadConfig() {
  Config c;
  c.disabled = DisabledByEnvironment();
  c.tap = Env("TAPSOCK_TAP");
  ParseAddresses(c);
  ParseGateways(c);
  ParseMac(c);
  std::string mtu = Env("TAPSOCK_MTU");
  long v;
  if (!mtu.empty()) {
    if (ParseInt(mtu, 576, 65521, &v)) c.mtu = static_cast<uint32_t>(v);
    else c.errors.push_back("TAPSOCK_MTU: '" + mtu + "' is not a number in 576..65521");
  }
  c.pcap = Env("TAPSOCK_PCAP");
  ParsePcapLimits(c);
  std::string control = Env("TAPSOCK_CONTROL");
  if (control == "0" || control == "off" || control == "no" || control == "false") c.control = false;
  else if (!control.empty() && control != "1" && control != "on" && control != "yes" && control != "true")
    c.errors.push_back("TAPSOCK_CONTROL: '" + control + "' is not 0 or 1");
  ParseFaults(c);
  c.control_dir = Env("TAPSOCK_CONTROL_DIR");
  if (!c.control_dir.empty() && c.control_dir[0] != '/')
    c.errors.push_back("TAPSOCK_CONTROL_DIR: '" + c.control_dir + "' is not an absolute path");
  if (!c.tap.empty() && c.v4.empty() && c.v6.empty() && c.errors.empty())
    c.errors.push_back("TAPSOCK_TAP is set but TAPSOCK_ADDR gives no address");
  if (c.tap.empty() && (!c.v4.empty() || !c.v6.empty()))
    c.errors.push_back("TAPSOCK_ADDR is set but TAPSOCK_TAP is not");
  return c;
}

}  // namespace tapsock::shim
