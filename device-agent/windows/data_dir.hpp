// The agent's data dir on Windows: %ProgramData%\switchboard-agent, readable and writable only
// by SYSTEM and Administrators (Windows only).
#pragma once
#include <filesystem>
#include <stdexcept>

#include "device-agent/windows/data_dir_acl.hpp"

namespace sb::agent::win {

struct DataDirError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// %ProgramData%\switchboard-agent for an administrator or SYSTEM (the service, its install);
// %LOCALAPPDATA%\switchboard-agent for other users (attended help without elevation).
std::filesystem::path default_data_dir();

// Is this process elevated (an enabled Administrators group) or SYSTEM?
bool runs_as_administrator();

// Creates dir (its parents as usual) with a protected DACL: full control for SYSTEM and
// Administrators (and for the user when not an administrator), nothing inherited. An existing dir
// is checked instead: DataDirError if anyone else may write it (a non-admin could plant a key or a
// pin there).
void ensure_private_data_dir(const std::filesystem::path& dir);

// The dir's owner and DACL as AclView. Throws DataDirError.
AclView read_acl(const std::filesystem::path& dir);

// SYSTEM, Administrators and the user this process runs as.
std::vector<std::string> trusted_sids();

// Throws DataDirError naming the account that may write dir, and how to fix it.
void check_data_dir(const std::filesystem::path& dir);

}  // namespace sb::agent::win
