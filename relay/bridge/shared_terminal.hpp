// One terminal on the device shown to every operator in it. The device sends each byte once:
// the relay reads it once and writes it to every member. Read-write members' keystrokes go to
// the device; observers' are read and dropped. The terminal's size is the smallest of the
// read-write members' windows. A late joiner first gets the recent output (a bounded replay).
//
// Backpressure: output is read from the device only while every member has room (its pending
// bytes under a cap), so a slow member slows the terminal instead of growing memory.
#pragma once
#include <libssh/callbacks.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::relay {

class ServerConn;
class Recording;

// What one member moved, counted at the relay: keystrokes forwarded to the device (in) and
// output delivered to the member (out).
// What one member's audit row reports when it leaves (written by the shared terminal).
struct MemberBytes {
  std::uint64_t in = 0;
  std::uint64_t out = 0;
  std::optional<int> exit_status;  // set when the device's shell ended while it was a member
};

class SharedTerminal {
 public:
  static constexpr std::size_t kReplayBytes = 64 * 1024;
  static constexpr std::size_t kMemberPendingCap = 256 * 1024;

  explicit SharedTerminal(ServerConn& device_conn);
  ~SharedTerminal();
  SharedTerminal(const SharedTerminal&) = delete;
  SharedTerminal& operator=(const SharedTerminal&) = delete;

  void join(ServerConn& op_conn, ssh_channel op, bool read_write, int cols, int rows,
            const std::string& term, std::shared_ptr<MemberBytes> bytes = nullptr);
  // The member's channel is going away (its owner frees it after this).
  void leave(ssh_channel op);
  bool has(ssh_channel op) const;
  void resize(ssh_channel op, int cols, int rows);
  void pump();
  void device_gone(const std::string& why);
  bool empty() const { return members_.empty(); }
  bool finished() const { return finished_; }
  std::size_t members() const { return members_.size(); }

 private:
  struct Member {
    ServerConn* conn;
    ssh_channel channel;
    bool read_write;
    int cols, rows;
    std::string pending;  // output not yet accepted by this member's window
    std::shared_ptr<MemberBytes> bytes;
  };
  static void on_exit_status(ssh_session, ssh_channel, int status, void* userdata);
  void step_setup();
  void read_device_output();
  void flush_member(Member& m);
  void forward_input(Member& m);
  void apply_size();
  std::optional<std::pair<int, int>> smallest_size() const;
  void end_all(const std::string& why);
  void remember(std::string_view data);
  // What a late joiner sees first: the last kReplayBytes of output.
  std::string recent_screen() const;
  void after_libssh_calls();

  enum class State { kOpening, kPty, kShell, kRunning, kEnded };
  ServerConn& device_conn_;
  ssh_channel dev_ = nullptr;
  ssh_channel_callbacks_struct dev_callbacks_{};
  State state_ = State::kOpening;
  std::string term_ = "xterm";
  std::vector<Member> members_;
  std::string replay_;  // the last kReplayBytes to 2 x kReplayBytes of output
  std::string input_pending_;
  std::optional<std::pair<int, int>> size_sent_;
  std::optional<int> exit_status_;
  bool finished_ = false;
  std::unique_ptr<Recording> recording_;  // null when the relay does not record
};

}  // namespace sb::relay
