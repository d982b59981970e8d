// An owning libssh channel, its callbacks, and typed forms of every channel operation the relay
// and the agent use. Nothing outside common/ssh sees ssh_channel or libssh's C callbacks.
//
// Teardown (LIBSSH_NOTES §5): a channel freed before the peer's CLOSE stays alive inside libssh
// and keeps firing its callbacks, so the callbacks are always removed before the channel is
// freed. That is why a Channel owns its callbacks guard: the guard can only be made through
// Channel::listen, and reset()/the destructor remove it before ssh_channel_free.
// Rules the type cannot enforce: never destroy a Channel inside one of its own callbacks (free
// it after the pump returns; freeing inside the close callback never sends our CLOSE), and call
// abandon() before the session itself is freed (ssh_disconnect frees every channel).
#pragma once
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/ssh/session.hpp"

namespace sb::ssh {

// What a non-blocking read, poll or write did.
struct Io {
  std::size_t bytes = 0;  // read or written; for poll: bytes waiting
  bool eof = false;       // read/poll: the peer sent EOF and nothing is left to read
  bool error = false;
};

struct PtyRequest {
  std::string_view term;
  int cols = 0, rows = 0, px = 0, py = 0;
};

struct WindowSize {
  int cols = 0, rows = 0, px = 0, py = 0;
};

// The events a channel may report. Only the functions that are set are given to libssh, so an
// unset request keeps libssh's default handling (a refusal, or the session's message callback).
// Requests return true to accept. Strings are empty where libssh passes none.
struct ChannelEvents {
  // Returns the bytes consumed; the rest stays in libssh's buffer and is not offered again until
  // the next data packet arrives (read it with Channel::read).
  std::function<std::size_t(std::string_view data, bool is_stderr)> data{};
  std::function<void()> eof{};
  std::function<void()> close{};
  std::function<void(std::string_view signal)> signal{};
  std::function<void(int status)> exit_status{};
  std::function<void(std::string_view signal, bool core_dumped)> exit_signal{};
  std::function<bool(const PtyRequest&)> pty{};
  std::function<bool()> shell{};
  std::function<bool(std::string_view command)> exec{};
  std::function<bool(std::string_view name, std::string_view value)> env{};
  std::function<bool(std::string_view name)> subsystem{};
  std::function<bool(const WindowSize&)> window_change{};
};

class Channel;

// Holds a channel's callbacks while they are installed. Only a Channel makes one, and the
// Channel destroys it (removing the callbacks) before it frees or forgets the libssh channel.
class ChannelCallbacks {
 public:
  ~ChannelCallbacks();
  ChannelCallbacks(const ChannelCallbacks&) = delete;
  ChannelCallbacks& operator=(const ChannelCallbacks&) = delete;
  bool installed() const { return installed_; }

 private:
  friend class Channel;
  ChannelCallbacks(ssh_channel channel, ChannelEvents events);
  ssh_channel channel_;
  ChannelEvents events_;
  ssh_channel_callbacks_struct table_{};
  bool installed_ = false;
};

class Channel {
 public:
  Channel() = default;
  // A new, unopened channel on the session; empty if libssh could not allocate one.
  static Channel create(SessionRef session);
  ~Channel() { reset(); }
  Channel(Channel&& other) noexcept;
  Channel& operator=(Channel&& other) noexcept;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  explicit operator bool() const { return raw_ != nullptr; }
  SessionRef session() const;

  // Installs these callbacks (replacing earlier ones); false if libssh refused them.
  bool listen(ChannelEvents events);
  // Removes the callbacks now (the channel stays open).
  void stop_listening() { callbacks_.reset(); }
  bool listening() const { return callbacks_ && callbacks_->installed(); }

  // Opening toward the peer. Non-blocking: kAgain until libssh has the answer; call again.
  Rc open_session();
  Rc open_forward(const std::string& host, int port, const std::string& origin_host,
                  int origin_port);
  Rc open_reverse_forward(const std::string& host, int port, const std::string& origin_host,
                          int origin_port);

  // Requests: one may be pending per channel (libssh 0.10 drops a second one): kAgain means
  // the reply has not come yet; call the same request again.
  Rc request_pty(const std::string& term, int cols, int rows);
  Rc request_shell();
  Rc request_exec(const std::string& command);
  Rc request_env(const std::string& name, const std::string& value);
  Rc request_subsystem(const std::string& name);
  Rc change_window(int cols, int rows);
  Rc send_signal(const std::string& name);  // "TERM", without "SIG"
  Rc send_exit_status(int status);
  Rc send_exit_signal(const std::string& signal, bool core_dumped, const std::string& message);

  // Data. read/poll never block; write takes at most what the peer's window allows and may take
  // nothing during a re-key (bytes == 0, no error): keep the rest and retry later.
  Io read(std::span<char> into, bool is_stderr = false);
  Io poll(bool is_stderr = false);
  Io write(std::string_view data);
  Io write_stderr(std::string_view data);
  // The peer's window (what write would take now); does not pump the session.
  std::uint32_t window() const;

  Rc send_eof();
  // Non-blocking close can return kAgain before CLOSE was queued: call again until not kAgain.
  Rc close();
  bool is_open() const;
  bool is_eof() const;     // the peer sent EOF
  bool is_closed() const;  // closed (either side) or never opened

  // Frees the channel: callbacks first, then ssh_channel_free (which sends CLOSE if needed).
  void reset();
  // The session is going away and frees its channels itself: drop the callbacks and forget it.
  void abandon();

 private:
  friend class Message;
  friend class ServerCallbacks;
  explicit Channel(ssh_channel raw) : raw_(raw) {}
  ssh_channel raw() const { return raw_; }

  ssh_channel raw_ = nullptr;
  std::unique_ptr<ChannelCallbacks> callbacks_;
};

}  // namespace sb::ssh
