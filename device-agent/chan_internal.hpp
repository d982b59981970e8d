// Internals of ChannelHost shared by the session (process) and direct-tcpip (forward) channels.
//
// Threading and lifetime: everything runs on the tunnel's reactor. Asio completion handlers hold
// a shared_ptr to their channel, and the channel holds the HostState; once the host is detached
// (tunnel closed, or ChannelHost destroyed) handlers return without touching libssh or Conn.
//
// libssh rules followed here (LIBSSH_NOTES.md): libssh callbacks only record state or answer
// synchronously; channels are closed and freed only from the host's service step (never inside a
// libssh callback; ssh::Channel removes the callbacks first); libssh used from a completion handler
// is followed by Conn::after_foreign_use() so packets consumed by hidden pumping are noticed.
#pragma once
#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ssh/channel.hpp"
#include "common/ssh/conn.hpp"
#include "device-agent/channel_host.hpp"
#include "device-agent/platform/process.hpp"

namespace sb::agent::detail {

class HostedChannel;

// State shared between the host and its channels; outlives both while handlers are pending.
struct HostState : std::enable_shared_from_this<HostState> {
  HostState(ssh::Conn& c, boost::asio::any_io_executor ex, ChannelPolicy p)
      : conn(c), executor(std::move(ex)), policy(std::move(p)) {}

  ssh::Conn& conn;  // only used while !detached
  boost::asio::any_io_executor executor;
  ChannelPolicy policy;
  bool detached = false;
  std::vector<std::shared_ptr<HostedChannel>> channels;
  std::optional<platform::ChildWatch> child_watch;

  std::size_t live_channels() const;
  // Starts watching for ended children (first process only: most tunnels never run one).
  void watch_children();
  // A child ended: each channel collects its own.
  void check_children();
  // After libssh was used outside the tunnel's own step (from a completion handler).
  void after_foreign_use() {
    if (!detached) conn.after_foreign_use();
  }
  void wake() {
    if (!detached) conn.wake();
  }
};

// One channel the relay opened toward us.
class HostedChannel : public std::enable_shared_from_this<HostedChannel> {
 public:
  HostedChannel(std::shared_ptr<HostState> host, ssh::Channel channel);
  virtual ~HostedChannel() = default;
  HostedChannel(const HostedChannel&) = delete;
  HostedChannel& operator=(const HostedChannel&) = delete;

  // Moves data and advances the state machine; never frees the channel.
  virtual void step() = 0;
  // A child ended somewhere: collect our child's status if it was ours.
  virtual void check_child() {}
  // Closes and frees the channel once it is finished or the relay closed it. Service step only.
  void sweep();
  // The tunnel is going away (its session is still alive): drop everything local, remove the
  // callbacks and forget the channel (libssh frees it with the session).
  void abandon();
  bool live() const { return static_cast<bool>(channel_); }
  bool done() const { return !channel_; }
  // For libssh's channel-open answer: the channel stays ours.
  ssh::Channel& channel() { return channel_; }

 protected:
  // Ends processes and sockets; called once, before the channel is closed.
  virtual void stop_local() = 0;
  // From completion handlers: run this channel's step, then let the tunnel notice what libssh
  // consumed meanwhile; a channel that wants closing gets a service step for its sweep.
  void kick();
  void want_close() { close_wanted_ = true; }
  bool closing() const { return close_wanted_ || remote_closed_; }
  bool active() const { return !host_->detached && channel_ && !closing(); }
  // Installs the subclass's request events together with the data/EOF/close events every
  // hosted channel needs.
  void install_callbacks(ssh::ChannelEvents events = {});

  std::shared_ptr<HostState> host_;
  ssh::Channel channel_;
  bool remote_eof_ = false;      // EOF callback seen (data may still be buffered)
  bool input_pending_ = true;    // data callback seen since the buffer was last found empty
  bool stderr_pending_ = false;  // extended data arrived (nothing reads it: it is dropped)

 private:
  void stop_local_once();
  bool output_pending() const;

  bool remote_closed_ = false;
  bool close_wanted_ = false;
  bool stopped_ = false;
};

// Source fd or socket -> channel, one chunk at a time: the next read starts only when the channel
// took all of the previous chunk, so at most kChunk bytes wait here (backpressure).
class OutPump {
 public:
  // libssh 0.10.6 puts at most remote_maxpacket - 10 bytes in one packet, and the relay (like
  // OpenSSH) announces 32768: a 32 KiB chunk would go out as a full packet plus a 10-byte one.
  // Four full packets per chunk: libssh sends the first at once and queues the others until
  // its next poll() sees the socket writable, so they leave in one send() (a quarter of the
  // syscalls of one packet per write).
  static constexpr std::size_t kChunk = 4 * (32768 - 10);
  explicit OutPump(bool is_stderr = false) : is_stderr_(is_stderr) {}

  // Writes what the peer's window allows; false on a channel error.
  bool flush(ssh::Channel& channel);
  bool wants_read() const { return !reading_ && !eof_ && drained(); }
  boost::asio::mutable_buffer start_read();
  // Completion of the read that start_read() began. EOF, a closed terminal and errors all end
  // the stream; operation_aborted does not.
  void on_read(const boost::system::error_code& ec, std::size_t n);
  // A synchronous read result (draining a pty after its process exited).
  void set_data(std::size_t n) { begin_ = 0, end_ = n; }
  void set_eof() { eof_ = true; }
  bool reading() const { return reading_; }
  bool drained() const { return begin_ == end_; }
  bool eof() const { return eof_; }
  bool finished() const { return eof_ && drained(); }
  bool failed() const { return failed_; }

 private:
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  bool is_stderr_;
  bool reading_ = false;
  bool eof_ = false;
  bool failed_ = false;
};

// Channel -> destination fd or socket: reads from libssh only what fits the bounded buffer and
// only once the previous chunk was written, so libssh's window stops growing (backpressure).
class InPump {
 public:
  static constexpr std::size_t kMax = 64 * 1024;
  enum class Fill { kNothing, kData, kEof, kError };

  bool wants_fill() const { return !writing_ && !eof_; }
  // Takes buffered channel data; *pending is cleared once the channel's buffer is empty.
  Fill fill(ssh::Channel& channel, bool* pending);
  boost::asio::const_buffer data() const { return boost::asio::buffer(buf_.data(), len_); }
  void start_write() { writing_ = true; }
  void on_written() { writing_ = false, len_ = 0; }
  bool writing() const { return writing_; }
  bool eof() const { return eof_; }

 private:
  std::vector<char> buf_;
  std::size_t len_ = 0;
  bool writing_ = false;
  bool eof_ = false;
};

// Reads and drops extended data the relay sends us (nothing consumes it; the window must move).
void discard_stderr(ssh::Channel& channel, bool* pending);

// --- channel factories ---

// A session channel just opened by the relay (callbacks installed).
std::shared_ptr<HostedChannel> make_session_channel(std::shared_ptr<HostState> host,
                                                    ssh::Channel channel);

struct ForwardTarget {
  std::string host;
  std::uint16_t port = 0;
  bool check_policy = false;  // resolved addresses must be in allow_proxy
};
// Decides where a direct-tcpip request may go; nullopt (and *why) if it may not.
std::optional<ForwardTarget> route_forward(const ChannelPolicy& policy, const std::string& host,
                                           int port, std::string* why);
// An accepted direct-tcpip channel; starts resolving and connecting.
std::shared_ptr<HostedChannel> make_forward_channel(std::shared_ptr<HostState> host,
                                                    ssh::Channel channel, ForwardTarget target);

}  // namespace sb::agent::detail
