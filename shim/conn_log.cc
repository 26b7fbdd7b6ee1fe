#include "shim/conn_log.h"

#include "shim/log.h"
#include "stack/transport/tcp/tcp_state.h"

namespace tapsock::shim {

namespace {

class ConnectionLog final : public StackEventObserver {
 public:
  void OnTcpEventLocked(const TcpEvent& e) override {
    if (log::internal::g_threshold.load(std::memory_order_relaxed) > log::kDebug) return;
    const std::string id = e.conn_id ? "c" + std::to_string(e.conn_id) : "c-";
    const std::string local = e.local.ToString(), remote = e.remote.ToString();
    const char* from = tcp::StateName(static_cast<tcp::State>(e.from_state));
    const char* to = tcp::StateName(static_cast<tcp::State>(e.to_state));
    switch (e.kind) {
      case TcpEvent::Kind::kStateChange:
        TS_LOG_DEBUG("{} {}:{} -> {}:{} {} -> {}", id, local, e.local_port, remote, e.remote_port, from, to);
        return;
      case TcpEvent::Kind::kResetSent:
        if (e.conn_id)
          TS_LOG_DEBUG("{} {}:{} -> {}:{} RST sent in {}", id, local, e.local_port, remote, e.remote_port, from);
        else  // one per segment that finds no connection (a flood after an abort): trace only
          TS_LOG_TRACE("{} {}:{} -> {}:{} RST sent (no connection)", id, local, e.local_port, remote, e.remote_port);
        return;
      case TcpEvent::Kind::kResetReceived:
        TS_LOG_DEBUG("{} {}:{} -> {}:{} RST received in {}", id, local, e.local_port, remote, e.remote_port, from);
        return;
      case TcpEvent::Kind::kRetransmitTimeout:
        TS_LOG_DEBUG("{} {}:{} -> {}:{} retransmission timeout {} in {}, rto {} ms", id, local, e.local_port,
                     remote, e.remote_port, e.retransmits, from, e.rto_us / 1000);
        return;
    }
  }
};

}  // namespace

StackEventObserver* ConnectionLogger() {
  static ConnectionLog* logger = new ConnectionLog();  // never destroyed: events may come during exit
  return logger;
}

}  // namespace tapsock::shim
