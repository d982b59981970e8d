// Runs ssh as a child process for verbs that must read what ssh said before explaining it
// (e.g. a refused key): stdin and stdout are inherited, stderr is captured, bounded.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace sb::op {

struct ChildResult {
  int exit_status = 127;    // the child's exit code; 128+signal if killed; 127 if not started
  std::string err;          // its stderr (the first max_err bytes)
  std::string start_error;  // why it could not be started, or ""
};

ChildResult run_capturing_stderr(const std::vector<std::string>& argv,
                                 std::size_t max_err = 64 * 1024);

}  // namespace sb::op
