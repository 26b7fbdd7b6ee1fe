// Human-readable counters of a stack, like `nstat` prints them. TAPSOCK_STATS=exit writes them to
// stderr when the process exits (the live `tapsock stat PID` view arrives with the harness issue).
#pragma once

#include <string>

#include "stack/stats.h"

namespace tapsock::shim {

// One "Name value" line per non-zero counter.
std::string FormatStats(const StackStats& s);
// Registers the exit-time dump when TAPSOCK_STATS=exit.
void MaybeDumpStatsAtExit();

}  // namespace tapsock::shim
