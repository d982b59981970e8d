#include "device-agent/windows/data_dir.hpp"

#include <windows.h>
// after windows.h
#include <aclapi.h>
#include <sddl.h>

#include <memory>
#include <system_error>
#include <vector>

#include "device-agent/windows/win_text.hpp"

namespace sb::agent::win {

namespace {

// Full control for SYSTEM and Administrators, for the dir and everything created in it; P: not
// inherited from %ProgramData%, whose DACL lets every user create files.
constexpr wchar_t kDataDirSddl[] = L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

std::string token_user_sid() {
  std::string out;
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return out;
  DWORD needed = 0;
  GetTokenInformation(token, TokenUser, nullptr, 0, &needed);
  std::vector<BYTE> buffer(needed);
  if (needed && GetTokenInformation(token, TokenUser, buffer.data(), needed, &needed)) {
    wchar_t* text = nullptr;
    if (ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid, &text)) {
      out = to_utf8(text);
      LocalFree(text);
    }
  }
  CloseHandle(token);
  return out;
}

std::string sid_string(PSID sid) {
  wchar_t* text = nullptr;
  if (!sid || !ConvertSidToStringSidW(sid, &text)) return "";
  std::string out = to_utf8(text);
  LocalFree(text);
  return out;
}

// "S-1-1-0 (may write)" -> "S-1-1-0 (may write) = \Everyone" for the error message.
std::string account_name(const std::string& sid_text) {
  PSID sid = nullptr;
  if (!ConvertStringSidToSidW(to_wide(sid_text).c_str(), &sid)) return "";
  wchar_t name[256], domain[256];
  DWORD name_len = 256, domain_len = 256;
  SID_NAME_USE use;
  std::string out;
  if (LookupAccountSidW(nullptr, sid, name, &name_len, domain, &domain_len, &use))
    out = to_utf8(domain) + "\\" + to_utf8(name);
  LocalFree(sid);
  return out;
}

}  // namespace

bool runs_as_administrator() {
  BYTE sid[SECURITY_MAX_SID_SIZE];
  DWORD size = sizeof sid;
  BOOL member = FALSE;
  if (!CreateWellKnownSid(WinBuiltinAdministratorsSid, nullptr, sid, &size)) return false;
  if (!CheckTokenMembership(nullptr, sid, &member)) return false;
  return member || token_user_sid() == kSystemSid;
}

std::filesystem::path default_data_dir() {
  // A user without administrator rights (attended help) could not use a dir only SYSTEM and
  // Administrators may write: theirs is in their own profile.
  const bool admin = runs_as_administrator();
  wchar_t buffer[MAX_PATH];
  const DWORD n =
      GetEnvironmentVariableW(admin ? L"ProgramData" : L"LOCALAPPDATA", buffer, MAX_PATH);
  std::filesystem::path base = n > 0 && n < MAX_PATH ? std::filesystem::path(buffer)
                                                     : std::filesystem::path(L"C:\\ProgramData");
  return base / L"switchboard-agent";
}

std::vector<std::string> trusted_sids() {
  std::vector<std::string> out{kSystemSid, kAdministratorsSid};
  if (std::string user = token_user_sid(); !user.empty()) out.push_back(user);
  return out;
}

AclView read_acl(const std::filesystem::path& dir) {
  PSID owner = nullptr;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  const DWORD rc = GetNamedSecurityInfoW(dir.c_str(), SE_FILE_OBJECT,
                                         OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                         &owner, nullptr, &dacl, nullptr, &sd);
  if (rc != ERROR_SUCCESS)
    throw DataDirError("cannot read the permissions of " + dir.string() + ": " + error_text(rc));
  std::unique_ptr<void, decltype(&LocalFree)> free_sd(sd, &LocalFree);
  AclView view;
  view.owner = sid_string(owner);
  view.has_dacl = dacl != nullptr;
  for (DWORD i = 0; dacl && i < dacl->AceCount; ++i) {
    void* raw = nullptr;
    if (!GetAce(dacl, i, &raw)) continue;
    auto* header = static_cast<ACE_HEADER*>(raw);
    AceView ace;
    ace.inherit_only = header->AceFlags & INHERIT_ONLY_ACE;
    if (header->AceType == ACCESS_ALLOWED_ACE_TYPE) {
      auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(raw);
      ace.mask = allowed->Mask;
      ace.sid = sid_string(&allowed->SidStart);
    } else if (header->AceType == ACCESS_DENIED_ACE_TYPE) {
      auto* denied = static_cast<ACCESS_DENIED_ACE*>(raw);
      ace.allow = false;
      ace.mask = denied->Mask;
      ace.sid = sid_string(&denied->SidStart);
    } else {
      // Object and callback ACEs: nothing a file system dir should carry; count them as a
      // writer nobody vetted.
      ace.mask = write_rights_mask();
      ace.sid = "unknown ACE type " + std::to_string(header->AceType);
    }
    view.aces.push_back(std::move(ace));
  }
  return view;
}

void check_data_dir(const std::filesystem::path& dir) {
  const std::string writer = find_untrusted_writer(read_acl(dir), trusted_sids());
  if (writer.empty()) return;
  const std::string sid = writer.substr(0, writer.find(' '));
  const std::string name = account_name(sid);
  throw DataDirError("data dir " + dir.string() + " can be written by " + writer +
                     (name.empty() ? "" : " = " + name) +
                     ": refusing to run, someone else could plant keys or pins there. Let only "
                     "SYSTEM and Administrators in (icacls \"" +
                     dir.string() +
                     "\" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F), or "
                     "remove the dir and let the agent create it");
}

void ensure_private_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    if (!std::filesystem::is_directory(dir, ec))
      throw DataDirError("data dir " + dir.string() + " exists and is not a directory");
    return check_data_dir(dir);
  }
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  std::wstring sddl = kDataDirSddl;
  // Not an administrator: the user's own dir, which they must be able to use too.
  if (!runs_as_administrator()) sddl += L"(A;OICI;FA;;;" + to_wide(token_user_sid()) + L")";
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &sd,
                                                            nullptr))
    throw DataDirError("cannot build the data dir's permissions: " + error_text(GetLastError()));
  std::unique_ptr<void, decltype(&LocalFree)> free_sd(sd, &LocalFree);
  SECURITY_ATTRIBUTES attributes{sizeof attributes, sd, FALSE};
  if (!CreateDirectoryW(dir.c_str(), &attributes) && GetLastError() != ERROR_ALREADY_EXISTS)
    throw DataDirError("cannot create data dir " + dir.string() + ": " +
                       error_text(GetLastError()));
  check_data_dir(dir);
}

}  // namespace sb::agent::win
