// The Linux collector's parsers (os-release, /proc/cpuinfo, /proc/meminfo, /proc/uptime,
// /proc/self/mounts) on any text: what another kernel, distribution or container shows must
// read as facts or as unknown, and the JSON built from them must pass the relay's check.
#include "common/system_info_limits.hpp"
#include "device-agent/posix/proc_text.hpp"
#include "device-agent/system_info_json.hpp"
#include "relay/device/device_messages.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace posix = sb::agent::posix;
  const std::string text(sb::fuzz::as_text(data, size));
  sb::agent::SystemInfo facts;
  auto release = posix::parse_os_release(text);
  facts.os = release.pretty_name;
  facts.os_version = release.version_id;
  auto cpu = posix::parse_cpuinfo(text);
  facts.cpu_model = cpu.model;
  facts.cpu_threads = cpu.threads;
  facts.cpu_cores = cpu.cores;
  auto memory = posix::parse_meminfo(text);
  if (memory.available_bytes > memory.total_bytes) __builtin_trap();
  facts.memory_total_bytes = memory.total_bytes;
  facts.memory_available_bytes = memory.available_bytes;
  facts.uptime_seconds = posix::parse_uptime(text).value_or(0);
  auto mounts = posix::parse_mounts(text);
  auto disks = posix::disk_mounts(mounts);
  if (disks.size() > mounts.size()) __builtin_trap();
  for (const auto& m : disks) {
    facts.disks.push_back({m.mount, m.fs, size, size / 2});
    facts.users.push_back({m.source, m.fs, text.substr(0, 64)});
  }
  facts.hostname = text;
  auto info = sb::agent::system_info_json(facts, "0.1.0");
  auto update = sb::relay::parse_info_update(nlohmann::json{{"type", "info"}, {"info", info}});
  if (!update.info) __builtin_trap();
  return 0;
}
