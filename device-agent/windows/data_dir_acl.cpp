#include "device-agent/windows/data_dir_acl.hpp"

#include <algorithm>

namespace sb::agent::win {

namespace {
// The values of winnt.h, spelled out so that this file builds on every platform.
constexpr std::uint32_t kFileWriteData = 0x0002;   // also FILE_ADD_FILE
constexpr std::uint32_t kFileAppendData = 0x0004;  // also FILE_ADD_SUBDIRECTORY
constexpr std::uint32_t kFileWriteEa = 0x0010;
constexpr std::uint32_t kFileDeleteChild = 0x0040;
constexpr std::uint32_t kDelete = 0x00010000;
constexpr std::uint32_t kWriteDac = 0x00040000;
constexpr std::uint32_t kWriteOwner = 0x00080000;
constexpr std::uint32_t kGenericAll = 0x10000000;
constexpr std::uint32_t kGenericWrite = 0x40000000;
}  // namespace

std::uint32_t write_rights_mask() {
  return kFileWriteData | kFileAppendData | kFileWriteEa | kFileDeleteChild | kDelete | kWriteDac |
         kWriteOwner | kGenericAll | kGenericWrite;
}

std::string find_untrusted_writer(const AclView& acl, const std::vector<std::string>& trusted) {
  auto is_trusted = [&](const std::string& sid) {
    return std::find(trusted.begin(), trusted.end(), sid) != trusted.end();
  };
  if (!acl.owner.empty() && !is_trusted(acl.owner)) return acl.owner + " (owner)";
  if (!acl.has_dacl) return "everyone (no access control list)";
  // Deny ACEs are not credited: a later allow for a group could still let a member in, and a
  // dir the agent made itself has none.
  for (const auto& ace : acl.aces) {
    if (!ace.allow || ace.inherit_only) continue;
    if ((ace.mask & write_rights_mask()) && !is_trusted(ace.sid)) return ace.sid + " (may write)";
  }
  return "";
}

}  // namespace sb::agent::win
