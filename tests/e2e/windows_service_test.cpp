// The Windows agent as a Windows service, under Wine: `service install` enrolls with a Linux
// relay on loopback and registers the service; Wine's service control manager (`sc`, `net`)
// starts it and the device comes online; a stop takes it offline; `service uninstall` removes
// it. The MSI: install, upgrade, a refused downgrade, removal. Runs when SB_WINDOWS_AGENT_EXE
// names the cross-built agent and WINEPREFIX a Wine prefix (scripts/test-windows.sh sets both);
// skipped otherwise.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "harness.hpp"
#include "wine_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class WindowsService : public ::testing::Test {
 protected:
  void SetUp() override {
    exe_ = env_or_empty("SB_WINDOWS_AGENT_EXE");
    if (exe_.empty()) GTEST_SKIP() << "SB_WINDOWS_AGENT_EXE not set (scripts/test-windows.sh)";
    prefix_ = env_or_empty("WINEPREFIX");
    if (prefix_.empty()) GTEST_SKIP() << "WINEPREFIX not set";
    // A name of its own: the prefix is shared with the other Windows tests.
    service_ = "sb-test-" + std::to_string(free_port());
    env_ = wine_env();
    // Wine ends service processes when no ordinary Wine process is left: one waits on its
    // console until the test closes its input.
    keepalive_ =
        std::make_unique<Process>(std::vector<std::string>{wine_bin(), "cmd", "/c", "pause"}, env_);
  }

  void TearDown() override {
    if (!keepalive_) return;
    // Leaves nothing registered in the shared prefix, whatever failed.
    wine({exe_, "service", "uninstall", "--service-name", service_});
    keepalive_->close_stdin();
    keepalive_->wait(10s);
  }

  RunResult wine(std::vector<std::string> args, Millis timeout = 90s) {
    args.insert(args.begin(), wine_bin());
    return run(args, {.timeout = timeout, .env = env_});
  }

  std::string device_status(Relay& relay, const std::string& name) {
    auto device = find_by(relay.devices(), "name", name);
    return device.is_null() ? "" : device.value("status", "");
  }

  bool wait_status(Relay& relay, const std::string& name, const std::string& status,
                   Millis timeout) {
    return wait_until([&] { return device_status(relay, name) == status; }, timeout);
  }

  TempDir tmp_;
  std::string exe_;
  fs::path prefix_;
  std::string service_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Process> keepalive_;
};

