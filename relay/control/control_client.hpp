// The one client of the relay's control socket (control_server.hpp): the admin verbs and the
// tests use it. One request line out, one reply line back, bounded in size and time.
#pragma once
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sb::relay {

class ControlClient {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{15000};

  explicit ControlClient(std::filesystem::path socket_path,
                         std::chrono::milliseconds timeout = kDefaultTimeout)
      : path_(std::move(socket_path)), timeout_(timeout) {}

  // One request. nullopt when no relay listens there (no socket file, or a stale one); throws
  // std::runtime_error with a clear message on any other failure.
  std::optional<nlohmann::json> ask(const nlohmann::json& request) const;
  // Sends `line` as it is (it should end in '\n') and returns the reply parsed; for checking
  // how the server treats malformed requests. Same nullopt / throw rules as ask().
  std::optional<nlohmann::json> ask_raw(const std::string& line) const;

 private:
  std::filesystem::path path_;
  std::chrono::milliseconds timeout_;
};

}  // namespace sb::relay
