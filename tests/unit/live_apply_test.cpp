// Unit tests of admin changes applied on a running relay: the control socket's `keys.reload`
// (answered once the relay's Context holds the keys the database holds), `device.disconnect`
// after a revocation (the key is refused before the reply), and the verbs' side,
// cli::apply_on_running_relay (applied / no relay / a relay that does not confirm).
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "relay/admin/cli.hpp"
#include "relay/daemon/control_commands.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::relay {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::at;

// A relay's control side without its network: the store, a Context fed by watch_keys as
// `relay serve` feeds it (the poll is an hour: only a reload can notice a change), and the
// control socket with the relay's command handler, served on a reactor thread.
class LiveApplyTest : public ::testing::Test {
 protected:
  LiveApplyTest() {
    store::Db::open(dir_.database(), true).reset();
    store_.emplace(dir_.database());
    ctx_.emplace(*store_, 1s, Limits{}, "SHA256:relay");
    store_->watch_keys([this](auto keys) { ctx_->set_keys(std::move(keys)); }, 1h);
    store_->flush();
  }
  ~LiveApplyTest() override {
    if (server_) {
      boost::asio::post(io_, [this] {
        server_->stop();
        io_.stop();
      });
    }
    work_.reset();
    if (thread_.joinable()) thread_.join();
    store_.reset();  // drained before the Context its key callback feeds goes
  }

  ControlServer::Handler handler() {
    return make_control_handler(
        {*ctx_, io_.get_executor(), [](std::function<void(int)> done) { done(0); }});
  }
  void serve(ControlServer::Handler handler) {
    server_ = std::make_unique<ControlServer>(io_, dir_.control_socket(), std::move(handler));
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  // One request straight to the handler, its reply waited for.
  json ask(const json& request) {
    auto reply = std::make_shared<std::promise<json>>();
    auto got = reply->get_future();
    handler()(request, [reply](json response) { reply->set_value(std::move(response)); });
    if (got.wait_for(10s) != std::future_status::ready) return {{"error", "no reply"}};
    return got.get();
  }
  // The admin CLI's own connection to the database.
  std::unique_ptr<store::Db> cli_db() { return store::Db::open(dir_.database(), false); }

  test::TempDir tmp_;
  DataDir dir_{tmp_.path()};
  std::optional<store::Store> store_;
  std::optional<Context> ctx_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
};

TEST_F(LiveApplyTest, KeysReloadAnswersOnceTheContextHoldsTheChange) {
  std::thread reactor([this] { io_.run(); });
  cli_db()->add_operator("alice", "ssh-ed25519 AAAAal", "SHA256:al", at(1));
  cli_db()->add_grant("alice", "web-01", at(2));
  EXPECT_EQ(ctx_->keys()->grants.count({"alice", "web-01"}), 0u);  // not polled yet

  auto reply = ask({{"cmd", "keys.reload"}, {"by", "admin"}});
  EXPECT_EQ(reply.value("ok", false), true) << reply;
  EXPECT_EQ(reply.value("keys_version", 0), ctx_->keys()->version);
  EXPECT_EQ(ctx_->keys()->operator_by_fingerprint.count("SHA256:al"), 1u);
  EXPECT_EQ(ctx_->keys()->grants.count({"alice", "web-01"}), 1u);

  cli_db()->remove_operator("alice", at(3));  // and, with it, the grant
  reply = ask({{"cmd", "keys.reload"}});      // "by" is optional: nothing is recorded
  EXPECT_EQ(reply.value("ok", false), true) << reply;
  EXPECT_EQ(ctx_->keys()->operator_by_fingerprint.count("SHA256:al"), 0u);
  EXPECT_EQ(ctx_->keys()->grants.count({"alice", "web-01"}), 0u);
  work_.reset();
  reactor.join();
}

TEST_F(LiveApplyTest, RevokedDeviceIsRefusedBeforeTheDisconnectAnswers) {
  std::thread reactor([this] { io_.run(); });
  store_->post([](store::Db& db) {
    db.create_enrollment("web-01", "h", at(0), at(3600000));
    db.redeem_enrollment("h", "SHA256:web", "ssh-ed25519 AAAAweb", at(1));
  });
  store_->flush();
  ASSERT_EQ(ctx_->keys()->device_by_fingerprint.count("SHA256:web"), 1u);

  ASSERT_TRUE(cli_db()->revoke_device("web-01", "admin", at(2)));
  auto reply = ask(
      {{"cmd", "device.disconnect"}, {"device", "web-01"}, {"reason", "revoked"}, {"by", "admin"}});
  EXPECT_EQ(reply.value("ok", false), true) << reply;
  EXPECT_EQ(reply.value("closed", true), false);  // no live tunnel here
  EXPECT_EQ(ctx_->keys()->revoked_by_fingerprint.count("SHA256:web"), 1u);
  EXPECT_EQ(ctx_->keys()->device_by_fingerprint.count("SHA256:web"), 0u);
  work_.reset();
  reactor.join();
}

TEST_F(LiveApplyTest, TheVerbsHelperWaitsForTheRunningRelay) {
  serve(handler());
  cli_db()->add_operator("bob", "ssh-ed25519 AAAAbo", "SHA256:bo", at(1));
  std::ostringstream err;
  EXPECT_TRUE(cli::apply_on_running_relay(dir_, err));
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(ctx_->keys()->operator_by_fingerprint.count("SHA256:bo"), 1u);
}

TEST_F(LiveApplyTest, WithoutARelayTheVerbsHelperSaysSoInOneLine) {
  std::ostringstream err;
  EXPECT_FALSE(cli::apply_on_running_relay(dir_, err));
  EXPECT_EQ(err.str(), "relay not running: the change applies when it starts\n");
}

TEST_F(LiveApplyTest, ARelayThatDoesNotConfirmIsAWarning) {
  std::mutex mu;
  bool stuck = false;
  std::vector<ControlServer::Reply> held;
  serve([&](const json&, ControlServer::Reply reply) {
    std::lock_guard lock(mu);
    if (stuck) return held.push_back(std::move(reply));  // answered only at the end
    // A relay older than the command.
    reply({{"ok", false}, {"error", "unknown command 'keys.reload'"}});
  });
  const std::string saved =
      "): it is saved, and the relay picks it up at its next check of the database (every "
      "0.5 s)\n";

  std::ostringstream refused;
  EXPECT_FALSE(cli::apply_on_running_relay(dir_, refused, 2s));
  EXPECT_EQ(refused.str(),
            "relay: warning: the running relay did not confirm the change (unknown command "
            "'keys.reload'" +
                saved);

  {
    std::lock_guard lock(mu);
    stuck = true;
  }
  std::ostringstream silent;
  EXPECT_FALSE(cli::apply_on_running_relay(dir_, silent, 300ms));
  EXPECT_EQ(silent.str(),
            "relay: warning: the running relay did not confirm the change (the relay did not "
            "answer in time" +
                saved);
  std::lock_guard lock(mu);
  for (auto& reply : held) reply({{"ok", true}});
}

}  // namespace
}  // namespace sb::relay
