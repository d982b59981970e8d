// The end of sessions that were held for a resume and will not be resumed: their grace ran
// out, the administrator killed one, or the relay stops. Each ends as a dropped tunnel always
// did: device.disconnected, then the session's end, which purges its tunnel keys.
#pragma once
#include <string>
#include <vector>

#include "relay/router/router.hpp"
#include "relay/store/store.hpp"

namespace sb::relay {

void end_held_sessions(store::Store& store, const std::vector<HeldSession>& held,
                       const std::string& reason);

}  // namespace sb::relay
