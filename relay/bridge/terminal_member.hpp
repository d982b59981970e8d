// One member of a shared terminal as the terminal sees it: where its output goes and where its
// keystrokes come from. The terminal knows nothing else of its members; ChannelMember puts one
// on an operator's SSH channel.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace sb::relay {

class TerminalMember {
 public:
  virtual ~TerminalMember() = default;
  // Who it is, for the recording and the log.
  virtual const std::string& operator_name() const = 0;
  virtual const std::string& fingerprint() const = 0;
  // Takes what it can of `output` now (its window); returns how many bytes.
  virtual std::size_t write_output(std::string_view output) = 0;
  // Up to `max` keystrokes into buf; 0 when none are waiting.
  virtual std::size_t read_input(char* buf, std::size_t max) = 0;
  // The member left on its own (closed its channel). The end of its input (EOF) is not
  // leaving: it still watches.
  virtual bool left() const = 0;
  // The terminal ended: tells why (unless empty), passes the exit status on, closes.
  virtual void end(const std::string& why, int exit_status) = 0;
  // After a turn of reads and writes on it.
  virtual void after_io() = 0;
};

}  // namespace sb::relay
