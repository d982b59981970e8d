// The Windows agent's platform-independent decisions: what `service install` registers, which
// data dir permissions the agent refuses, and which sessions count as logged-in users. Built into
// the Linux unit tests and into the Windows unit tests that run under Wine.
#include <gtest/gtest.h>

#include "device-agent/windows/data_dir_acl.hpp"
#include "device-agent/windows/service_command.hpp"
#include "device-agent/windows/session_users.hpp"

namespace sb::agent::win {
namespace {

using Args = std::vector<std::string>;

TEST(ServiceRunArgs, DropsTheSpentTokenAndPinsTheDataDir) {
  EXPECT_EQ(service_run_args({"--relay", "r:2222", "--enroll-token", "T1", "--name", "pc-1"},
                             "C:\\ProgramData\\switchboard-agent"),
            (Args{"--relay", "r:2222", "--name", "pc-1", "--data-dir",
                  "C:\\ProgramData\\switchboard-agent"}));
  EXPECT_EQ(service_run_args({"--enroll-token=T1", "--data-dir=rel", "--relay=r:1"}, "C:\\d"),
            (Args{"--relay=r:1", "--data-dir", "C:\\d"}));
  EXPECT_EQ(service_run_args({"--data-dir", "rel", "--allow-proxy", "10.0.0.0/8"}, "C:\\d"),
            (Args{"--allow-proxy", "10.0.0.0/8", "--data-dir", "C:\\d"}));
}

TEST(ServiceRunArgs, KeepsLookalikeFlags) {
  EXPECT_EQ(service_run_args({"--enroll-tokenx", "--data-dirs"}, "C:\\d"),
            (Args{"--enroll-tokenx", "--data-dirs", "--data-dir", "C:\\d"}));
}

TEST(WindowsCommandLine, QuotesLikeCommandLineToArgvW) {
  EXPECT_EQ(quote_windows_arg("plain"), "plain");
  EXPECT_EQ(quote_windows_arg(""), "\"\"");
  EXPECT_EQ(quote_windows_arg("a b"), "\"a b\"");
  EXPECT_EQ(quote_windows_arg("say \"hi\""), "\"say \\\"hi\\\"\"");
  // Backslashes are literal except before a quote, the closing one included.
  EXPECT_EQ(quote_windows_arg("C:\\dir\\"), "C:\\dir\\");
  EXPECT_EQ(quote_windows_arg("C:\\my dir\\"), "\"C:\\my dir\\\\\"");
  EXPECT_EQ(quote_windows_arg("a\\\"b"), "\"a\\\\\\\"b\"");
}

TEST(WindowsCommandLine, AlwaysQuotesTheProgram) {
  EXPECT_EQ(windows_command_line("C:\\Program Files\\switchboard\\device-agent.exe",
                                 {"run", "--relay", "r:2222", "--data-dir", "C:\\Program Data"}),
            "\"C:\\Program Files\\switchboard\\device-agent.exe\" run --relay r:2222 --data-dir "
            "\"C:\\Program Data\"");
}

constexpr std::uint32_t kFullControl = 0x1f01ff;
constexpr std::uint32_t kReadExecute = 0x1200a9;
const std::vector<std::string> kTrusted{kSystemSid, kAdministratorsSid, "S-1-5-21-1-2-3-1001"};

AclView protected_dir() {
  return AclView{
      kAdministratorsSid,
      true,
      {{kSystemSid, true, false, kFullControl}, {kAdministratorsSid, true, false, kFullControl}}};
}

TEST(DataDirAcl, TheAgentsOwnDirIsAccepted) {
  EXPECT_EQ(find_untrusted_writer(protected_dir(), kTrusted), "");
}

TEST(DataDirAcl, OthersMayReadButNotWrite) {
  AclView acl = protected_dir();
  acl.aces.push_back({"S-1-5-32-545", true, false, kReadExecute});  // Users: read
  EXPECT_EQ(find_untrusted_writer(acl, kTrusted), "");
  acl.aces.push_back({"S-1-1-0", true, false, 0x0002});  // Everyone: create files
  EXPECT_EQ(find_untrusted_writer(acl, kTrusted), "S-1-1-0 (may write)");
}

TEST(DataDirAcl, EveryWriteRightCounts) {
  for (std::uint32_t right : {0x0002u, 0x0004u, 0x0010u, 0x0040u, 0x00010000u, 0x00040000u,
                              0x00080000u, 0x10000000u, 0x40000000u}) {
    AclView acl = protected_dir();
    acl.aces.push_back({"S-1-5-32-545", true, false, right});
    EXPECT_EQ(find_untrusted_writer(acl, kTrusted), "S-1-5-32-545 (may write)") << right;
  }
}

TEST(DataDirAcl, InheritOnlyAndDenyEntriesDoNotGrant) {
  AclView acl = protected_dir();
  acl.aces.push_back({"S-1-3-0", true, true, kFullControl});  // CREATOR OWNER, children only
  acl.aces.push_back({"S-1-1-0", false, false, kFullControl});
  EXPECT_EQ(find_untrusted_writer(acl, kTrusted), "");
}

TEST(DataDirAcl, AnUntrustedOwnerCanRewriteTheAcl) {
  AclView acl = protected_dir();
  acl.owner = "S-1-5-21-9-9-9-1002";
  EXPECT_EQ(find_untrusted_writer(acl, kTrusted), "S-1-5-21-9-9-9-1002 (owner)");
}

TEST(DataDirAcl, ANullDaclLetsEveryoneIn) {
  AclView acl = protected_dir();
  acl.has_dacl = false;
  acl.aces.clear();
  EXPECT_EQ(find_untrusted_writer(acl, kTrusted), "everyone (no access control list)");
}

TEST(SessionUsers, ConsoleAndRemoteDesktopUsersAreListedServicesAndLoginScreensAreNot) {
  const std::vector<SessionRecord> sessions = {
      {true, "Services", "", ""},                   // session 0: no user
      {true, "Console", "anna", ""},                // at the keyboard
      {true, "RDP-Tcp#4", "ben", "LAPTOP-BEN"},     // Remote Desktop
      {true, "RDP-Tcp#5", "", "LAPTOP-X"},          // a login screen over Remote Desktop
      {false, "RDP-Tcp#6", "carl", "LAPTOP-CARL"},  // listening or reset: not logged in
      {true, "console", "dora", "ignored"},         // the console has no client
  };
  const auto users = users_of_sessions(sessions);
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users[0].name, "anna");
  EXPECT_EQ(users[0].terminal, "console");
  EXPECT_EQ(users[0].from, "");
  EXPECT_EQ(users[1].name, "ben");
  EXPECT_EQ(users[1].terminal, "RDP-Tcp#4");
  EXPECT_EQ(users[1].from, "LAPTOP-BEN");
  EXPECT_EQ(users[2].name, "dora");
  EXPECT_EQ(users[2].terminal, "console");
  EXPECT_EQ(users[2].from, "");
  EXPECT_TRUE(users_of_sessions({}).empty());
}

}  // namespace
}  // namespace sb::agent::win
