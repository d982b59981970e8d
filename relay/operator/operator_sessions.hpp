// What `operator-cli sessions` shows: the enrolled devices an operator holds a grant for, each
// online (with its current session ID) or offline. Built from memory only (the key snapshot and
// the live registry), so it may run on a reactor. Ad-hoc sessions are never listed: their ID is
// a handle the device's user reads out, and listing them would hand it to everyone.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "relay/store/store.hpp"

namespace sb::relay {

struct GrantedDevice {
  std::string name{};
  std::string status{};               // "online" | "offline" | "revoked" | "not enrolled"
  std::string session_id{};           // nine digits while online, else ""
  std::vector<std::string> groups{};  // the device's groups, sorted
};

// At most this many rows are listed (the answer stays bounded whatever the grants table holds).
inline constexpr std::size_t kMaxListedDevices = 10000;

// The live session ID of an enrolled device, or nullopt while it is offline.
using LiveSessionOf = std::function<std::optional<std::string>(const std::string& device)>;

// The operator's granted devices, sorted by name: each granted by name or through one of its
// groups (a grant to "@GROUP"), listed once.
std::vector<GrantedDevice> granted_devices(const store::KeySnapshot& keys,
                                           const std::string& operator_name,
                                           const LiveSessionOf& live_session_of);

// The answer to `sessions`: a table ("DEVICE STATUS SESSION"; when any device is in a group,
// "GROUP DEVICE STATUS SESSION" by group, a device once under each of its groups and the
// ungrouped last under "-") or, with json, an array of {"device", "status", "session_id"
// (null when offline), "groups"}.
std::string render_granted_devices(const std::vector<GrantedDevice>& devices, bool json);

// A command sent to the relay's query user, e.g. "sessions --json".
struct QueryAnswer {
  std::string out;  // stdout
  std::string err;  // stderr
  int exit_status = 0;
};
struct QueryRequest {
  enum class Verb { kSessions, kUnknown } verb = Verb::kUnknown;
  bool json = false;
};
QueryRequest parse_query(const std::string& command);
// What the query user answers to anything it does not know (a shell included): exit status 2.
QueryAnswer unknown_query_answer(const std::string& command);

}  // namespace sb::relay
