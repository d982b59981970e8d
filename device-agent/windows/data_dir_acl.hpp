// Who may write the agent's data dir, decided from its owner and DACL (portable logic: the
// Windows code reads the security descriptor into these structs, the tests build them).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sb::agent::win {

struct AceView {
  std::string sid;  // "S-1-5-18"
  bool allow = true;
  bool inherit_only = false;  // applies to children only, not to the dir itself
  std::uint32_t mask = 0;
};

struct AclView {
  std::string owner;      // may change the DACL whatever it says
  bool has_dacl = false;  // false: a NULL DACL, which grants everyone everything
  std::vector<AceView> aces;
};

inline constexpr char kSystemSid[] = "S-1-5-18";
inline constexpr char kAdministratorsSid[] = "S-1-5-32-544";

// Rights that let a holder change what the dir holds or who may access it.
std::uint32_t write_rights_mask();

// The first SID outside `trusted` that may write the dir (as owner, or by an allowing ACE with
// write rights), as "S-1-1-0 (may write)"; "" if none. A NULL DACL yields "everyone".
std::string find_untrusted_writer(const AclView& acl, const std::vector<std::string>& trusted);

}  // namespace sb::agent::win
