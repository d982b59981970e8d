// What `service install` registers: the `run` command line of the service (portable logic, so
// that it is unit-tested on every platform).
#pragma once
#include <string>
#include <vector>

namespace sb::agent::win {

// The arguments after `run` for the service: install's own flags without the enrollment token
// (spent by the enrollment install did) and without any --data-dir, then `--data-dir DATA_DIR`
// (absolute: a service starts in System32, where a relative path would lead elsewhere).
std::vector<std::string> service_run_args(const std::vector<std::string>& install_args,
                                          const std::string& data_dir);

// One argument quoted the way CommandLineToArgvW and the C runtime split it again.
std::string quote_windows_arg(const std::string& arg);
// program and args as one Windows command line, each quoted where needed.
std::string windows_command_line(const std::string& program, const std::vector<std::string>& args);

}  // namespace sb::agent::win
