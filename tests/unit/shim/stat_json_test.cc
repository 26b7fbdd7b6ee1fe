// The stat document's JSON (shim/stat_json.cc): escaping, counters grouped by layer, connections
// with null for what is unknown. The output is parsed back by a tiny checker of our own: the
// tests must not need a JSON library, and python's json.tool checks the real thing in
// tests/integration/30-stat-control.sh.
#include "shim/stat_json.h"

#include <gtest/gtest.h>

#include <string>

namespace tapsock::shim {
namespace {

// True when every string literal closes and brackets balance: enough to catch a missing quote,
// comma placement is checked by the exact substrings below.
bool Balanced(const std::string& s) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      else if (static_cast<unsigned char>(c) < 0x20) return false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth < 0) return false;
    }
  }
  return depth == 0 && !in_string;
}

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(JsonString("iperf3"), "\"iperf3\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString(std::string("t\x01\n", 3)), "\"t\\u0001\\u000a\"");
  EXPECT_EQ(JsonString("\xc3\xa9"), "\"\\u00c3\\u00a9\"");  // any byte >= 0x7f: always valid
  EXPECT_EQ(JsonString(""), "\"\"");
}

StatDocument SampleDocument() {
  StatDocument doc;
  doc.pid = 42;
  doc.program = "my \"prog\"";
  doc.uptime_s = 3.25;
  doc.log_level = "warn";
  NicSnapshot tap;
  tap.index = 2;
  tap.name = "tap0";
  tap.mac = MacAddr{{0x02, 0, 0, 0, 0, 0x02}};
  tap.mtu = 1500;
  tap.v4.push_back({Ipv4Addr::FromOctets(198, 18, 0, 2), 24});
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 2;
  tap.v6.push_back(v6);
  doc.snapshot.nics.push_back(tap);
  doc.counters = {{"LinkRxFrames", "link.rx_frames", 10}, {"LinkTxFrames", "link.tx_frames", 0},
                  {"TcpInSegs", "tcp.in_segs", 7}};
  TcpSnapshot t;
  t.id = 17;
  t.state = tcp::State::kEstablished;
  t.local = Ipv4Addr::FromOctets(198, 18, 0, 2);
  t.local_port = 40000;
  t.remote = Ipv4Addr::FromOctets(198, 18, 0, 1);
  t.remote_port = 80;
  t.recv_q = 5;
  t.info.rtt_us = 120;
  t.info.snd_cwnd = 10;
  t.info.bytes_received = 99;
  doc.snapshot.tcp.push_back(t);
  t.id = 18;
  t.state = tcp::State::kTimeWait;
  t.orphan = true;
  t.ssthresh_infinite = false;
  t.info.snd_ssthresh = 7;
  doc.snapshot.tcp.push_back(t);
  doc.tcp_fds = {5, -1};
  UdpSnapshot u;
  u.local_port = 53;
  doc.snapshot.udp.push_back(u);
  doc.udp_fds = {6};
  return doc;
}

TEST(StatJsonTest, DocumentHasEveryPartInShape) {
  std::string j = FormatStatJson(SampleDocument());
  EXPECT_TRUE(Balanced(j)) << j;
  EXPECT_EQ(j.back(), '\n');
  EXPECT_NE(j.find("\"version\": 1, \"pid\": 42, \"program\": \"my \\\"prog\\\"\", \"uptime_s\": 3.250, "
                   "\"log_level\": \"warn\""),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"name\": \"tap0\", \"index\": 2, \"mac\": \"02:00:00:00:00:02\", \"mtu\": 1500, "
                   "\"loopback\": false, \"addresses\": [\"198.18.0.2/24\", \"2001:db8::2\"]"),
            std::string::npos)
      << j;
  // Zero counters too, each in the group its field names.
  EXPECT_NE(j.find("\"counters\": {\"link\": {\"LinkRxFrames\": 10, \"LinkTxFrames\": 0}, "
                   "\"tcp\": {\"TcpInSegs\": 7}}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("{\"id\": 17, \"state\": \"ESTAB\", \"family\": \"inet\", \"local\": \"198.18.0.2:40000\", "
                   "\"remote\": \"198.18.0.1:80\", \"recv_q\": 5, \"send_q\": 0, \"rtt_us\": 120"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"cwnd\": 10, \"ssthresh\": null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"bytes_received\": 99"), std::string::npos) << j;
  EXPECT_NE(j.find("\"orphan\": false, \"fd\": 5}"), std::string::npos) << j;
  EXPECT_NE(j.find("\"id\": 18, \"state\": \"TIME-WAIT\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"ssthresh\": 7"), std::string::npos) << j;
  EXPECT_NE(j.find("\"orphan\": true, \"fd\": null}"), std::string::npos) << j;
  EXPECT_NE(j.find("\"udp\": [{\"state\": \"UNCONN\", \"family\": \"inet\", \"local\": \"0.0.0.0:53\", "
                   "\"remote\": \"0.0.0.0:0\", \"recv_q\": 0, \"fd\": 6}]"),
            std::string::npos)
      << j;
}

TEST(StatJsonTest, EmptyDocumentIsStillValid) {
  StatDocument doc;
  std::string j = FormatStatJson(doc);
  EXPECT_TRUE(Balanced(j)) << j;
  EXPECT_NE(j.find("\"interfaces\": [], \"counters\": {}, \"tcp\": [], \"udp\": []"), std::string::npos) << j;
}

}  // namespace
}  // namespace tapsock::shim
