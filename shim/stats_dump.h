// Human-readable counters of a stack, like `nstat` prints them. TAPSOCK_STATS=exit writes them to
// stderr when the process exits; `tapsock stat PID` reads the same list live (shim/control.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stack/stats.h"

namespace tapsock::shim {

// One counter: its nstat-like name, the StackStats field it reads ("tcp.out_segs": the part before
// the dot is its layer), and its value.
struct Counter {
  const char* name;
  const char* field;
  uint64_t value;
};

// Every counter of `s`, zero or not, layer by layer: the one list both FormatStats and the JSON
// of `tapsock stat` (shim/stat_json.cc) print.
std::vector<Counter> ListCounters(const StackStats& s);
// One "Name value" line per non-zero counter.
std::string FormatStats(const StackStats& s);
class Runtime;
// Writes "tapsock counters (pid N):" and FormatStats to stderr (TAPSOCK_STATS=exit, shim/exit.h).
void DumpStats(Runtime& rt);

}  // namespace tapsock::shim
