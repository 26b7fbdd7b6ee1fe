// The stat document's JSON, written by hand: a few dozen fields do not justify a library, and the
// output must stay valid whatever bytes a program name holds.
#include "shim/stat_json.h"

#include <arpa/inet.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace tapsock::shim {

namespace {

std::string Endpoint(Ipv4Addr a, uint16_t port) { return a.ToString() + ":" + std::to_string(port); }

// "key": value pairs, with the commas between them.
class Object {
 public:
  explicit Object(std::string& out) : out_(out) { out_ += '{'; }
  ~Object() { out_ += '}'; }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  std::string& Key(std::string_view key) {
    if (!first_) out_ += ", ";
    first_ = false;
    out_ += JsonString(key);
    out_ += ": ";
    return out_;
  }
  void Str(std::string_view key, std::string_view v) { Key(key) += JsonString(v); }
  void Uint(std::string_view key, uint64_t v) { Key(key) += std::to_string(v); }
  void Int(std::string_view key, int64_t v) { Key(key) += std::to_string(v); }
  void Bool(std::string_view key, bool v) { Key(key) += v ? "true" : "false"; }
  void Null(std::string_view key) { Key(key) += "null"; }
  void Double(std::string_view key, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    Key(key) += buf;
  }

 private:
  std::string& out_;
  bool first_ = true;
};

void Interfaces(std::string& o, const std::vector<NicSnapshot>& nics) {
  o += '[';
  for (size_t i = 0; i < nics.size(); ++i) {
    const NicSnapshot& n = nics[i];
    if (i) o += ", ";
    Object obj(o);
    obj.Str("name", n.name);
    obj.Int("index", n.index);
    obj.Str("mac", n.mac.ToString());
    obj.Uint("mtu", n.mtu);
    obj.Bool("loopback", n.loopback);
    std::string& a = obj.Key("addresses");
    a += '[';
    bool first = true;
    for (const Ipv4Prefix& p : n.v4) {
      if (!first) a += ", ";
      first = false;
      a += JsonString(p.addr.ToString() + "/" + std::to_string(p.prefix_len));
    }
    for (const auto& v6 : n.v6) {
      char text[INET6_ADDRSTRLEN];
      if (!inet_ntop(AF_INET6, v6.data(), text, sizeof text)) continue;
      if (!first) a += ", ";
      first = false;
      a += JsonString(text);
    }
    a += ']';
  }
  o += ']';
}

// {"link": {...}, "arp": {...}}: each counter goes in the group its field path starts with.
// Counters of one group are adjacent in ListCounters' order.
void Counters(std::string& o, const std::vector<Counter>& counters) {
  o += '{';
  std::string_view group;
  bool open = false;
  for (const Counter& c : counters) {
    std::string_view field(c.field);
    std::string_view g = field.substr(0, field.find('.'));
    if (!open || g != group) {
      if (open) o += "}, ";
      o += JsonString(g);
      o += ": {";
      group = g;
      open = true;
    } else {
      o += ", ";
    }
    o += JsonString(c.name);
    o += ": ";
    o += std::to_string(c.value);
  }
  if (open) o += '}';
  o += '}';
}

void Fd(Object& obj, const std::vector<int>& fds, size_t i) {
  if (i < fds.size() && fds[i] >= 0) obj.Int("fd", fds[i]);
  else obj.Null("fd");
}

void Tcp(std::string& o, const StatDocument& doc) {
  o += '[';
  const auto& conns = doc.snapshot.tcp;
  for (size_t i = 0; i < conns.size(); ++i) {
    const TcpSnapshot& t = conns[i];
    const tcp::TcpInfo& in = t.info;
    if (i) o += ", ";
    Object obj(o);
    obj.Uint("id", t.id);
    obj.Str("state", SsStateName(t.state));
    obj.Str("family", t.v6 ? "inet6" : "inet");
    obj.Str("local", Endpoint(t.local, t.local_port));
    obj.Str("remote", Endpoint(t.remote, t.remote_port));
    obj.Uint("recv_q", t.recv_q);
    obj.Uint("send_q", t.send_q);
    obj.Uint("rtt_us", in.rtt_us);
    obj.Uint("rttvar_us", in.rttvar_us);
    obj.Uint("rto_us", in.rto_us);
    obj.Uint("cwnd", in.snd_cwnd);
    if (t.ssthresh_infinite) obj.Null("ssthresh");
    else obj.Uint("ssthresh", in.snd_ssthresh);
    obj.Uint("mss", in.snd_mss);
    obj.Uint("snd_wnd", in.snd_wnd);
    obj.Uint("retrans", in.retransmits);
    obj.Uint("total_retrans", in.total_retrans);
    obj.Uint("backoff", in.backoff);
    obj.Bool("in_recovery", in.in_recovery);
    obj.Uint("bytes_acked", in.bytes_acked);
    obj.Uint("bytes_received", in.bytes_received);
    obj.Uint("segs_out", in.segs_out);
    obj.Uint("segs_in", in.segs_in);
    obj.Bool("orphan", t.orphan);
    Fd(obj, doc.tcp_fds, i);
  }
  o += ']';
}

void Udp(std::string& o, const StatDocument& doc) {
  o += '[';
  const auto& eps = doc.snapshot.udp;
  for (size_t i = 0; i < eps.size(); ++i) {
    const UdpSnapshot& u = eps[i];
    if (i) o += ", ";
    Object obj(o);
    obj.Str("state", u.connected ? "ESTAB" : "UNCONN");
    obj.Str("family", u.v6 ? "inet6" : "inet");
    obj.Str("local", Endpoint(u.local, u.local_port));
    obj.Str("remote", Endpoint(u.remote, u.remote_port));
    obj.Uint("recv_q", u.recv_q);
    Fd(obj, doc.udp_fds, i);
  }
  o += ']';
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    }
  }
  out += '"';
  return out;
}

std::string FormatStatJson(const StatDocument& doc) {
  std::string o;
  o.reserve(4096 + 512 * doc.snapshot.tcp.size());
  {
    Object obj(o);
    obj.Int("version", 1);
    obj.Int("pid", doc.pid);
    obj.Str("program", doc.program);
    obj.Double("uptime_s", doc.uptime_s);
    obj.Str("log_level", doc.log_level);
    Interfaces(obj.Key("interfaces"), doc.snapshot.nics);
    Counters(obj.Key("counters"), doc.counters);
    Tcp(obj.Key("tcp"), doc);
    Udp(obj.Key("udp"), doc);
  }
  o += '\n';
  return o;
}

}  // namespace tapsock::shim
