#include "relay/admin/system_info_view.hpp"

#include <chrono>
#include <string>

#include "common/json_field.hpp"
#include "common/table.hpp"
#include "common/time.hpp"
#include "common/util.hpp"
#include "relay/admin/audit_view.hpp"

namespace sb::relay {

using nlohmann::json;

namespace {

std::optional<std::uint64_t> count_of(const json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0)
    return std::nullopt;
  return it->get<std::uint64_t>();
}

const json& member_of(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string join_with(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

std::string cpu_text(const json& cpu) {
  std::string text = string_field(cpu, "model");
  std::vector<std::string> counts;
  if (auto cores = count_of(cpu, "cores"); cores && *cores > 0)
    counts.push_back(std::to_string(*cores) + " cores");
  if (auto threads = count_of(cpu, "threads"); threads && *threads > 0)
    counts.push_back(std::to_string(*threads) + " threads");
  if (!counts.empty()) text += (text.empty() ? "" : ", ") + join_with(counts, ", ");
  return text;
}

std::string memory_text(const json& memory) {
  auto total = count_of(memory, "total_bytes");
  if (!total) return "";
  auto available = count_of(memory, "available_bytes");
  return (available ? format_bytes(*available) + " available of " : "") + format_bytes(*total);
}

// The boot time, from the uptime and when it was reported: it stays right while the info is
// not sent again (the agent does not send for the uptime alone).
std::string boot_text(const json& info) {
  auto uptime = count_of(info, "uptime_seconds");
  auto reported = parse_time(string_field(info, "reported_at"));
  if (!uptime) return "";
  const std::chrono::milliseconds up = std::chrono::seconds(*uptime);
  if (!reported) return "up " + format_elapsed(up);
  const Time boot = *reported - up;
  return local_time(boot) + " (up " + format_elapsed(utc_now() - boot) + " now, if still running)";
}

std::string users_text(const json& users) {
  if (!users.is_array()) return "";
  if (users.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& u : users) {
    std::string text = string_field(u, "name");
    if (auto terminal = string_field(u, "terminal"); !terminal.empty()) text += " on " + terminal;
    if (auto from = string_field(u, "from"); !from.empty()) text += " from " + from;
    parts.push_back(text);
  }
  return join_with(parts, ", ");
}

std::string addresses_text(const json& addresses) {
  if (!addresses.is_array()) return "";
  if (addresses.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& a : addresses) {
    std::string text = string_field(a, "interface") + " " + string_field(a, "address");
    if (auto prefix = count_of(a, "prefix")) text += "/" + std::to_string(*prefix);
    parts.push_back(text);
  }
  return join_with(parts, ", ");
}

void info_line(std::ostream& out, const char* label, const std::string& value) {
  if (!value.empty()) out << "  " << label << printable(value) << '\n';
}

}  // namespace

void print_system_info(const json& info, std::ostream& out, bool with_identity) {
  const json& cpu = member_of(info, "cpu");
  const json& memory = member_of(info, "memory");
  const json& disks = member_of(info, "disks");
  if (cpu.is_null() && memory.is_null() && disks.is_null()) return;
  const auto reported = parse_time(string_field(info, "reported_at"));
  out << "\nSystem" << (reported ? " (reported " + local_time(*reported) + ")" : "") << ":\n";
  if (with_identity) {
    info_line(out, "host:      ", string_field(info, "hostname"));
    info_line(out, "os:        ", string_field(info, "os"));
    info_line(out, "kernel:    ", string_field(info, "kernel"));
    info_line(out, "agent:     ", string_field(info, "agent_version"));
  }
  info_line(out, "release:   ", string_field(info, "os_version"));
  info_line(out, "arch:      ", string_field(info, "arch"));
  info_line(out, "cpu:       ", cpu_text(cpu));
  info_line(out, "memory:    ", memory_text(memory));
  info_line(out, "booted:    ", boot_text(info));
  info_line(out, "users:     ", users_text(member_of(info, "users")));
  info_line(out, "addresses: ", addresses_text(member_of(info, "addresses")));
  if (!disks.is_array()) return;
  out << "  disks:" << (disks.empty() ? "     none" : "") << '\n';
  if (disks.empty()) return;
  Table table({"    MOUNT", "FS", "SIZE", "FREE", "USED"});
  for (const auto& d : disks) {
    const auto size = count_of(d, "size_bytes").value_or(0);
    const auto free = count_of(d, "free_bytes").value_or(0);
    const auto used_percent = size > 0 && free <= size ? (size - free) * 100 / size : 0;
    table.add({"    " + string_field(d, "mount"), string_field(d, "fs"), format_bytes(size),
               format_bytes(free), std::to_string(used_percent) + " %"});
  }
  table.print(out);
}

}  // namespace sb::relay
