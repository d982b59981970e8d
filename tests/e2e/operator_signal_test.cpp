// Signal forwarding end to end. OpenSSH's ssh cannot send `signal` channel requests, so the
// operator here is a small blocking libssh client: it runs a command on an agent device,
// sends TERM, and must see the command end by that signal (exit-signal TERM, as the agent
// reports it and the relay passes it on).
#include <gtest/gtest.h>
#include <libssh/callbacks.h>

#include <optional>

#include "common/ssh/handles.hpp"
#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

struct ExitReport {
  std::optional<int> status;
  std::string signal;
};

void on_exit_status(ssh_session, ssh_channel, int status, void* userdata) {
  static_cast<ExitReport*>(userdata)->status = status;
}

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int, const char*, const char*,
                    void* userdata) {
  static_cast<ExitReport*>(userdata)->signal = signal ? signal : "";
}

// A blocking libssh session authenticated as the operator with user name `user`. The relay
// picks up a newly registered operator key within a moment, so refusals are retried briefly.
ssh::Session connect_operator(const Relay& relay, const OperatorKey& op, const std::string& user) {
  ssh_key raw_key = nullptr;
  if (ssh_pki_import_privkey_file(op.key.c_str(), nullptr, nullptr, nullptr, &raw_key) != SSH_OK)
    return nullptr;
  ssh::Key key(raw_key);
  ssh::Session session;
  bool ok = wait_until(
      [&] {
        session.reset(ssh_new());
        int port = relay.port();
        int no = 0;
        ssh_options_set(session.get(), SSH_OPTIONS_HOST, "127.0.0.1");
        ssh_options_set(session.get(), SSH_OPTIONS_PORT, &port);
        ssh_options_set(session.get(), SSH_OPTIONS_USER, user.c_str());
        long timeout_s = 5;
        ssh_options_set(session.get(), SSH_OPTIONS_PROCESS_CONFIG, &no);
        ssh_options_set(session.get(), SSH_OPTIONS_TIMEOUT, &timeout_s);
        if (ssh_connect(session.get()) != SSH_OK) return false;
        // The relay's host key is not checked: this test is about signals, pinning has its own.
        return ssh_userauth_publickey(session.get(), nullptr, key.get()) == SSH_AUTH_SUCCESS;
      },
      10s);
  return ok ? std::move(session) : nullptr;
}

// Reads stdout until text appears (true) or the channel ends / the timeout passes (false).
bool read_until(ssh_channel channel, const std::string& text, Millis timeout) {
  std::string got;
  char buf[256];
  return wait_until(
             [&] {
               int n = ssh_channel_read_timeout(channel, buf, sizeof buf, 0, 100);
               if (n > 0) got.append(buf, static_cast<std::size_t>(n));
               return got.find(text) != std::string::npos || n < 0 || ssh_channel_is_eof(channel);
             },
             timeout) &&
         got.find(text) != std::string::npos;
}

class OperatorSignal : public OperatorTest {};

TEST_F(OperatorSignal, TermReachesTheDeviceProcessAndItsExitSignalComesBack) {
  start_device({"alice"});

  auto session = connect_operator(relay(), op("alice"), id_);
  ASSERT_TRUE(session) << "the relay did not accept the operator key";
  ssh_channel channel = ssh_channel_new(session.get());
  ASSERT_NE(channel, nullptr);
  ExitReport report;
  ssh_channel_callbacks_struct callbacks{};
  callbacks.userdata = &report;
  callbacks.channel_exit_status_function = &on_exit_status;
  callbacks.channel_exit_signal_function = &on_exit_signal;
  ssh_callbacks_init(&callbacks);
  ssh_set_channel_callbacks(channel, &callbacks);
  ASSERT_EQ(ssh_channel_open_session(channel), SSH_OK) << ssh_get_error(session.get());
  ASSERT_EQ(ssh_channel_request_exec(channel, "echo started; exec sleep 30"), SSH_OK);
  // Once it printed, the command runs on the device (consent was given) and may be signalled.
  ASSERT_TRUE(read_until(channel, "started", 10s)) << agent().out() << agent().err();

  auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(ssh_channel_request_send_signal(channel, "TERM"), SSH_OK);
  // libssh stops reading once EOF is in: what follows it (exit-signal, close) is collected by
  // ssh_channel_get_exit_status, which waits for an exit status or the close (session timeout).
  char buf[256];
  wait_until(
      [&] {
        return ssh_channel_read_timeout(channel, buf, sizeof buf, 0, 100) < 0 ||
               ssh_channel_is_eof(channel);
      },
      5s);
  ssh_channel_get_exit_status(channel);
  bool ended = report.status || !report.signal.empty();
  auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_TRUE(ended) << "no exit report within 5 s of the signal; agent log:\n" << agent().err();
  EXPECT_EQ(report.signal, "TERM") << "exit status " << report.status.value_or(-1);
  EXPECT_FALSE(report.status) << "a killed process has no exit status";
  EXPECT_LT(took, 5s);
  ssh_remove_channel_callbacks(channel, &callbacks);
  ssh_channel_close(channel);
  ssh_channel_free(channel);
}

}  // namespace
}  // namespace sb::e2e