TEST_F(WindowsService, InstallStartStopUninstall) {
  Relay relay(tmp_ / "relay");
  auto token = relay.admin({"enroll", "create", "--name", "win-svc"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  token.out.erase(token.out.find_last_not_of("\r\n ") + 1);
  const std::string data_dir = "C:\\ProgramData\\" + service_;

  auto start = Clock::now();
  auto install =
      wine({exe_, "service", "install", "--relay", relay.address(), "--enroll-token", token.out,
            "--name", "win-svc", "--data-dir", data_dir, "--service-name", service_});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  EXPECT_NE(install.out.find("Enrolled as device win-svc"), std::string::npos) << install.out;
  std::cout << "[ timing   ] service install (enrollment included): " << seconds_since(start)
            << " s\n";
  EXPECT_EQ(device_status(relay, "win-svc"), "offline");  // enrolled, then disconnected

  // Registered as the issue asks: auto start, LocalSystem, `run` without the spent token.
  auto status = wine({exe_, "service", "status", "--service-name", service_});
  EXPECT_EQ(status.exit_code, 3) << status.out << status.err;
  EXPECT_NE(status.out.find("start: auto, account: LocalSystem"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("device-agent.exe\" run --relay " + relay.address()), std::string::npos)
      << status.out;
  EXPECT_EQ(status.out.find(token.out), std::string::npos) << status.out;

  start = Clock::now();
  auto sc_start = wine({"sc", "start", service_});
  ASSERT_EQ(sc_start.exit_code, 0) << sc_start.out << sc_start.err;
  ASSERT_TRUE(wait_status(relay, "win-svc", "online", 30s)) << relay.devices().dump(2);
  std::cout << "[ timing   ] sc start to online: " << seconds_since(start) << " s\n";
  status = wine({exe_, "service", "status", "--service-name", service_});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find(": running (pid "), std::string::npos) << status.out;

  start = Clock::now();
  auto sc_stop = wine({"sc", "stop", service_});
  ASSERT_EQ(sc_stop.exit_code, 0) << sc_stop.out << sc_stop.err;
  // The agent says goodbye, so the relay marks it offline at once, not after a missed check.
  ASSERT_TRUE(wait_status(relay, "win-svc", "offline", 10s)) << relay.devices().dump(2);
  std::cout << "[ timing   ] sc stop to offline: " << seconds_since(start) << " s\n";
  ASSERT_TRUE(wait_until(
      [&] {
        return wine({exe_, "service", "status", "--service-name", service_}).exit_code == 3;
      },
      10s));

  // net start, and the agent's own stop verb, which waits until the service has stopped.
  auto net_start = wine({"net", "start", service_});
  ASSERT_EQ(net_start.exit_code, 0) << net_start.out << net_start.err;
  ASSERT_TRUE(wait_status(relay, "win-svc", "online", 30s)) << relay.devices().dump(2);
  start = Clock::now();
  auto stop = wine({exe_, "service", "stop", "--service-name", service_});
  ASSERT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  std::cout << "[ timing   ] service stop: " << seconds_since(start) << " s\n";
  EXPECT_TRUE(wait_status(relay, "win-svc", "offline", 10s)) << relay.devices().dump(2);

  // The service logged to its data dir, not to a console nobody sees.
  const fs::path log = prefix_ / "drive_c" / "ProgramData" / service_ / "agent.log";
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("started by the service control manager"), std::string::npos)
      << log << ":\n"
      << text.str();
  EXPECT_NE(text.str().find("as device win-svc"), std::string::npos) << text.str();

  auto uninstall = wine({exe_, "service", "uninstall", "--service-name", service_});
  ASSERT_EQ(uninstall.exit_code, 0) << uninstall.out << uninstall.err;
  status = wine({exe_, "service", "status", "--service-name", service_});
  EXPECT_EQ(status.exit_code, 4) << status.out << status.err;
  EXPECT_NE(wine({"sc", "query", service_}).exit_code, 0);
}

TEST_F(WindowsService, InstallRefusesABadTokenAndRegistersNothing) {
  Relay relay(tmp_ / "relay");
  auto install = wine({exe_, "service", "install", "--relay", relay.address(), "--enroll-token",
                       "sbe_" + std::string(32, 'a'), "--data-dir", "C:\\ProgramData\\" + service_,
                       "--service-name", service_});
  EXPECT_NE(install.exit_code, 0) << install.out << install.err;
  EXPECT_NE(install.err.find("the service was not installed"), std::string::npos) << install.err;
  auto status = wine({exe_, "service", "status", "--service-name", service_});
  EXPECT_EQ(status.exit_code, 4) << status.out << status.err;
}

// A device moved to another relay: `service install` with a token of the new relay enrolls it
// there (the data dir's record named the old relay), and a token the new relay refuses leaves
// nothing registered, even though the data dir holds an enrollment.
TEST_F(WindowsService, InstallForAnotherRelayEnrollsWithItOrRegistersNothing) {
  const std::string data_dir = "C:\\ProgramData\\" + service_;
  auto install_with = [&](Relay& relay, const std::string& token) {
    return wine({exe_, "service", "install", "--relay", relay.address(), "--enroll-token", token,
                 "--data-dir", data_dir, "--service-name", service_});
  };
  auto token_of = [](Relay& relay, const std::string& name) {
    auto token = relay.admin({"enroll", "create", "--name", name});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    return trim_end(token.out);
  };
  Relay first(tmp_ / "first");
  auto install = install_with(first, token_of(first, "win-old"));
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  ASSERT_EQ(wine({exe_, "service", "uninstall", "--service-name", service_}).exit_code, 0);

  Relay refusing(tmp_ / "refusing");
  install = install_with(refusing, "sbe_" + std::string(32, 'a'));
  EXPECT_NE(install.exit_code, 0) << install.out << install.err;
  EXPECT_NE(install.err.find("the service was not installed"), std::string::npos) << install.err;
  EXPECT_EQ(wine({exe_, "service", "status", "--service-name", service_}).exit_code, 4);

  // Without a token the device is registered as it is: the other relay may know its key (relays
  // sharing a database do), and the install says that it must.
  install = wine({exe_, "service", "install", "--relay", refusing.address(), "--data-dir", data_dir,
                  "--service-name", service_});
  EXPECT_EQ(install.exit_code, 0) << install.out << install.err;
  EXPECT_NE(install.out.find("no token given, so relay " + refusing.address() +
                             " must know this device already"),
            std::string::npos)
      << install.out;
  ASSERT_EQ(wine({exe_, "service", "uninstall", "--service-name", service_}).exit_code, 0);

  Relay second(tmp_ / "second");
  install = install_with(second, token_of(second, "win-new"));
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  EXPECT_NE(install.out.find("Enrolled as device win-old with relay " + first.address()),
            std::string::npos)
      << install.out;
  EXPECT_NE(install.out.find("Enrolled as device win-new with relay " + second.address()),
            std::string::npos)
      << install.out;
  EXPECT_FALSE(find_by(second.devices(), "name", "win-new").is_null()) << second.devices().dump(2);
  auto status = wine({exe_, "service", "status", "--service-name", service_});
  EXPECT_NE(status.out.find("run --relay " + second.address()), std::string::npos) << status.out;
}

// The MSI as an admin's deployment runs it (GPO, Intune), through its life: `msiexec /i ...
// RELAY= TOKEN= NAME=` installs the exe under Program Files, enrolls the device, registers the
// service and starts it; a newer package with RELAY only upgrades it in place (the device keeps
// its key and name, no token is spent, one product is listed); the older package then refuses
// to downgrade; `msiexec /x` stops and removes the service and the exe.
TEST_F(WindowsService, MsiInstallsUpgradesRefusesADowngradeAndRemoves) {
  const std::string msi = env_or_empty("SB_WINDOWS_MSI");
  const std::string next = env_or_empty("SB_WINDOWS_MSI_NEXT");
  if (msi.empty() || next.empty())
    GTEST_SKIP() << "SB_WINDOWS_MSI / SB_WINDOWS_MSI_NEXT not set (scripts/test-windows.sh)";
  service_ = "switchboard-agent";  // what the MSI registers; TearDown removes it if left over
  fs::remove_all(prefix_ / "drive_c" / "ProgramData" / "switchboard-agent");  // the MSI's data dir
  Relay relay(tmp_ / "relay");
  auto token = relay.admin({"enroll", "create", "--name", "win-msi"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  token.out.erase(token.out.find_last_not_of("\r\n ") + 1);
  const fs::path installed =
      prefix_ / "drive_c" / "Program Files" / "switchboard-agent" / "device-agent.exe";
  auto fingerprint = [&] {
    return find_by(relay.devices(), "name", "win-msi").value("fingerprint", "");
  };

  auto start = Clock::now();
  auto install = wine({"msiexec", "/i", wine_path(msi), "/qn", "RELAY=" + relay.address(),
                       "TOKEN=" + token.out, "NAME=win-msi"});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  ASSERT_TRUE(wait_status(relay, "win-msi", "online", 30s)) << relay.devices().dump(2);
  std::cout << "[ timing   ] msiexec /i to online: " << seconds_since(start) << " s\n";
  ASSERT_TRUE(fs::exists(installed)) << installed;
  auto status = wine({installed.string(), "service", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;  // started by the install
  EXPECT_EQ(status.out.find(token.out), std::string::npos) << status.out;
  const std::string key = fingerprint();

  // The upgrade, with the relay's address only: the older product and its service go, the
  // newer ones come, and the device is back online under its name and key.
  start = Clock::now();
  auto upgrade = wine({"msiexec", "/i", wine_path(next), "/qn", "RELAY=" + relay.address()});
  ASSERT_EQ(upgrade.exit_code, 0) << upgrade.out << upgrade.err;
  EXPECT_NE(upgrade.out.find("Already enrolled as device win-msi"), std::string::npos)
      << upgrade.out;
  ASSERT_TRUE(wait_until(
      [&] {
        return wine({installed.string(), "service", "status"}).exit_code == 0;
      },
      30s));
  ASSERT_TRUE(wait_status(relay, "win-msi", "online", 30s)) << relay.devices().dump(2);
  std::cout << "[ timing   ] upgrade to online: " << seconds_since(start) << " s\n";
  EXPECT_EQ(fingerprint(), key);
  EXPECT_EQ(relay.devices().size(), 1u) << relay.devices().dump(2);
  auto products =
      wine({"reg", "query", "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall", "/s"});
  std::size_t listed = 0;
  std::istringstream lines(products.out);
  for (std::string line; std::getline(lines, line);)
    if (line.find("DisplayName") != std::string::npos &&
        line.find("switchboard device agent") != std::string::npos)
      ++listed;
  EXPECT_EQ(listed, 1u) << products.out;  // one entry in Programs and Features, not two

  // The older package refuses to replace the newer one, and leaves it running.
  auto downgrade = wine({"msiexec", "/i", wine_path(msi), "/qn", "RELAY=" + relay.address()});
  EXPECT_NE(downgrade.exit_code, 0) << downgrade.out << downgrade.err;
  EXPECT_EQ(wine({installed.string(), "service", "status"}).exit_code, 0);

  auto remove = wine({"msiexec", "/x", wine_path(next), "/qn"});
  ASSERT_EQ(remove.exit_code, 0) << remove.out << remove.err;
  EXPECT_TRUE(wait_status(relay, "win-msi", "offline", 10s)) << relay.devices().dump(2);
  EXPECT_FALSE(fs::exists(installed));
  EXPECT_NE(wine({"sc", "query", service_}).exit_code, 0);  // the service is gone with it
}

}  // namespace
}  // namespace sb::e2e
