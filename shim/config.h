// The TAPSOCK_* environment (CONTRACT.md), read once when the stack starts. Every problem found is
// kept as a message, so the caller can report them all at once, with their cause.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "stack/link/fault_link.h"
#include "stack/link/pcap_writer.h"
#include "stack/nic.h"
#include "stack/wire/address.h"

namespace tapsock::shim {

struct Ipv6Prefix {
  std::array<uint8_t, 16> addr{};
  int prefix_len = 0;
};

struct Config {
  bool disabled = false;          // TAPSOCK_DISABLE=1
  std::string tap;                // TAPSOCK_TAP
  std::vector<Ipv4Prefix> v4;     // TAPSOCK_ADDR
  std::vector<Ipv6Prefix> v6;
  std::vector<Ipv4Addr> gw4;      // TAPSOCK_GW
  std::vector<std::array<uint8_t, 16>> gw6;
  std::optional<MacAddr> mac;     // TAPSOCK_MAC
  uint32_t mtu = 0;               // TAPSOCK_MTU
  std::string pcap;               // TAPSOCK_PCAP
  PcapWriter::Limits pcap_limits; // TAPSOCK_PCAP_SIZE, TAPSOCK_PCAP_FILES, TAPSOCK_PCAP_SNAPLEN
  bool control = true;            // TAPSOCK_CONTROL: serve `tapsock stat` / `tapsock log`
  std::string control_dir;        // TAPSOCK_CONTROL_DIR: where the control socket goes
  std::optional<FaultSpec> faults; // TAPSOCK_FAULTS: seeded faults on the TAP link, if any
  std::vector<std::string> errors;
};

// TAPSOCK_DISABLE alone, cheap enough for the library constructor.
bool DisabledByEnvironment();
Config ReadConfig();

}  // namespace tapsock::shim
