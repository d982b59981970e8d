// What a running agent tells `device-agent status`: a small JSON file in its data dir,
// rewritten atomically on every change. Also the record that this device is enrolled.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace sb::agent {

class StatusFile {
 public:
  explicit StatusFile(std::filesystem::path file) : file_(std::move(file)) {}
  // Merges the fields into the current status (null removes a field) and rewrites the file.
  void update(const nlohmann::json& fields);

 private:
  std::filesystem::path file_;
  nlohmann::json current_ = nlohmann::json::object();
};

// The enrolled device name recorded after the first successful enrollment ("" if none).
std::string read_enrollment(const std::filesystem::path& data_dir);
void write_enrollment(const std::filesystem::path& data_dir, const std::string& device,
                      const std::string& relay);

}  // namespace sb::agent
