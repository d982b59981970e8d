// The data dir's permissions on a real file system: run as a Windows executable (under Wine in
// the test command). Wine keeps no DACL on its files: it derives one from the Unix mode bits
// and turns a DACL that is set into mode bits, which is enough for "who else may write".
#include "device-agent/windows/data_dir.hpp"

#include <gtest/gtest.h>
#include <windows.h>
// after windows.h
#include <aclapi.h>

#include <fstream>
#include <string>

namespace sb::agent::win {
namespace {

namespace fs = std::filesystem;

class DataDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("sb-data-dir-test-" + std::to_string(GetCurrentProcessId()) + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root_;
};

void grant_everyone_write(const fs::path& dir) {
  PACL old_dacl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  ASSERT_EQ(GetNamedSecurityInfoW(dir.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                  nullptr, &old_dacl, nullptr, &sd),
            ERROR_SUCCESS);
  EXPLICIT_ACCESSW access{};
  access.grfAccessPermissions = GENERIC_READ | GENERIC_WRITE;
  access.grfAccessMode = GRANT_ACCESS;
  access.grfInheritance = NO_INHERITANCE;
  access.Trustee.TrusteeForm = TRUSTEE_IS_NAME;
  access.Trustee.TrusteeType = TRUSTEE_IS_WELL_KNOWN_GROUP;
  wchar_t everyone[] = L"Everyone";
  access.Trustee.ptstrName = everyone;
  PACL new_dacl = nullptr;
  ASSERT_EQ(SetEntriesInAclW(1, &access, old_dacl, &new_dacl), ERROR_SUCCESS);
  const DWORD rc =
      SetNamedSecurityInfoW(const_cast<wchar_t*>(dir.c_str()), SE_FILE_OBJECT,
                            DACL_SECURITY_INFORMATION, nullptr, nullptr, new_dacl, nullptr);
  LocalFree(new_dacl);
  LocalFree(sd);
  ASSERT_EQ(rc, ERROR_SUCCESS);
}

TEST_F(DataDir, DefaultIsUnderProgramDataForAdministrators) {
  const fs::path dir = default_data_dir();
  EXPECT_EQ(dir.filename(), "switchboard-agent");
  // Wine's user is an administrator; a plain Windows user gets a dir in their profile.
  const wchar_t* variable = runs_as_administrator() ? L"ProgramData" : L"LOCALAPPDATA";
  wchar_t base[MAX_PATH];
  ASSERT_GT(GetEnvironmentVariableW(variable, base, MAX_PATH), 0u);
  EXPECT_EQ(dir.parent_path(), fs::path(base));
}

TEST_F(DataDir, CreatedDirLetsNoOtherWriterIn) {
  const fs::path dir = root_ / "a" / "switchboard-agent";
  ensure_private_data_dir(dir);
  ASSERT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(find_untrusted_writer(read_acl(dir), trusted_sids()), "");
  ensure_private_data_dir(dir);         // a second start finds it as it left it
  std::ofstream(dir / "probe") << "x";  // and can use it
  EXPECT_TRUE(fs::exists(dir / "probe"));
}

TEST_F(DataDir, RefusesADirEveryoneMayWrite) {
  const fs::path dir = root_ / "switchboard-agent";
  ensure_private_data_dir(dir);
  grant_everyone_write(dir);
  try {
    ensure_private_data_dir(dir);
    FAIL() << "accepted a dir everyone may write";
  } catch (const DataDirError& e) {
    EXPECT_NE(std::string(e.what()).find("S-1-1-0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("refusing to run"), std::string::npos) << e.what();
  }
}

TEST_F(DataDir, RefusesAFileInItsPlace) {
  const fs::path dir = root_ / "switchboard-agent";
  std::ofstream(dir) << "not a dir";
  EXPECT_THROW(ensure_private_data_dir(dir), DataDirError);
}

TEST(TrustedSids, IncludeSystemAdministratorsAndThisUser) {
  const auto sids = trusted_sids();
  ASSERT_EQ(sids.size(), 3u);
  EXPECT_EQ(sids[0], kSystemSid);
  EXPECT_EQ(sids[1], kAdministratorsSid);
  EXPECT_EQ(sids[2].rfind("S-1-5-", 0), 0u) << sids[2];
}

}  // namespace
}  // namespace sb::agent::win
