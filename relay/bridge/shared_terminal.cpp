#include "relay/bridge/shared_terminal.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "relay/router/peer_conn.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kOutputChunk = 16 * 1024;
}

SharedTerminal::SharedTerminal(PeerConn& device_conn, Recorder* recorder, RecordingInfo recording)
    : device_conn_(device_conn),
      recorder_(recorder),
      recording_info_(std::move(recording)),
      input_pending_(kOutputChunk) {}

SharedTerminal::~SharedTerminal() {
  // Callbacks off, close, then free (dev_'s destructor): libssh keeps a locally freed channel
  // until the peer's CLOSE arrives.
  dev_.stop_listening();
  if (dev_) dev_.close();
}

SharedTerminal::MemberId SharedTerminal::join(std::unique_ptr<TerminalMember> member,
                                              bool read_write, int cols, int rows,
                                              const std::string& term,
                                              std::shared_ptr<MemberBytes> bytes) {
  if (members_.empty() && !dev_) term_ = term.empty() ? "xterm" : term;
  if (!bytes) bytes = std::make_shared<MemberBytes>();
  const MemberId id = next_member_id_++;
  OutBuffer pending(kMemberPendingCap);
  pending.append(recent_screen());
  members_.push_back(
      Member{id, std::move(member), read_write, cols, rows, std::move(pending), std::move(bytes)});
  if (!dev_) {
    dev_ = ssh::Channel::create(device_conn_.session());
    if (!dev_) {
      end_all("the relay could not open a channel to the device");
      return id;
    }
    dev_.listen({.exit_status = [this](int status) { exit_status_ = status; }});
  }
  pump();
  return id;
}

bool SharedTerminal::has(MemberId id) const {
  return std::any_of(members_.begin(), members_.end(),
                     [id](const Member& m) { return m.id == id; });
}

void SharedTerminal::leave(MemberId id) {
  std::erase_if(members_, [id](const Member& m) { return m.id == id; });
  if (members_.empty() && dev_ && state_ != State::kEnded) {
    // Nobody is watching: end the device's shell rather than leave it running unseen.
    dev_.close();
    state_ = State::kEnded;
    finished_ = true;
    recording_.reset();
  } else {
    apply_size();
  }
}

void SharedTerminal::resize(MemberId id, int cols, int rows) {
  for (auto& m : members_)
    if (m.id == id) m.cols = cols, m.rows = rows;
  apply_size();
}

std::optional<std::pair<int, int>> SharedTerminal::smallest_size() const {
  std::optional<std::pair<int, int>> size;
  for (const auto& m : members_) {
    if (!m.read_write) continue;  // observers do not size the terminal
    if (!size)
      size = {m.cols, m.rows};
    else
      size = {std::min(size->first, m.cols), std::min(size->second, m.rows)};
  }
  return size;
}

void SharedTerminal::apply_size() {
  if (state_ != State::kRunning) return;
  auto size = smallest_size();
  if (!size || size == size_sent_) return;
  dev_.change_window(size->first, size->second);
  size_sent_ = size;
  if (recording_) recording_->resize(size->first, size->second);
}

void SharedTerminal::step_setup() {
  ssh::Rc rc;
  switch (state_) {
    case State::kOpening:
      rc = dev_.open_session();
      if (rc == ssh::Rc::kAgain) return;
      if (rc != ssh::Rc::kOk) return end_all("the device refused the shared terminal");
      state_ = State::kPty;
      [[fallthrough]];
    case State::kPty: {
      auto [cols, rows] = smallest_size().value_or(std::pair{80, 24});
      rc = dev_.request_pty(term_, cols, rows);
      if (rc == ssh::Rc::kAgain) return;
      if (rc != ssh::Rc::kOk) return end_all("the device could not allocate a terminal");
      size_sent_ = {cols, rows};
      state_ = State::kShell;
      [[fallthrough]];
    }
    case State::kShell:
      rc = dev_.request_shell();
      if (rc == ssh::Rc::kAgain) return;
      if (rc != ssh::Rc::kOk) return end_all("the device refused to start a shell");
      state_ = State::kRunning;
      start_recording();
      apply_size();
      break;
    default:
      break;
  }
}

