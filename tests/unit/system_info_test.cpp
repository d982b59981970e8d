// The agent's system info: the Linux parsers fed the text other machines show, the JSON they
// become (bounded, stable order) and the rule that decides when a new reading is sent.
#include <gtest/gtest.h>

#include "common/names.hpp"
#include "common/system_info_limits.hpp"
#include "device-agent/posix/proc_text.hpp"
#include "device-agent/system_info_json.hpp"
#include "relay/device/device_messages.hpp"
#include "relay/device/system_info_check.hpp"

namespace sb::agent {
namespace {

using nlohmann::json;

TEST(OsRelease, PrettyNameVersionAndQuoting) {
  auto debian = posix::parse_os_release(
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
      "VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nID=debian\n");
  EXPECT_EQ(debian.pretty_name, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(debian.version_id, "12");
  // Single quotes, escapes, comments, no PRETTY_NAME (NAME and VERSION instead).
  auto other = posix::parse_os_release(
      "# comment\nNAME='Some \"OS\"'\nVERSION=\"1 \\\"x\\\"\"\nVERSION_ID=1.2\n\ngarbage\n");
  EXPECT_EQ(other.pretty_name, "Some \"OS\" 1 \"x\"");
  EXPECT_EQ(other.version_id, "1.2");
  EXPECT_EQ(posix::parse_os_release("").pretty_name, "");
}

TEST(CpuInfo, X86ModelThreadsAndCores) {
  // Two threads on each of two cores of one socket.
  std::string text;
  for (int cpu = 0; cpu < 4; ++cpu)
    text += "processor\t: " + std::to_string(cpu) +
            "\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) i5-8250U CPU @ "
            "1.60GHz\nphysical id\t: 0\ncore id\t\t: " +
            std::to_string(cpu / 2) + "\ncpu cores\t: 2\n\n";
  auto cpu = posix::parse_cpuinfo(text);
  EXPECT_EQ(cpu.model, "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz");
  EXPECT_EQ(cpu.threads, 4u);
  EXPECT_EQ(cpu.cores, 2u);
}

TEST(CpuInfo, ArmAndPowerModels) {
  // Raspberry Pi 4 (aarch64): no "model name"; the board's Model is the best there is.
  auto pi = posix::parse_cpuinfo(
      "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd08\n\nprocessor\t: 1\n\n"
      "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n");
  EXPECT_EQ(pi.model, "Raspberry Pi 4 Model B Rev 1.4");
  EXPECT_EQ(pi.threads, 2u);
  EXPECT_EQ(pi.cores, 0u);  // unknown
  // 32-bit ARM: "Processor" (capital P) is the model, not a CPU entry.
  auto arm = posix::parse_cpuinfo("Processor\t: ARMv7 Processor rev 4 (v7l)\nprocessor\t: 0\n");
  EXPECT_EQ(arm.model, "ARMv7 Processor rev 4 (v7l)");
  EXPECT_EQ(arm.threads, 1u);
  EXPECT_EQ(posix::parse_cpuinfo("processor : 0\ncpu : POWER9 (raw), altivec supported\n").model,
            "POWER9 (raw), altivec supported");
  EXPECT_EQ(posix::parse_cpuinfo(":::\n\n\nprocessor: x\n").threads, 0u);
}

TEST(MemInfo, TotalAndAvailable) {
  auto mem = posix::parse_meminfo(
      "MemTotal:       16310740 kB\nMemFree:         1000000 kB\nMemAvailable:   "
      "12000000 kB\nBuffers:  10 kB\n");
  EXPECT_EQ(mem.total_bytes, 16310740ull * 1024);
  EXPECT_EQ(mem.available_bytes, 12000000ull * 1024);
  // Before Linux 3.14 there is no MemAvailable: free + buffers + page cache.
  auto old =
      posix::parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 30 kB\n");
  EXPECT_EQ(old.available_bytes, 150u * 1024);
  // Overflowing, unitless and malformed values are ignored.
  auto bad = posix::parse_meminfo("MemTotal: 99999999999999999999 kB\nMemAvailable: 5\n");
  EXPECT_EQ(bad.total_bytes, 0u);
  EXPECT_EQ(bad.available_bytes, 0u);
}

TEST(Uptime, WholeSeconds) {
  EXPECT_EQ(posix::parse_uptime("350735.47 234388.90\n"), 350735u);
  EXPECT_EQ(posix::parse_uptime("12\n"), 12u);
  EXPECT_FALSE(posix::parse_uptime(""));
  EXPECT_FALSE(posix::parse_uptime("-5 1"));
}

constexpr const char* kMounts =
    "sysfs /sys sysfs rw,nosuid 0 0\n"
    "proc /proc proc rw 0 0\n"
    "/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n"
    "tmpfs /run tmpfs rw 0 0\n"
    "/dev/nvme0n1p1 /boot/efi vfat rw 0 0\n"
    "/dev/nvme0n1p2 /var/lib/docker/btrfs ext4 rw 0 0\n"  // a bind mount of /
    "/dev/loop3 /snap/core22/1033 squashfs ro 0 0\n"
    "server:/export /mnt/nfs nfs4 rw 0 0\n"
    "alice@host: /home/alice/remote fuse.sshfs rw 0 0\n"
    "/dev/sdb1 /media/alice/USB\\040STICK fuseblk rw 0 0\n"
    "overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0\n"
    "broken line\n";

TEST(Mounts, ParsedWithEscapes) {
  auto mounts = posix::parse_mounts(kMounts);
  ASSERT_EQ(mounts.size(), 11u);  // the broken line is skipped
  EXPECT_EQ(mounts[2].source, "/dev/nvme0n1p2");
  EXPECT_EQ(mounts[2].mount, "/");
  EXPECT_EQ(mounts[2].fs, "ext4");
  EXPECT_EQ(mounts[9].mount, "/media/alice/USB STICK");
}

TEST(Mounts, OnlyRealDisksOncePerSource) {
  std::vector<std::string> kept;
  for (const auto& m : posix::disk_mounts(posix::parse_mounts(kMounts))) kept.push_back(m.mount);
  EXPECT_EQ(kept, (std::vector<std::string>{"/", "/boot/efi", "/media/alice/USB STICK"}));
  // A container: its root is an overlay, and that is the disk it has.
  auto container = posix::disk_mounts(posix::parse_mounts("overlay / overlay rw 0 0\n"));
  ASSERT_EQ(container.size(), 1u);
  EXPECT_EQ(container[0].mount, "/");
}

SystemInfo sample() {
  SystemInfo f;
  f.hostname = "lap-7";
  f.os = "Debian GNU/Linux 12 (bookworm)";
  f.os_version = "12";
  f.kernel = "Linux 6.1.0-18-amd64";
  f.arch = "x86_64";
  f.cpu_model = "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz";
  f.cpu_cores = 4;
  f.cpu_threads = 8;
  f.memory_total_bytes = 16ull << 30;
  f.memory_available_bytes = 8ull << 30;
  f.uptime_seconds = 3600;
  f.disks = {{"/home", "ext4", 400ull << 30, 100ull << 30},
             {"/", "ext4", 100ull << 30, 40ull << 30}};
  f.addresses = {{"wlan0", "192.168.1.20", 24}, {"eth0", "10.0.0.5", 8}};
  f.users = {{"alice", "tty2", ""}, {"bob", "pts/0", "10.0.0.9"}};
  return f;
}

TEST(SystemInfoJson, MembersSortedAndAcceptedByTheRelay) {
  json info = system_info_json(sample(), "0.1.0");
  EXPECT_EQ(info["hostname"], "lap-7");
  EXPECT_EQ(info["agent_version"], "0.1.0");
  EXPECT_EQ(info["cpu"]["threads"], 8);
  EXPECT_EQ(info["memory"]["total_bytes"], 16ull << 30);
  EXPECT_EQ(info["disks"][0]["mount"], "/");  // sorted: two readings compare equal
  EXPECT_EQ(info["addresses"][0]["interface"], "eth0");
  EXPECT_EQ(info["users"][1]["from"], "10.0.0.9");
  std::string error;
  auto checked = relay::check_system_info(info, &error);
  ASSERT_TRUE(checked) << error;
  EXPECT_EQ((*checked)["disks"], info["disks"]);
  auto update = relay::parse_info_update(json{{"type", "info"}, {"info", info}});
  ASSERT_TRUE(update.info) << update.error;
  EXPECT_EQ(*update.info, info);
}

TEST(SystemInfoJson, BoundedWhateverTheMachineHas) {
  SystemInfo f = sample();
  f.hostname = std::string(1000, 'h') + "\x1b[2J";
  f.cpu_model = "bad \xff utf-8 \xc2\x9b csi";
  for (int i = 0; i < 200; ++i) {
    const std::string n = std::to_string(i);
    f.disks.push_back({"/mnt/" + std::string(300, 'd') + n, "ext4", 1, 2});  // free > size
    f.addresses.push_back({"veth" + n, "fd00::" + n, 200});
    f.users.push_back({std::string(150, 'u') + n, "pts/" + n, std::string(150, 'f')});
  }
  json info = system_info_json(f, "0.1.0");
  EXPECT_LE(info.dump().size(), sysinfo::kMaxTotalBytes);
  EXPECT_EQ(info["hostname"].get<std::string>(), std::string(sysinfo::kMaxText, 'h'));
  EXPECT_EQ(info["cpu"]["model"], "bad ? utf-8  csi");
  EXPECT_LE(info["disks"].size(), sysinfo::kMaxDisks);
  EXPECT_GE(info["disks"].size(), 1u);
  for (const auto& d : info["disks"]) EXPECT_LE(d["free_bytes"], d["size_bytes"]);
  std::string error;
  EXPECT_TRUE(relay::check_system_info(info, &error)) << error;
  EXPECT_TRUE(relay::parse_hello(json{{"type", "hello"}, {"kind", "adhoc"}, {"info", info}})
                  .hello->info_error.empty());
}

TEST(CleanText, DropsControlsKeepsUtf8) {
  EXPECT_EQ(clean_text("caf\xc3\xa9 \xe2\x82\xac", 100), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(clean_text("a\tb\x7f"
                       "c",
                       100),
            "abc");
  EXPECT_EQ(clean_text("\xed\xa0\x80x", 100), "???x");  // a surrogate: invalid in UTF-8
  EXPECT_EQ(clean_text("ab\xc3\xa9", 3), "ab");         // never half a character
  EXPECT_TRUE(valid_label(clean_text("\x1b]0;title\x07\xc2\x9b", 100)));
}

TEST(InfoChanged, NoiseIsNotAChange) {
  SystemInfo f = sample();
  const json sent = system_info_json(f, "0.1.0");
  EXPECT_FALSE(info_changed(sent, sent));
  f.uptime_seconds += 86400;                             // always changes
  f.memory_available_bytes -= 3ull << 30;                // < 1/5 of 16 GiB
  f.disks[1].free_bytes -= 4ull << 30;                   // / : < 1/20 of 100 GiB
  std::reverse(f.addresses.begin(), f.addresses.end());  // the order the OS lists them in
  EXPECT_FALSE(info_changed(sent, system_info_json(f, "0.1.0")));
}

TEST(InfoChanged, RealChangesAre) {
  const json sent = system_info_json(sample(), "0.1.0");
  const auto changed = [&](auto edit) {
    SystemInfo f = sample();
    edit(f);
    return info_changed(sent, system_info_json(f, "0.1.0"));
  };
  EXPECT_TRUE(changed([](SystemInfo& f) { f.memory_available_bytes = 1ull << 30; }));
  EXPECT_TRUE(changed([](SystemInfo& f) { f.disks[1].free_bytes -= 5ull << 30; }));  // 5 %
  EXPECT_TRUE(changed([](SystemInfo& f) { f.disks.pop_back(); }));
  EXPECT_TRUE(changed([](SystemInfo& f) { f.addresses[0].address = "192.168.1.21"; }));
  EXPECT_TRUE(changed([](SystemInfo& f) { f.users.push_back({"carol", "pts/1", ""}); }));
  EXPECT_TRUE(changed([](SystemInfo& f) { f.kernel = "Linux 6.1.0-20-amd64"; }));
  EXPECT_TRUE(changed([](SystemInfo& f) { f.hostname = "lap-8"; }));
  EXPECT_TRUE(info_changed(json(), system_info_json(sample(), "0.1.0")));
}

}  // namespace
}  // namespace sb::agent
