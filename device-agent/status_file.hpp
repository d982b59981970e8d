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

// What DATA_DIR/enrollment.json records once a relay enrolled this device.
struct Enrollment {
  std::string device;  // "" when not enrolled
  std::string relay;   // HOST:PORT the enrollment was made with ("" in a hand-made record)
  // Whether this device counts as enrolled with `relay_address`. A device moved to another relay
  // is not: a token given for that relay is used there (a relay that knows the key already, as
  // one sharing its database does, ignores the token).
  bool with(const std::string& relay_address) const {
    return !device.empty() && (relay.empty() || relay == relay_address);
  }
};

Enrollment read_enrollment(const std::filesystem::path& data_dir);
void write_enrollment(const std::filesystem::path& data_dir, const Enrollment& enrollment);

}  // namespace sb::agent
