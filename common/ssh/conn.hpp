// One non-blocking libssh session driven by one Asio reactor.
//
// libssh reads and writes the socket itself; Asio only tells us when the socket is ready. On
// readiness we pump libssh (ssh_event_dopoll with a zero timeout) and then run the subclass's
// service() step. Two libssh habits need care (LIBSSH_NOTES.md §1):
//  - hidden pumping: most libssh calls may consume packets, which then never show up as socket
//    readiness. We watch the session's packet counter and re-run the step when it moved.
//  - libssh closes the fd itself when the peer goes away. Asio shares that fd number, so the
//    descriptor is released as soon as libssh has closed it (never later, when the number may
//    already belong to a new connection).
//  - who closes the fd at the end: a server session's (ssh_bind_accept_fd) is libssh's from the
//    start, and ssh_free closes it unless libssh already has. A client's (SSH_OPTIONS_FD) is
//    libssh's from connect() on, but libssh 0.10 closes it only in its error paths, never in
//    ssh_disconnect: if it is still open at the end, we close it. Closing a number twice would
//    close whatever socket the number was given to in between, on any thread.
#pragma once
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/io/read_ahead.hpp"
#include "common/io/socket_watch.hpp"
#include "common/ssh/handles.hpp"
#include "common/ssh/server_callbacks.hpp"
#include "common/ssh/session.hpp"

namespace sb::ssh {

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  using Clock = std::chrono::steady_clock;

  Conn(boost::asio::any_io_executor executor, Session session);
  virtual ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  const boost::asio::any_io_executor& executor() const { return executor_; }
  // The session, for typed calls and for Channel::create; empty once the connection closed.
  SessionRef session() const { return SessionRef(session_.get()); }
  // Installs the session-level callbacks (replacing earlier ones). They are removed by
  // stop_listening() or, at the latest, just before the session is freed.
  void listen(ServerEvents events);
  void stop_listening() { server_callbacks_.reset(); }
  // Starts watching the session's socket. fd: the socket handed to libssh with SSH_OPTIONS_FD
  // (a client's libssh only adopts it in connect()); -1 = ask libssh (server side: libssh has
  // owned it since it was accepted).
  void start(int fd = -1);
  // Runs a step soon. Safe from any thread. Called on this connection's own reactor (after a
  // libssh call outside its step: a timer, another connection's step), it also releases at once
  // a socket libssh closed in that call, before the reactor can register another connection's
  // socket under the same number (a later release would deregister that one).
  void wake();
  // Ends the connection once; on_closed() runs with the reason. Call on the executor; inside a
  // step the teardown waits until the step returns.
  void close(std::string reason);
  // From any thread.
  void close_async(std::string reason);
  bool closing() const { return closing_; }
  // After code outside this connection's own step called into its session (bridges): notices
  // a closed socket at once and re-runs the step if packets were consumed.
  void after_foreign_use();
  // Moves this connection to another reactor (an operator joins its device's reactor, so a
  // bridge never crosses threads). Waits for this reactor's pending socket waits to finish,
  // then continues on the target, where `then` runs before the next step. Call on the
  // current executor.
  void move_to(boost::asio::any_io_executor target, std::function<void()> then);

  Clock::time_point last_inbound() const { return last_inbound_; }
  Clock::time_point created() const { return created_; }
  std::uint64_t packets_in() const { return counters_.in_packets; }
  std::uint64_t bytes_in() const { return counters_.in_bytes; }
  std::uint64_t bytes_out() const { return counters_.out_bytes; }

 protected:
  // The state machine. Called after each pump and on wake().
  virtual void service() = 0;
  // Once, before the session is freed: remove channel callbacks, record the end.
  virtual void on_closed(const std::string& reason) = 0;
  // Creates the per-session ssh_event; possible once libssh made its poll context (server:
  // after the first ssh_handle_key_exchange; client: after the first ssh_connect).
  bool attach_event();
  bool has_event() const { return event_ != nullptr; }
  // A client's ssh_connect (libssh adopts the socket given with SSH_OPTIONS_FD in its first
  // call, and may close it in the same call): use this, not session().connect(), so that the
  // socket is never closed a second time.
  Rc connect();

 private:
  void step();
  bool pump();
  void arm();
  bool socket_closed_by_libssh();
  void release_descriptor();
  void finish_close();
  void note_inbound();

  boost::asio::any_io_executor executor_;
  Session session_;
  std::unique_ptr<ServerCallbacks> server_callbacks_;  // removed before session_ is freed
  Event event_;
  void continue_move();
  std::unique_ptr<io::SocketWatch> socket_;
  // Runs a step on whatever reactor owns us when it runs (dropped during a move, which ends
  // with a step anyway).
  void post_step();
  std::atomic<bool> moving_{false};
  // The thread of the reactor that last ran a step (or started us): where wake() may release.
  std::atomic<std::thread::id> owner_{};
  std::atomic<unsigned> home_generation_{0};
  std::mutex executor_mu_;  // executor_ is read from other threads by post_step
  std::mutex close_request_mu_;
  std::string close_request_;  // set by close_async, taken by the next step
  std::atomic<bool> close_requested_{false};
  boost::asio::any_io_executor move_target_;
  std::function<void()> after_move_;
  int fd_ = -1;
  // The socket behind fd_ when we started (st_dev, st_ino): before we close fd_ ourselves, the
  // number must still be that socket.
  std::uint64_t fd_dev_ = 0, fd_ino_ = 0;
  bool fd_is_still_ours() const;
  bool client_fd_ = false;  // given with SSH_OPTIONS_FD (start(fd)): ssh_disconnect leaves it open
  // libssh's reads of fd_ come from here in 64 KiB batches (read_ahead.hpp); bytes held here
  // raise no socket readiness, so a step that leaves some behind pumps again.
  io::ReadAhead read_ahead_;
  bool libssh_adopted_fd_ = false;
  ssh_counter_struct counters_{};
  std::uint64_t packets_seen_ = 0;
  Clock::time_point created_;
  Clock::time_point last_inbound_;
  bool read_armed_ = false;
  bool write_armed_ = false;
  std::atomic<bool> wake_posted_{false};
  bool in_step_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::string close_reason_;
};

}  // namespace sb::ssh
