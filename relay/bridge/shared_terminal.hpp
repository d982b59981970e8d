// One terminal on the device shown to every operator in it. The device sends each byte once:
// the relay reads it once and writes it to every member. Read-write members' keystrokes go to
// the device; observers' are read and dropped. The terminal's size is the smallest of the
// read-write members' windows. A late joiner first gets the recent output (a bounded replay).
//
// Backpressure: output is read from the device only while every member has room (its pending
// bytes under a cap), so a slow member slows the terminal instead of growing memory.
//
// Members are TerminalMembers (terminal_member.hpp): the terminal fans out to them and reads
// their keystrokes without knowing they are SSH channels.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/out_buffer.hpp"
#include "common/ssh/channel.hpp"
#include "relay/audit/recorder.hpp"
#include "relay/bridge/screen_replay.hpp"
#include "relay/bridge/terminal_member.hpp"
#include "relay/router/channel_progress.hpp"

namespace sb::relay {

class PeerConn;

// What one member moved, counted at the relay: keystrokes forwarded to the device (in) and
// output delivered to the member (out).
// What one member's audit row reports when it leaves (written by the shared terminal).
struct MemberBytes : LiveBytes {
  std::optional<int> exit_status;  // set when the device's shell ended while it was a member
};

class SharedTerminal {
 public:
  static constexpr std::size_t kReplayBytes = ScreenReplay::kBytes;
  static constexpr std::size_t kMemberPendingCap = 256 * 1024;

  // recording: what the device's side of a recording says (session, device); null recorder:
  // nothing is recorded.
  SharedTerminal(PeerConn& device_conn, Recorder* recorder, RecordingInfo recording);
  ~SharedTerminal();
  SharedTerminal(const SharedTerminal&) = delete;
  SharedTerminal& operator=(const SharedTerminal&) = delete;

  using MemberId = std::uint64_t;
  MemberId join(std::unique_ptr<TerminalMember> member, bool read_write, int cols, int rows,
                const std::string& term, std::shared_ptr<MemberBytes> bytes = nullptr);
  // The member is going away (its owner frees what it wraps after this).
  void leave(MemberId id);
  bool has(MemberId id) const;
  void resize(MemberId id, int cols, int rows);
  void pump();
  void device_gone(const std::string& why);
  bool empty() const { return members_.empty(); }
  bool finished() const { return finished_; }
  std::size_t members() const { return members_.size(); }
  // What a late joiner sees first: the last kReplayBytes of output.
  std::string recent_screen() const { return replay_.recent(); }
  // Output shown before this terminal's own (the screen of a session resumed after a blip);
  // call before the first member joins.
  void seed_screen(std::string_view screen) { replay_.append(screen); }

 private:
  struct Member {
    MemberId id;
    std::unique_ptr<TerminalMember> sink;
    bool read_write;
    int cols, rows;
    OutBuffer pending;  // output not yet accepted by this member's window
    std::shared_ptr<MemberBytes> bytes;
  };
  void step_setup();
  void read_device_output();
  void flush_member(Member& m);
  void forward_input(Member& m);
  void apply_size();
  std::optional<std::pair<int, int>> smallest_size() const;
  void end_all(const std::string& why);
  void start_recording();
  void after_libssh_calls();

  enum class State { kOpening, kPty, kShell, kRunning, kEnded };
  PeerConn& device_conn_;
  Recorder* recorder_;
  RecordingInfo recording_info_;
  MemberId next_member_id_ = 1;
  ssh::Channel dev_;
  State state_ = State::kOpening;
  std::string term_ = "xterm";
  std::vector<Member> members_;
  ScreenReplay replay_;
  OutBuffer input_pending_;  // keystrokes the device's window did not take yet
  std::optional<std::pair<int, int>> size_sent_;
  std::optional<int> exit_status_;
  bool finished_ = false;
  std::unique_ptr<Recording> recording_;  // null when the relay does not record
};

}  // namespace sb::relay
