#include "device-agent/windows/session_users.hpp"

#include <algorithm>
#include <cctype>

namespace sb::agent::win {

namespace {

bool is_console(const std::string& station) {
  return station.size() == 7 &&
         std::equal(station.begin(), station.end(), "console", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace

std::vector<UserFacts> users_of_sessions(const std::vector<SessionRecord>& sessions) {
  std::vector<UserFacts> users;
  for (const SessionRecord& s : sessions) {
    if (!s.active_or_disconnected || s.user.empty()) continue;
    if (is_console(s.station))
      users.push_back({s.user, "console", ""});
    else
      users.push_back({s.user, s.station, s.client});
  }
  return users;
}

}  // namespace sb::agent::win
