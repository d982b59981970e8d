// Who is logged in on Windows, decided from the sessions Remote Desktop Services lists: kept
// apart from the API calls so that the rules are tested on made-up sessions (Wine lists none).
#pragma once
#include <string>
#include <vector>

#include "device-agent/platform/system_info.hpp"

namespace sb::agent::win {

struct SessionRecord {
  bool active_or_disconnected = false;  // WTSActive or WTSDisconnected
  std::string station;                  // "Console", "RDP-Tcp#3", "Services"
  std::string user;                     // "" for session 0 and a login screen
  std::string client;                   // a Remote Desktop client's computer name
};

// A user for each active or disconnected session with a user (a disconnected Remote Desktop user
// is still logged in): terminal "console" or the station's name, from the client's name.
std::vector<UserFacts> users_of_sessions(const std::vector<SessionRecord>& sessions);

}  // namespace sb::agent::win
