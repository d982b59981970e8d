// What the control socket's requests do on the live relay. Every command is posted to the
// reactor that owns the connections it touches; the reply is sent when that work is done.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <functional>

#include "relay/control/control_server.hpp"
#include "relay/router/context.hpp"

namespace sb::relay {

struct ControlTargets {
  Context& ctx;
  // Where the control socket runs (what a command does after the store called it back).
  boost::asio::any_io_executor executor;
  // Runs the janitor's liveness check on every reactor now; done(tunnels_closed) is called
  // from any thread once every reactor has run it.
  std::function<void(std::function<void(int tunnels_closed)> done)> check_all_tunnels;
};

ControlServer::Handler make_control_handler(ControlTargets targets);

}  // namespace sb::relay
