// The enrollment record in the agent's data dir: which device this is, and with which relay.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/util.hpp"
#include "device-agent/status_file.hpp"

namespace sb::agent {
namespace {

namespace fs = std::filesystem;

class EnrollmentRecord : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_name_for(fs::temp_directory_path() / "sb-enrollment-test");
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(EnrollmentRecord, HoldsForTheRelayItWasMadeWithOnly) {
  const Enrollment record{"till-4", "relay-a.example:2222"};
  EXPECT_TRUE(record.with("relay-a.example:2222"));
  EXPECT_FALSE(record.with("relay-b.example:2222"));
  EXPECT_FALSE(record.with("relay-a.example:2223"));
  EXPECT_FALSE((Enrollment{"", "relay-a.example:2222"}).with("relay-a.example:2222"));
  // A record without a relay (made by hand) holds for any.
  EXPECT_TRUE((Enrollment{"till-4", ""}).with("relay-b.example:2222"));
}

TEST_F(EnrollmentRecord, IsWrittenAndReadBack) {
  EXPECT_TRUE(read_enrollment(dir_).device.empty());
  write_enrollment(dir_, {"till-4", "relay-a.example:2222"});
  const Enrollment read = read_enrollment(dir_);
  EXPECT_EQ(read.device, "till-4");
  EXPECT_EQ(read.relay, "relay-a.example:2222");
}

TEST_F(EnrollmentRecord, ABrokenRecordReadsAsNotEnrolled) {
  for (const char* text : {"", "not json", "[1,2]", "{\"device\": 7}"}) {
    std::ofstream(dir_ / "enrollment.json") << text;
    EXPECT_TRUE(read_enrollment(dir_).device.empty()) << text;
  }
}

}  // namespace
}  // namespace sb::agent
