#include "device-agent/windows/service_command.hpp"

#include <string_view>

namespace sb::agent::win {

namespace {

// Flags install consumes itself and `run` must not see again. Both take a value.
bool dropped_flag(std::string_view arg, bool* value_follows) {
  for (std::string_view flag : {"--enroll-token", "--data-dir"}) {
    if (arg == flag) {
      *value_follows = true;
      return true;
    }
    if (arg.size() > flag.size() && arg.starts_with(flag) && arg[flag.size()] == '=') {
      *value_follows = false;
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> service_run_args(const std::vector<std::string>& install_args,
                                          const std::string& data_dir) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < install_args.size(); ++i) {
    bool value_follows = false;
    if (dropped_flag(install_args[i], &value_follows)) {
      if (value_follows) ++i;
      continue;
    }
    out.push_back(install_args[i]);
  }
  out.push_back("--data-dir");
  out.push_back(data_dir);
  return out;
}

std::string quote_windows_arg(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string::npos) return arg;
  std::string out = "\"";
  std::size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    // Backslashes are literal unless a quote follows them: then each one is doubled.
    out.append(c == '"' ? backslashes * 2 + 1 : backslashes, '\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, '\\');  // they precede the closing quote
  out += '"';
  return out;
}

std::string windows_command_line(const std::string& program, const std::vector<std::string>& args) {
  // The program is always quoted: an unquoted path with spaces ("C:\Program Files\...") is the
  // classic hijackable service path.
  std::string line = "\"" + program + "\"";
  for (const auto& arg : args) line += " " + quote_windows_arg(arg);
  return line;
}

}  // namespace sb::agent::win
