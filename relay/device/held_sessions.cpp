#include "relay/device/held_sessions.hpp"

#include <spdlog/spdlog.h>

#include "common/util.hpp"

namespace sb::relay {

void end_held_sessions(store::Store& store, const std::vector<HeldSession>& held,
                       const std::string& reason) {
  for (const HeldSession& session : held) {
    const std::string why =
        session.interrupted.empty() ? reason : session.interrupted + "; " + reason;
    spdlog::info("session {} ended: {} fp={}", session.id, why, session.fingerprint);
    store.post([session, why, when = utc_now()](store::Db& db) {
      db.add_event(store::events::kDeviceDisconnected, session.fingerprint,
                   {{"session", session.id},
                    {"device", ""},
                    {"fingerprint", session.fingerprint},
                    {"reason", why}},
                   when);
      db.end_session(session.id, why, when);
    });
  }
}

}  // namespace sb::relay
