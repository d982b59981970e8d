#include "device-agent/status_file.hpp"

#include <spdlog/spdlog.h>

#include <iostream>

#include "common/json_field.hpp"
#include "common/util.hpp"
#include "device-agent/agent.hpp"
#include "device-agent/platform/process.hpp"

namespace sb::agent {

namespace {
constexpr std::size_t kMaxStateFile = 64 * 1024;

nlohmann::json read_json(const std::filesystem::path& file) {
  try {
    auto parsed = nlohmann::json::parse(read_file_bounded(file, kMaxStateFile), nullptr, false);
    return parsed.is_object() ? parsed : nlohmann::json::object();
  } catch (const std::exception&) {
    return nlohmann::json::object();
  }
}

}  // namespace

void StatusFile::update(const nlohmann::json& fields) {
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (it.value().is_null())
      current_.erase(it.key());
    else
      current_[it.key()] = it.value();
  }
  current_["pid"] = platform::current_process_id();
  current_["updated"] = now_iso8601();
  try {
    write_file_atomic(file_, current_.dump(2) + "\n", 0600);
  } catch (const std::exception& e) {
    spdlog::warn("cannot write status file: {}", e.what());
  }
}

Enrollment read_enrollment(const std::filesystem::path& data_dir) {
  const auto record = read_json(data_dir / "enrollment.json");
  return {string_field(record, "device"), string_field(record, "relay")};
}

void write_enrollment(const std::filesystem::path& data_dir, const Enrollment& enrollment) {
  nlohmann::json record{
      {"device", enrollment.device}, {"relay", enrollment.relay}, {"enrolled", now_iso8601()}};
  write_file_atomic(data_dir / "enrollment.json", record.dump(2) + "\n", 0600);
}

int print_status(const std::filesystem::path& data_dir, bool json) {
  auto status = read_json(data_dir / "status.json");
  bool running = platform::process_alive(status.value("pid", 0L));
  if (!running && !status.empty()) status["state"] = "not running";
  if (status.empty()) status = {{"state", "not running"}};
  const std::string state = status.value("state", "unknown");
  bool connected = running && state == "connected";
  if (json) {
    status["connected"] = connected;
    std::cout << status.dump(2) << '\n';
    return connected ? 0 : 3;
  }
  std::cout << "device-agent: " << state;
  if (status.contains("relay"))
    std::cout << " (relay " << status["relay"].get<std::string>() << ")";
  std::cout << '\n';
  if (connected) {
    std::cout << "Session ID: " << format_session_id(status.value("session_id", "")) << '\n';
    if (status.contains("device"))
      std::cout << "Device: " << status["device"].get<std::string>() << " (enrolled)\n";
    std::cout << "Since: " << status.value("since", "") << '\n';
  }
  if (!connected && status.contains("last_error"))
    std::cout << "Last error: " << status["last_error"].get<std::string>() << '\n';
  return connected ? 0 : 3;
}

}  // namespace sb::agent
