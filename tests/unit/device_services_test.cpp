// DeviceServices: the named services an agentless device registers with `ssh -R NAME:PORT:...`.
#include "relay/device/device_services.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sb::relay {
namespace {

TEST(DeviceServicesTest, RegistersNamedServicesWithTheirPorts) {
  DeviceServices services;
  auto screen = services.add("screen", 5900);
  ASSERT_TRUE(screen.service) << screen.error;
  EXPECT_EQ(screen.service->name, "screen");
  EXPECT_EQ(screen.service->port, 5900);
  ASSERT_TRUE(services.add("sshd", 22).service);
  EXPECT_EQ(services.all().size(), 2u);
  EXPECT_EQ(services.describe(), "screen (5900), sshd (22)");
  EXPECT_EQ(services.names(), "screen, sshd");
}

TEST(DeviceServicesTest, PortZeroAllocatesDistinctPorts) {
  DeviceServices services;
  auto first = services.add("vnc2", 0);
  auto second = services.add("web", 0);
  ASSERT_TRUE(first.service && second.service);
  EXPECT_EQ(first.service->port, DeviceServices::kFirstAllocatedPort);
  EXPECT_EQ(second.service->port, DeviceServices::kFirstAllocatedPort + 1);
}

TEST(DeviceServicesTest, RefusesInvalidNamesPortsAndDuplicates) {
  DeviceServices services;
  for (const char* name : {"", "*", "Screen", "12345", "-x", "a b", "x/y"}) {
    auto added = services.add(name, 80);
    EXPECT_FALSE(added.service) << name;
    EXPECT_NE(added.error.find("not valid"), std::string::npos) << name;
  }
  EXPECT_FALSE(services.add(std::string(33, 'a'), 80).service);
  EXPECT_FALSE(services.add("web", 65536).service);
  EXPECT_FALSE(services.add("web", -1).service);
  ASSERT_TRUE(services.add("web", 80).service);
  auto again = services.add("web", 80);
  EXPECT_FALSE(again.service);
  EXPECT_NE(again.error.find("already registered"), std::string::npos);
  EXPECT_TRUE(services.add("web", 443).service);  // same name, other port
}

TEST(DeviceServicesTest, BoundsTheNumberOfServices) {
  DeviceServices services;
  for (std::size_t i = 0; i < DeviceServices::kMaxServices; ++i)
    ASSERT_TRUE(services.add("svc" + std::to_string(i), 1000 + static_cast<int>(i)).service);
  auto extra = services.add("one-more", 2000);
  EXPECT_FALSE(extra.service);
  EXPECT_NE(extra.error.find("too many services"), std::string::npos);
}

TEST(DeviceServicesTest, FindsByExactPortOrByNameAlone) {
  DeviceServices services;
  ASSERT_TRUE(services.add("screen", 5900).service);
  EXPECT_EQ(services.find("screen", 5900)->port, 5900);
  EXPECT_EQ(services.find("screen", 0)->port, 5900);  // "whatever port it has"
  EXPECT_EQ(services.find("screen", 1)->port, 5900);  // OpenSSH -L needs some port
  EXPECT_FALSE(services.find("nope", 5900));
  // Two registrations of one name: only the exact port says which.
  ASSERT_TRUE(services.add("web", 80).service);
  ASSERT_TRUE(services.add("web", 443).service);
  EXPECT_EQ(services.find("web", 443)->port, 443);
  EXPECT_FALSE(services.find("web", 0));
}

TEST(DeviceServicesTest, CancelRemovesOnlyThatRegistration) {
  DeviceServices services;
  ASSERT_TRUE(services.add("web", 80).service);
  ASSERT_TRUE(services.add("web", 443).service);
  EXPECT_FALSE(services.remove("web", 8080));
  EXPECT_TRUE(services.remove("web", 80));
  EXPECT_FALSE(services.remove("web", 80));
  EXPECT_EQ(services.describe(), "web (443)");
  EXPECT_TRUE(services.remove("web", 443));
  EXPECT_TRUE(services.empty());
  EXPECT_EQ(services.describe(), "none yet");
  EXPECT_EQ(services.names(), "none yet");
}

}  // namespace
}  // namespace sb::relay