void SharedTerminal::start_recording() {
  if (!recorder_ || members_.empty()) return;
  RecordingInfo info = recording_info_;
  // A shared terminal outlives its members' attachments: it belongs to the session.
  info.operator_name = members_.front().sink->operator_name();
  info.fingerprint = members_.front().sink->fingerprint();
  info.shared = true;
  info.cols = size_sent_->first;
  info.rows = size_sent_->second;
  info.term = term_;
  recording_ = recorder_->start(std::move(info));
}

void SharedTerminal::flush_member(Member& m) {
  while (!m.pending.empty()) {
    std::size_t n = m.sink->write_output(m.pending.data());
    if (n == 0) return;
    m.bytes->add_out(n);
    m.pending.consume(n);
  }
}

void SharedTerminal::read_device_output() {
  // Everything read in this turn goes to each member in one write: one write (and one send)
  // per member per turn instead of one per chunk the device sent.
  std::size_t most_pending = 0;
  for (const auto& m : members_) most_pending = std::max(most_pending, m.pending.size());
  std::string batch;
  char buf[kOutputChunk];
  for (int i = 0; i < 8 && most_pending + batch.size() + kOutputChunk <= kMemberPendingCap; ++i) {
    ssh::Io got = dev_.read(buf);
    if (got.bytes == 0) break;
    batch.append(buf, got.bytes);
  }
  if (batch.empty()) return;
  replay_.append(batch);
  if (recording_) recording_->output(batch);
  for (auto& m : members_) {
    // Always fits: nothing was read unless every member had room for all of it.
    m.pending.append(batch);
    flush_member(m);
  }
}

void SharedTerminal::forward_input(Member& m) {
  char buf[kOutputChunk];
  for (int i = 0; i < 4; ++i) {
    if (!input_pending_.empty()) {
      input_pending_.consume(dev_.write(input_pending_.data()).bytes);
      if (!input_pending_.empty()) return;
    }
    std::size_t room = m.read_write ? std::min<std::size_t>(dev_.window(), sizeof buf) : sizeof buf;
    if (room == 0) return;
    int got = static_cast<int>(m.sink->read_input(buf, room));
    if (got <= 0) return;
    if (!m.read_write) continue;  // observers watch; their keystrokes go nowhere
    if (recording_) recording_->input({buf, static_cast<std::size_t>(got)});
    m.bytes->add_in(static_cast<std::uint64_t>(got));  // sent now or from input_pending_
    // What the device's window did not take waits (at most one chunk: nothing more is read
    // from any member until it is gone).
    std::size_t n = dev_.write({buf, static_cast<std::size_t>(got)}).bytes;
    input_pending_.append({buf + n, static_cast<std::size_t>(got) - n});
  }
}

void SharedTerminal::pump() {
  if (finished_ || !dev_) return;
  // A dead socket closes every channel: the terminal would end as if its shell had exited.
  // The device's close ends it instead (device_gone), telling the members why, and its screen
  // is kept when the session is held for a resume.
  if (device_conn_.session().socket_closed()) return;
  if (state_ != State::kRunning) step_setup();
  // Members whose operator closed this channel (but kept the connection) leave.
  std::erase_if(members_, [](const Member& m) { return m.sink->left(); });
  if (members_.empty() && state_ != State::kEnded) return leave(0);
  if (state_ == State::kRunning) {
    for (auto& m : members_) flush_member(m);
    read_device_output();
    for (auto& m : members_) forward_input(m);
    ssh::Io waiting = dev_.poll();
    bool drained = waiting.eof || waiting.error || waiting.bytes == 0;
    if (dev_.is_closed() && drained) {
      bool delivered = std::all_of(members_.begin(), members_.end(),
                                   [](const Member& m) { return m.pending.empty(); });
      if (delivered) end_all("");
    }
  }
  after_libssh_calls();
}

void SharedTerminal::end_all(const std::string& why) {
  const int status = exit_status_.value_or(why.empty() ? 0 : 1);
  for (auto& m : members_) {
    m.bytes->exit_status = status;
    m.sink->end(why, status);
  }
  members_.clear();
  state_ = State::kEnded;
  finished_ = true;
  recording_.reset();
}

void SharedTerminal::device_gone(const std::string& why) {
  dev_.abandon();  // freed with the device's session
  end_all("the device disconnected (" + why + ")");
}

void SharedTerminal::after_libssh_calls() {
  device_conn_.after_foreign_use();
  for (auto& m : members_) m.sink->after_io();
}

}  // namespace sb::relay
