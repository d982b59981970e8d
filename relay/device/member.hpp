// An operator attached to a device, as the device tunnel sees it (relay/operator's OperatorLink
// is the one implementation). The tunnel announces joins and leaves, asks the device's user for
// consent and passes the answer back, and lets its members go when the device goes or the
// administrator ends the session. Members live on the tunnel's reactor: no locking.
#pragma once
#include <cstdint>
#include <string>

#include "relay/router/operator_target.hpp"
#include "relay/router/peer_conn.hpp"

namespace sb::relay {

class DeviceMember {
 public:
  virtual PeerConn& conn() = 0;
  virtual const std::string& operator_name() const = 0;
  virtual AttachMode mode() const = 0;
  // The attachments row of this operator (0 until attached).
  virtual std::int64_t attachment_id() const = 0;
  // Runs in the tunnel's step: bytes may have arrived for the member's channels.
  virtual void service() = 0;
  virtual void device_gone(const std::string& why) = 0;
  virtual void consent_answer(const std::string& capability, bool allow,
                              const std::string& why) = 0;
  virtual void notice(const std::string& text) = 0;
  virtual void end_by_admin(const std::string& reason) = 0;

 protected:
  ~DeviceMember() = default;
};

}  // namespace sb::relay
